"""csms-sim through the local gateway, in front of the real handlers, Redis and MongoDB:
a few registered chargers saturate it for two seconds without a single error, and the
message log holds what they sent; a 2.0.1 fleet charges, and its transactions and message
log are stored; a simulated 2.0.1 station acts on commands sent through the tenant API."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from csms_local.sim import SimConfig, simulate
from csms_local.sim.verify import count_stored

from tests.e2e.conftest import PASSWORD, Fleet, GatewayThread, Scheme, api_for

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


async def test_a_simulated_2_0_1_station_obeys_the_tenant_api(
    gateway: GatewayThread, fleet: Fleet
) -> None:
    """RequestStartTransaction and RequestStopTransaction make a stored transaction with
    the remoteStartId; a password push is taken (SetVariables BasicAuthPassword) and the
    Reset that follows brings the station back with the new password."""
    config = SimConfig(
        url=gateway.url("").rstrip("/"), ocpp="2.0.1", prefix=f"SIM{fleet.suffix}cmd",
        chargers=1, password=PASSWORD, profile="fleet", charging_share=0, duration=60,
        progress=False,
    )
    [cp_id] = config.charger_ids()
    fleet.admin.add_charge_point(fleet.tenant_id, cp_id, PASSWORD)
    admin = api_for(gateway, fleet.tenant_id, "admin")

    async def post(path: str, body: dict[str, Any] | None = None) -> Any:
        return await asyncio.to_thread(admin.post, path, body, wait=10)

    async def command(action: str, payload: dict[str, Any]) -> Any:
        reply = await post(f"/v1/charge-points/{cp_id}/commands/{action}", payload)
        assert reply.status == 200 and reply.json["status"] == "completed", reply.text
        return reply.json["response"]

    async def until(condition: Any) -> None:
        async with asyncio.timeout(15):
            while not await asyncio.to_thread(condition):
                await asyncio.sleep(0.1)

    def booted_once_more(count: int) -> Any:
        return lambda: fleet.db["ocpp_messages"].count_documents(
            {"charge_point_id": cp_id, "action": "BootNotification", "direction": "in"}) > count

    def transaction() -> dict[str, Any] | None:
        return fleet.db["transactions"].find_one({"charge_point_id": cp_id})

    stop = asyncio.Event()
    run = asyncio.create_task(simulate(config, stop=stop))
    try:
        await until(booted_once_more(0))
        answer = await command("RequestStartTransaction", {
            "idToken": {"idToken": "ACCEPTED", "type": "Central"}, "remoteStartId": 41,
            "evseId": 1})
        assert answer == {"status": "Accepted"}
        await until(lambda: transaction() is not None)
        started = transaction()
        assert started is not None and started["remote_start_id"] == 41
        answer = await command("RequestStopTransaction",
                               {"transactionId": started["transaction_id"]})
        assert answer == {"status": "Accepted"}
        await until(lambda: (transaction() or {}).get("status") == "Completed")
        assert (transaction() or {})["stop_reason"] == "Remote"
        pushed = await post(f"/v1/charge-points/{cp_id}/password/push")
        assert pushed.json["outcome"] == "accepted", pushed.text
        assert await command("Reset", {"type": "Immediate"}) == {"status": "Accepted"}
        await until(booted_once_more(1))  # back, logged in with the pushed password
    finally:
        stop.set()
    summary = await asyncio.wait_for(run, 30)
    assert summary.error_count == 0, summary.errors
    assert summary.reconnects == 1 and summary.connected_at_end == 1
    assert summary.transactions == {"started": 1, "stopped": 1}
