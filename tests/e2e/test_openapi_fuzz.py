"""Property-based run of the served OpenAPI document (schemathesis) against the local
API: whatever it generates, valid or not, the API answers without a 5xx."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from .conftest import PASSWORD, api_for

pytestmark = pytest.mark.e2e

EXAMPLES_PER_OPERATION = int(os.environ.get("FUZZ_EXAMPLES", "15"))


def schemathesis(gateway, token: str, tmp_path: Path, *filters: str) -> subprocess.CompletedProcess:
    executable = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert executable, "schemathesis is a dev dependency (requirements-dev.txt)"
    return subprocess.run(
        [
            executable, "run", f"{gateway.http_url}/v1/openapi.json",
            "--url", gateway.http_url,
            "--header", f"Authorization: Bearer {token}",
            "--checks", "not_a_server_error",
            "--phases", "examples,coverage,fuzzing",
            "--max-examples", str(EXAMPLES_PER_OPERATION),
            "--seed", "20261122",
            "--workers", "1",
            "--request-timeout", "30",
            "--generation-database", "none",
            "--no-color",
            *filters,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,  # its report directory lands in the test's scratch space
    )


@pytest.fixture
def tenant_with_data(gateway, fleet):
    tenant_id = f"f{uuid.uuid4().hex[:10]}"
    fleet.admin.create_tenant(tenant_id, "fuzzed")
    fleet.admin.add_charge_point(tenant_id, f"FUZZ-{tenant_id}", PASSWORD)
    fleet.admin.add_id_tag(tenant_id, "FUZZ-TAG", "Accepted", None, None)
    # A rate limit the run cannot reach: this run is about errors, not throttling.
    fleet.admin.directory.update_tenant(tenant_id, {"api_rate_limit": 100_000})
    return tenant_id


def test_no_generated_request_makes_a_tenant_route_fail(gateway, tenant_with_data, tmp_path):
    token = api_for(gateway, tenant_with_data, "admin").token

    run = schemathesis(gateway, token, tmp_path, "--exclude-tag", "tenants")

    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]


def test_no_generated_request_makes_a_tenant_management_route_fail(gateway, tmp_path):
    token = api_for(gateway, None, "platform-admin").token

    run = schemathesis(gateway, token, tmp_path, "--include-tag", "tenants")

    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
