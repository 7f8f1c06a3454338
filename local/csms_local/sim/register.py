"""--register: the simulated chargers exist in the CSMS before they connect, through the
tenant API (POST /v1/charge-points; 409, registered already, is fine) or straight into
MongoDB with csms-admin's Admin (one scrypt hash per distinct password, not per charger)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from csms_local.sim.config import SimConfigError

API_THREADS = 8


def via_api(
    api_url: str, token: str, ids: list[str], password_of: Callable[[str], str | None]
) -> dict[str, int]:
    """Registers each charger through the tenant API; counts answers by outcome."""
    url = f"{api_url.rstrip('/')}/charge-points"

    def register(cp_id: str) -> str:
        body = {"charge_point_id": cp_id, "password": password_of(cp_id)}
        request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
        request.add_header("Content-Type", "application/json")
        request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return "created" if response.status == 201 else f"HTTP {response.status}"
        except urllib.error.HTTPError as error:
            return "existing" if error.code == 409 else f"HTTP {error.code}"
        except OSError as error:
            return f"failed: {error}"

    with ThreadPoolExecutor(API_THREADS) as pool:
        outcomes = Counter(pool.map(register, ids))
    failures = {k: v for k, v in outcomes.items() if k not in ("created", "existing")}
    if failures:
        raise SimConfigError(f"registering through {url} failed: {failures}")
    return dict(outcomes)


def via_mongodb(
    mongodb_uri: str, tenant_id: str, ids: list[str], password_of: Callable[[str], str | None]
) -> dict[str, int]:
    """Registers each charger in the tenant (or sets its password when it is the tenant's
    already); a charger of another tenant is an error."""
    from csms.domain.credentials import WeakPassword, hash_password
    from csms.domain.model import RegisteredChargePoint

    from csms_local.admin import Admin

    admin = Admin(mongodb_uri)
    if admin.directory.get_tenant(tenant_id) is None:
        raise SimConfigError(f"no tenant {tenant_id!r} in {mongodb_uri}")
    hashes: dict[str, str] = {}
    outcomes: Counter[str] = Counter()
    for cp_id in ids:
        password = password_of(cp_id)
        if password is None:
            raise SimConfigError(f"no password for {cp_id}: give --password or --passwords")
        if password not in hashes:
            try:
                hashes[password] = hash_password(password)
            except WeakPassword as exc:
                raise SimConfigError(str(exc)) from None
        existing = admin.directory.get_charge_point(cp_id)
        if existing is None:
            admin.directory.add_charge_point(
                RegisteredChargePoint(cp_id, tenant_id, hashes[password])
            )
            outcomes["created"] += 1
        elif existing.tenant_id == tenant_id:
            admin.directory.set_charge_point_password(cp_id, hashes[password])
            if not existing.enabled:
                admin.directory.set_charge_point_enabled(cp_id, True)
            outcomes["existing"] += 1
        else:
            raise SimConfigError(f"{cp_id} belongs to another tenant")
    return dict(outcomes)
