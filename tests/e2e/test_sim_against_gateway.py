"""csms-sim through the local gateway, in front of the real handlers, Redis and MongoDB:
a few registered chargers saturate it for two seconds without a single error, and the
message log holds what they sent."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from csms_local.sim import SimConfig, simulate
from csms_local.sim.verify import count_stored

from tests.e2e.conftest import PASSWORD, Fleet, GatewayThread, Scheme

pytestmark = pytest.mark.e2e


async def test_saturate_through_the_gateway(
    gateway: GatewayThread, fleet: Fleet, scheme: Scheme, mongodb_uri: str
) -> None:
    config = SimConfig(
        url=gateway.url("", scheme).rstrip("/"),
        ca_file=gateway.ca_file if scheme == "wss" else None,
        prefix=f"SIM{fleet.suffix}{scheme}",
        chargers=3,
        password=PASSWORD,
        duration=2,
        progress=False,
    )
    for cp_id in config.charger_ids():
        fleet.admin.add_charge_point(fleet.tenant_id, cp_id, PASSWORD)
    since = datetime.now(UTC)
    summary = await simulate(config)
    assert summary.error_count == 0, summary.errors
    assert summary.msgs > 0 and summary.connects == 3 and summary.connected_at_end == 3
    assert summary.by_action["BootNotification"] == 3
    stored = count_stored(
        mongodb_uri, fleet.tenant_id, config.charger_ids(), since, datetime.now(UTC), summary, 10
    )
    assert stored["complete"], stored
