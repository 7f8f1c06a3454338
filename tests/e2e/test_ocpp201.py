"""OCPP 2.0.1 chargers end to end: the `ocpp` package's v201 client through the local
gateway to the real handlers, MongoDB and Redis behind them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import websockets
from ocpp.exceptions import SecurityError
from ocpp.v201 import ChargePoint, call

from tests.message_log import logged

from .conftest import PASSWORD, api_for, basic_auth, connected

pytestmark = pytest.mark.e2e

V201 = ("ocpp2.0.1",)
STATION = {"model": "Wallbox 2", "vendor_name": "Acme"}


def at(seconds: float = 0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def energy(wh: float, seconds: float = 0) -> list[dict]:
    return [{"timestamp": at(seconds), "sampled_value": [
        {"value": wh, "measurand": "Energy.Active.Import.Register"}]}]


def event(
    event_type: str, seq_no: int, tx: str, seconds: float = 0, **extra
) -> call.TransactionEvent:
    info = {"transaction_id": tx} | extra.pop("info", {})
    return call.TransactionEvent(event_type=event_type, timestamp=at(seconds),
                                 trigger_reason=extra.pop("trigger_reason", "Authorized"),
                                 seq_no=seq_no, transaction_info=info, **extra)


@contextlib.asynccontextmanager
async def raw201(gateway, cp_id: str) -> AsyncIterator[websockets.ClientConnection]:
    async with websockets.connect(
        gateway.url(cp_id), subprotocols=["ocpp2.0.1"],  # type: ignore[list-item]
        additional_headers=basic_auth(cp_id, PASSWORD),
    ) as ws:
        yield ws


async def exchange(ws, frame: str) -> list:
    await ws.send(frame)
    return json.loads(await asyncio.wait_for(ws.recv(), 10))


async def test_boot_pending_then_accepted_as_the_operator_decides(gateway, fleet):
    cp_id = fleet.add_charge_point("V201-BOOT")
    api = api_for(gateway, fleet.tenant_id, "admin")
    patched = api.patch(f"/v1/charge-points/{cp_id}", {"registration_status": "Pending"})
    assert patched.status == 200, patched.text
    assert patched.json["registration_status"] == "Pending"
    async with connected(gateway, cp_id, subprotocols=V201, client=ChargePoint) as (cp, ws):
        assert ws.subprotocol == "ocpp2.0.1"
        pending = await cp.call(call.BootNotification(charging_station=STATION,
                                                      reason="PowerUp"))
        assert (pending.status, pending.interval) == ("Pending", 60)
        # B02: while Pending, other requests get SecurityError.
        with pytest.raises(SecurityError):
            await cp.call(call.Heartbeat(), suppress=False)
        api.patch(f"/v1/charge-points/{cp_id}", {"registration_status": "Accepted"})
        accepted = await cp.call(call.BootNotification(charging_station=STATION,
                                                       reason="PowerUp"))
        assert (accepted.status, accepted.interval) == ("Accepted", 300)
        assert (await cp.call(call.Heartbeat())).current_time
    view = api.get(f"/v1/charge-points/{cp_id}").json
    assert (view["ocpp_version"], view["registration_status"]) == ("ocpp2.0.1", "Accepted")
    errors = logged(fleet.db["ocpp_messages"],
                    {"charge_point_id": cp_id, "direction": "out", "message_type": "CallError",
                     "payload.errorCode": "SecurityError"})
    assert len(errors) == 1


async def test_a_device_model_report_in_two_parts_is_stored(gateway, fleet):
    cp_id = fleet.add_charge_point("V201-REPORT")

    def part(seq_no: int, variable: str, value: str, tbc: bool) -> call.NotifyReport:
        return call.NotifyReport(request_id=3, generated_at=at(), seq_no=seq_no, tbc=tbc,
                                 report_data=[{"component": {"name": "OCPPCommCtrlr"},
                                               "variable": {"name": variable},
                                               "variable_attribute": [{"value": value}]}])
    async with connected(gateway, cp_id, subprotocols=V201, client=ChargePoint) as (cp, _):
        await cp.call(part(0, "HeartbeatInterval", "300", True))
        await cp.call(part(1, "MessageTimeout", "30", False))
    stored = {d["key"]["variable"]: d["value"]
              for d in fleet.db["device_model"].find({"charge_point_id": cp_id})}
    assert stored == {"HeartbeatInterval": "300", "MessageTimeout": "30"}


async def test_authorization_with_a_group_and_a_master_pass(gateway, fleet):
    cp_id = fleet.add_charge_point("V201-AUTH")
    admin = api_for(gateway, fleet.tenant_id, "admin")
    tag = f"RFID-{fleet.suffix}-0123456789abcdef"  # 2.0.1 tokens may be 36 characters
    created = admin.post("/v1/id-tags", {"id_tag": tag, "id_token_type": "ISO14443",
                                         "group_id_token": "FAMILY"})
    assert created.status == 201, created.text
    assert (created.json["id_token_type"], created.json["group_id_token"]) == (
        "ISO14443", "FAMILY")
    master = f"MASTER-{fleet.suffix}"
    admin.post("/v1/id-tags", {"id_tag": master, "id_token_type": "Central",
                                "group_id_token": "MASTERS"})
    fleet.admin.directory.update_tenant(fleet.tenant_id, {"master_pass_group_id": "MASTERS"})
    async with connected(gateway, cp_id, subprotocols=V201, client=ChargePoint) as (cp, _):
        ok = await cp.call(call.Authorize(id_token={"id_token": tag, "type": "ISO14443"}))
        assert ok.id_token_info["status"] == "Accepted"
        assert ok.id_token_info["group_id_token"] == {"id_token": "FAMILY", "type": "Central"}
        unknown = await cp.call(call.Authorize(id_token={"id_token": "NOBODY", "type": "Local"}))
        assert unknown.id_token_info["status"] == "Invalid"
        master_token = {"id_token": master, "type": "Central"}
        refused = await cp.call(event("Started", 0, "TX-MASTER", id_token=master_token,
                                      evse={"id": 1, "connector_id": 1}))
        assert refused.id_token_info["status"] == "Invalid"  # C16: never starts one
        await cp.call(event("Started", 0, "TX-FAMILY", evse={"id": 2, "connector_id": 1},
                            id_token={"id_token": tag, "type": "ISO14443"}))
        stopped = await cp.call(event("Ended", 1, "TX-FAMILY", seconds=5, id_token=master_token,
                                      info={"stopped_reason": "MasterPass"}))
        assert stopped.id_token_info["status"] == "Accepted"  # ... but stops any


async def test_a_full_transaction_session_retried_and_out_of_order(gateway, fleet):
    cp_id = fleet.add_charge_point("V201-TX")
    tx = str(uuid.uuid4())
    evse = {"id": 1, "connector_id": 1}
    token = {"id_token": "ACCEPTED", "type": "Central"}
    async with connected(gateway, cp_id, subprotocols=V201, client=ChargePoint) as (cp, ws):
        await cp.call(call.BootNotification(charging_station=STATION, reason="PowerUp"))
        await cp.call(call.StatusNotification(timestamp=at(), connector_status="Occupied",
                                              evse_id=1, connector_id=1))
        started = await cp.call(event("Started", 0, tx, evse=evse, id_token=token,
                                      meter_value=energy(1000),
                                      info={"charging_state": "EVConnected"}))
        assert started.id_token_info["status"] == "Accepted"
        # An offline Updated with a later seqNo arrives before an earlier one.
        await cp.call(event("Updated", 2, tx, seconds=20, offline=True,
                            trigger_reason="MeterValuePeriodic", meter_value=energy(2500, 20),
                            info={"charging_state": "Charging"}))
        await cp.call(event("Updated", 1, tx, seconds=10, trigger_reason="ChargingStateChanged",
                            meter_value=energy(1800, 10), info={"charging_state": "Charging"}))
        await cp.call(call.MeterValues(evse_id=1, meter_value=energy(2600, 25)))
        ended = event("Ended", 3, tx, seconds=30, trigger_reason="EVDeparted",
                      meter_value=energy(4200, 30),
                      info={"stopped_reason": "EVDisconnected", "charging_state": "Idle"})
        await cp.call(ended)
        # The same event retried by a charger that never saw the answer (a new message id).
        await ws.send(json.dumps([2, "retry-1", "TransactionEvent", {
            "eventType": "Ended", "timestamp": at(30), "triggerReason": "EVDeparted",
            "seqNo": 3, "transactionInfo": {"transactionId": tx, "stoppedReason": "Other"},
            "meterValue": [{"timestamp": at(30), "sampledValue": [
                {"value": 9999, "measurand": "Energy.Active.Import.Register"}]}]}]))
        await asyncio.sleep(0.5)
    api = api_for(gateway, fleet.tenant_id, "admin")
    listed = api.get("/v1/transactions", charge_point_id=cp_id).json["items"]
    assert [t["transaction_id"] for t in listed] == [tx]
    view = api.get(f"/v1/transactions/{tx}").json
    assert (view["status"], view["stop_reason"], view["ocpp_version"]) == (
        "Completed", "EVDisconnected", "ocpp2.0.1")
    assert (view["meter_start"], view["meter_stop"], view["energy_wh"]) == (1000, 4200, 3200)
    assert view["evse"] == {"id": 1, "connector_id": 1}
    assert view["offline"] is True and sorted(view["seq_nos"]) == [0, 1, 2, 3]
    assert len(view["meter_values"]) >= 4
    state = fleet.db["charge_points"].find_one({"_id": cp_id})
    assert state["connectors"]["1"]["status"] == "Occupied"


async def test_every_2_0_1_call_error(gateway, fleet):
    cp_id = fleet.add_charge_point("V201-ERRORS")
    cases = [
        ("not json", "RpcFrameworkError"),
        ('[7, "e1", "Heartbeat", {}]', "MessageTypeNotSupported"),
        ('[2, "e2", "Heartbeat", {"unexpected": 1}]', "FormatViolation"),
        ('[2, "e3", "Authorize", {}]', "OccurrenceConstraintViolation"),
        ('[2, "e4", "Authorize", {"idToken": {"idToken": 5, "type": "Central"}}]',
         "TypeConstraintViolation"),
        ('[2, "e5", "Authorize", {"idToken": {"idToken": "a", "type": "Nope"}}]',
         "PropertyConstraintViolation"),
        ('[2, "e6", "Frobnicate", {}]', "NotImplemented"),
        ('[2, "e7", "RequestStartTransaction", {"idToken": {"idToken": "a", "type": "Central"},'
         ' "remoteStartId": 1}]', "NotSupported"),
    ]
    async with raw201(gateway, cp_id) as ws:
        for frame, code in cases:
            reply = await exchange(ws, frame)
            assert reply[0] == 4 and reply[2] == code, (frame, reply)


async def test_a_mixed_tenant_with_a_1_6_and_a_2_0_1_charger(gateway, fleet):
    from ocpp.v16 import call as call16

    old, new = fleet.add_charge_point("MIX-16"), fleet.add_charge_point("MIX-201")
    async with (
        connected(gateway, old) as (cp16, ws16),
        connected(gateway, new, subprotocols=V201, client=ChargePoint) as (cp201, ws201),
    ):
        assert (ws16.subprotocol, ws201.subprotocol) == ("ocpp1.6", "ocpp2.0.1")
        boot16 = await cp16.call(call16.BootNotification(charge_point_model="M",
                                                         charge_point_vendor="V"))
        boot201 = await cp201.call(call.BootNotification(charging_station=STATION,
                                                         reason="PowerUp"))
        assert boot16.status == boot201.status == "Accepted"
        started = await cp16.call(call16.StartTransaction(
            connector_id=1, id_tag="ACCEPTED", meter_start=0, timestamp=at()))
        await cp201.call(event("Started", 0, "MIX-TX", evse={"id": 1, "connector_id": 1},
                               id_token={"id_token": "ACCEPTED", "type": "Central"}))
    api = api_for(gateway, fleet.tenant_id, "admin")
    ids = {t["charge_point_id"]: t["transaction_id"] for t in api.get(
        "/v1/transactions", limit=200).json["items"] if t["charge_point_id"] in (old, new)}
    assert ids == {old: started.transaction_id, new: "MIX-TX"}
    assert api.get(f"/v1/transactions/{started.transaction_id}").json["charge_point_id"] == old
    versions = {cp["charge_point_id"]: cp["ocpp_version"] for cp in api.get(
        "/v1/charge-points", limit=200).json["items"]}
    assert (versions[old], versions[new]) == ("ocpp1.6", "ocpp2.0.1")


@pytest.mark.parametrize(("offered", "chosen"), [
    (("ocpp2.0.1", "ocpp1.6"), "ocpp2.0.1"),
    (("ocpp1.6", "ocpp2.0.1"), "ocpp1.6"),
])
async def test_a_charger_offering_both_gets_its_first_preference(gateway, fleet, offered, chosen):
    cp_id = fleet.add_charge_point(f"BOTH-{offered[0]}")
    async with connected(gateway, cp_id, subprotocols=offered) as (_, ws):
        assert ws.subprotocol == chosen
