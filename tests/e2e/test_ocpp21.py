"""OCPP 2.1 chargers end to end: the `ocpp` package's v21 client through the local
gateway to the real handlers, MongoDB and Redis behind them; commands through the tenant
API in 2.1. Skipped until bootstrap.versions() registers the 2.1 plug-in."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from csms import bootstrap
from csms_local.sim import SimConfig, simulate
from csms_local.sim.verify import count_stored
from ocpp.routing import after, on
from ocpp.v21 import ChargePoint, call, call_result

from .conftest import PASSWORD, api_for, connected

V21 = "ocpp2.1"

pytestmark = pytest.mark.e2e

STATION = {"model": "Wallbox 3", "vendor_name": "Acme"}
TOKEN = {"id_token": "ACCEPTED", "type": "Central"}
EVSE = {"id": 1, "connector_id": 1}
TARIFF = {"tariff_id": "T-1", "currency": "EUR", "energy": {"prices": [{"price_kwh": 0.3}]}}


def at(seconds: float = 0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def energy(wh: float, seconds: float = 0) -> list[dict]:
    return [{"timestamp": at(seconds), "sampled_value": [
        {"value": wh, "measurand": "Energy.Active.Import.Register"}]}]


class Station21(ChargePoint):
    """A 2.1 charging station answering the CSMS's commands; a RequestStartTransaction
    leads to a TransactionEvent Started carrying its remoteStartId."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tariffs: list[dict] = []
        self.started: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    @on("SetDefaultTariff")
    def on_set_default_tariff(self, evse_id: int, tariff: dict, **_: Any):
        self.tariffs.append({"evse_id": evse_id, "tariff": tariff})
        return call_result.SetDefaultTariff(status="Accepted")

    @on("GetTariffs")
    def on_get_tariffs(self, evse_id: int, **_: Any):
        return call_result.GetTariffs(status="NoTariff")

    @on("GetVariables")
    def on_get_variables(self, get_variable_data: list, **_: Any):
        return call_result.GetVariables(get_variable_result=[
            {"attribute_status": "Accepted", "attribute_value": "300",
             "component": item["component"], "variable": item["variable"]}
            for item in get_variable_data])

    @on("RequestStartTransaction")
    def on_request_start(self, id_token: dict, remote_start_id: int, **_: Any):
        return call_result.RequestStartTransaction(status="Accepted")

    @after("RequestStartTransaction")
    async def send_started(self, id_token: dict, remote_start_id: int, **_: Any) -> None:
        answer = await self.call(call.TransactionEvent(
            event_type="Started", seq_no=0, timestamp=at(), trigger_reason="RemoteStart",
            transaction_info={"transaction_id": f"R-{uuid.uuid4().hex[:12]}",
                              "remote_start_id": remote_start_id},
            id_token=id_token, evse=EVSE, meter_value=energy(0)))
        self.started.set_result(answer)


async def test_a_2_1_charger_boots_charges_and_is_stored(gateway, fleet):
    cp_id = fleet.add_charge_point("V21-TX")
    tx = str(uuid.uuid4())
    async with connected(gateway, cp_id, subprotocols=(V21,), client=ChargePoint) as (cp, ws):
        assert ws.subprotocol == V21
        boot = await cp.call(call.BootNotification(charging_station=STATION, reason="PowerUp"))
        assert (boot.status, boot.interval) == ("Accepted", 300)
        assert (await cp.call(call.Heartbeat())).current_time
        await cp.call(call.StatusNotification(timestamp=at(), connector_status="Occupied",
                                              evse_id=1, connector_id=1))
        started = await cp.call(call.TransactionEvent(
            event_type="Started", seq_no=0, timestamp=at(), trigger_reason="Authorized",
            transaction_info={"transaction_id": tx, "charging_state": "Charging"},
            id_token=TOKEN, evse=EVSE, meter_value=energy(1000)))
        assert started.id_token_info["status"] == "Accepted"
        await cp.call(call.TransactionEvent(
            event_type="Updated", seq_no=1, timestamp=at(10), trigger_reason="MeterValuePeriodic",
            transaction_info={"transaction_id": tx, "charging_state": "Charging"},
            meter_value=energy(1800, 10)))
        await cp.call(call.MeterValues(evse_id=1, meter_value=energy(1900, 15)))
        await cp.call(call.TransactionEvent(
            event_type="Ended", seq_no=2, timestamp=at(20), trigger_reason="EVDeparted",
            transaction_info={"transaction_id": tx, "stopped_reason": "EVDisconnected"},
            meter_value=energy(2500, 20)))
    api = api_for(gateway, fleet.tenant_id, "admin")
    assert api.get(f"/v1/charge-points/{cp_id}").json["ocpp_version"] == V21
    view = api.get(f"/v1/transactions/{tx}").json
    assert (view["status"], view["stop_reason"]) == ("Completed", "EVDisconnected")
    assert (view["meter_start"], view["meter_stop"], view["energy_wh"]) == (1000, 2500, 1500)
    assert view["ocpp_version"] == V21
    logged = fleet.db["ocpp_messages"].count_documents(
        {"charge_point_id": cp_id, "direction": "in", "message_type": "Call"})
    assert logged == 7


async def test_messages_new_in_2_1_are_answered_and_kept(gateway, fleet):
    cp_id = fleet.add_charge_point("V21-NEW")
    async with connected(gateway, cp_id, subprotocols=(V21,), client=ChargePoint) as (cp, _):
        await cp.call(call.BootNotification(charging_station=STATION, reason="PowerUp"))
        vat = await cp.call(call.VatNumberValidation(vat_number="NL0001", evse_id=1))
        assert (vat.status, vat.vat_number, vat.evse_id) == ("Rejected", "NL0001", 1)
        assert vat.status_info["reason_code"] == "NoEndpoint"
        await cp.call(call.NotifySettlement(psp_ref="psp-1", settlement_amount=12.5,
                                            settlement_time=at(), status="Settled"))
        stream = await cp.call(call.OpenPeriodicEventStream(constant_stream_data={
            "id": 1, "variable_monitoring_id": 2, "params": {"interval": 10}}))
        assert stream.status == "Accepted"
    kinds = {n["kind"] for n in fleet.db["notifications"].find({"charge_point_id": cp_id})}
    assert {"vat_number_validation", "settlement", "periodic_event_stream_request"} <= kinds


async def test_commands_reach_a_2_1_charger_in_2_1(gateway, fleet):
    cp_id = fleet.add_charge_point("V21-CMD")
    old = fleet.add_charge_point("V201-CMD")
    operator = api_for(gateway, fleet.tenant_id, "operator")

    async def command(cp: str, action: str, payload: dict) -> Any:
        return await asyncio.to_thread(
            operator.post, f"/v1/charge-points/{cp}/commands/{action}", payload, wait=10)

    async with (
        connected(gateway, cp_id, subprotocols=(V21,), client=Station21) as (cs, _),
        connected(gateway, old, subprotocols=("ocpp2.0.1",), client=ChargePoint) as (cs201, _),
    ):
        assert isinstance(cs, Station21)
        await cs.call(call.BootNotification(charging_station=STATION, reason="PowerUp"))
        await cs201.call(call.BootNotification(charging_station=STATION, reason="PowerUp"))
        tariff = {"evseId": 0, "tariff": {"tariffId": "T-1", "currency": "EUR",
                                          "energy": {"prices": [{"priceKwh": 0.3}]}}}
        sent = await command(cp_id, "SetDefaultTariff", tariff)
        assert sent.status == 200, sent.text
        assert (sent.json["status"], sent.json["response"]) == ("completed", {"status": "Accepted"})
        assert cs.tariffs == [{"evse_id": 0, "tariff": TARIFF}]
        refused = await command(cp_id, "GetTariffs", {"evseId": 0})
        assert refused.json["status"] == "rejected"
        # A 2.1 request that breaks the 2.1 schema never leaves.
        invalid = await command(cp_id, "SetDefaultTariff", {"evseId": 0})
        assert 400 <= invalid.status < 500, invalid.text
        # A command 2.0.1 has not is refused for a 2.0.1 charger.
        unknown = await command(old, "SetDefaultTariff", tariff)
        assert 400 <= unknown.status < 500, unknown.text
        # Kept commands go out in 2.1 as well.
        got = await command(cp_id, "GetVariables", {"getVariableData": [
            {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}]})
        assert got.json["status"] == "completed", got.text
        start = await command(cp_id, "RequestStartTransaction",
                              {"idToken": {"idToken": "ACCEPTED", "type": "Central"},
                               "remoteStartId": 77, "evseId": 1})
        assert start.json["status"] == "completed", start.text
        answer = await asyncio.wait_for(cs.started, 10)
        assert answer.id_token_info["status"] == "Accepted"
    state = fleet.db["charge_points"].find_one({"_id": cp_id})
    assert state is not None
    transactions = api_for(gateway, fleet.tenant_id, "admin").get(
        "/v1/transactions", charge_point_id=cp_id).json["items"]
    assert [t["transaction_id"][:2] for t in transactions] == ["R-"]


@pytest.mark.parametrize(("offered", "chosen"), [
    (("ocpp2.1", "ocpp2.0.1", "ocpp1.6"), "ocpp2.1"),
    (("ocpp2.0.1", "ocpp2.1"), "ocpp2.0.1"),
    (("ocpp1.6", "ocpp2.1"), "ocpp1.6"),
    (("ocpp2.2", "ocpp2.1"), "ocpp2.1"),
])
async def test_a_charger_offering_several_gets_its_first_preference(
    gateway, fleet, offered, chosen
):
    cp_id = fleet.add_charge_point(f"V21-PREF-{'-'.join(offered)}")
    async with connected(gateway, cp_id, subprotocols=offered) as (_, ws):
        assert ws.subprotocol == chosen


async def test_a_csms_sim_fleet_speaking_2_1(gateway, fleet, mongodb_uri):
    config = SimConfig(
        url=gateway.url("").rstrip("/"), ocpp="2.1", prefix=f"SIM{fleet.suffix}v21",
        chargers=2, password=PASSWORD, profile="fleet", charging_share=1.0,
        heartbeat_interval=0.5, meter_interval=0.3, session_seconds=1.0, id_tag="ACCEPTED",
        duration=60, progress=False,
    )
    for cp_id in config.charger_ids():
        fleet.admin.add_charge_point(fleet.tenant_id, cp_id, PASSWORD)
    first = config.charger_ids()[0]
    operator = api_for(gateway, fleet.tenant_id, "operator")

    async def command(action: str, payload: dict) -> Any:
        reply = await asyncio.to_thread(
            operator.post, f"/v1/charge-points/{first}/commands/{action}", payload, wait=10)
        assert reply.status == 200, reply.text
        return reply.json

    def booted() -> int:
        return fleet.db["ocpp_messages"].count_documents(
            {"charge_point_id": {"$in": config.charger_ids()}, "direction": "in",
             "action": "BootNotification"})

    since = datetime.now(UTC)
    stop = asyncio.Event()
    run = asyncio.create_task(simulate(config, stop=stop))
    try:
        async with asyncio.timeout(15):
            while await asyncio.to_thread(booted) < 2:
                await asyncio.sleep(0.1)
        tariff = {"evseId": 0, "tariff": {"tariffId": "T-SIM", "currency": "EUR",
                                          "energy": {"prices": [{"priceKwh": 0.25}]}}}
        assert (await command("SetDefaultTariff", tariff))["status"] == "completed"
        listed = await command("GetTariffs", {"evseId": 1})
        assert listed["response"]["tariffAssignments"][0]["tariffId"] == "T-SIM"
        await asyncio.sleep(2)  # a session or two
    finally:
        stop.set()
    summary = await asyncio.wait_for(run, 30)
    assert summary.error_count == 0, summary.errors
    assert summary.commands_answered == 2
    assert summary.connects == 2 and summary.transactions["started"] >= 2
    stored = count_stored(mongodb_uri, fleet.tenant_id, config.charger_ids(), since,
                          datetime.now(UTC), summary, 10)
    assert stored["complete"], stored


def test_the_csms_lists_2_1_after_1_6_and_2_0_1():
    assert list(bootstrap.versions()) == ["ocpp1.6", "ocpp2.0.1", "ocpp2.1"]
