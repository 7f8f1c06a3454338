"""csms-sim through the local gateway, in front of the real handlers, Redis and MongoDB:
a few registered chargers saturate it for two seconds without a single error, and the
message log holds what they sent; a 2.0.1 fleet charges, and its transactions and message
log are stored."""

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


async def test_a_2_0_1_fleet_through_the_gateway(
    gateway: GatewayThread, fleet: Fleet, mongodb_uri: str
) -> None:
    config = SimConfig(
        url=gateway.url("").rstrip("/"),
        ocpp="2.0.1",
        prefix=f"SIM{fleet.suffix}v201",
        chargers=3,
        password=PASSWORD,
        profile="fleet",
        charging_share=1.0,
        heartbeat_interval=0.5,
        meter_interval=0.3,
        session_seconds=1.0,
        id_tag="ACCEPTED",
        duration=3,
        progress=False,
    )
    for cp_id in config.charger_ids():
        fleet.admin.add_charge_point(fleet.tenant_id, cp_id, PASSWORD)
    since = datetime.now(UTC)
    summary = await simulate(config)
    assert summary.error_count == 0, summary.errors
    assert summary.connects == 3 and summary.connected_at_end == 3
    assert summary.by_action["BootNotification"] == 3
    assert summary.by_action["TransactionEvent"] > 0 and summary.by_action["MeterValues"] > 0
    started = summary.transactions["started"]
    assert started >= 3 and summary.transactions["stopped"] == started
    stored = count_stored(
        mongodb_uri, fleet.tenant_id, config.charger_ids(), since, datetime.now(UTC), summary, 10
    )
    assert stored["complete"], stored
    transactions = list(fleet.db["transactions"].find(
        {"charge_point_id": {"$in": config.charger_ids()}}))
    assert len(transactions) == started
    assert {t["status"] for t in transactions} == {"Completed"}
    assert {t["ocpp_version"] for t in transactions} == {"ocpp2.0.1"}
