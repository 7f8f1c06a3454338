"""A newcomer's charging session, end to end: a real OCPP 1.6J client through the local
gateway to the real handlers, with every answer checked and everything stored."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime

import pytest
from ocpp.v16 import call
from websockets.exceptions import InvalidStatus

from .conftest import connected, raw_socket

pytestmark = pytest.mark.e2e


async def eventually(check, timeout: float = 5.0):
    """Wait for work the gateway does after the client's part is over ($disconnect)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.05)


def now() -> str:
    return datetime.now(UTC).isoformat()


async def test_a_full_charging_session_is_answered_and_stored(gateway, fleet):
    cp_id = fleet.add_charge_point("SESSION")
    async with connected(gateway, cp_id) as (cp, _):
        boot = await cp.call(call.BootNotification(charge_point_model="Wallbox",
                                                   charge_point_vendor="Acme"))
        assert boot.status == "Accepted" and boot.interval == 300
        await cp.call(call.StatusNotification(connector_id=1, error_code="NoError",
                                              status="Available", timestamp=now()))
        heartbeat = await cp.call(call.Heartbeat())
        assert heartbeat.current_time.endswith("Z")
        authorized = await cp.call(call.Authorize(id_tag="ACCEPTED"))
        assert authorized.id_tag_info["status"] == "Accepted"
        started = await cp.call(call.StartTransaction(connector_id=1, id_tag="ACCEPTED",
                                                      meter_start=1000, timestamp=now()))
        assert started.id_tag_info["status"] == "Accepted"
        transaction_id = started.transaction_id
        await cp.call(call.MeterValues(connector_id=1, transaction_id=transaction_id,
                                       meter_value=[{"timestamp": now(), "sampledValue": [
                                           {"value": "2500", "measurand":
                                            "Energy.Active.Import.Register", "unit": "Wh"}]}]))
        stopped = await cp.call(call.StopTransaction(meter_stop=4200, timestamp=now(),
                                                     transaction_id=transaction_id,
                                                     id_tag="ACCEPTED", reason="EVDisconnected"))
        assert stopped.id_tag_info["status"] == "Accepted"

    transaction = fleet.db["transactions"].find_one({"_id": transaction_id})
    assert transaction["status"] == "Completed"
    assert (transaction["meter_start"], transaction["meter_stop"]) == (1000, 4200)
    assert transaction["energy_wh"] == 3200
    assert transaction["stop_reason"] == "EVDisconnected"
    assert fleet.db["meter_values"].count_documents({"transaction_id": transaction_id}) == 1
    state = fleet.db["charge_points"].find_one({"_id": cp_id})
    assert state["boot"]["charge_point_vendor"] == "Acme"
    assert state["connectors"]["1"]["status"] == "Available"
    assert "last_heartbeat" in state
    actions = [m["action"] for m in fleet.db["ocpp_messages"].find(
        {"charge_point_id": cp_id, "direction": "in"}).sort("timestamp", 1)]
    assert actions == ["BootNotification", "StatusNotification", "Heartbeat", "Authorize",
                       "StartTransaction", "MeterValues", "StopTransaction"]
    sessions = await eventually(lambda: fleet.db["sessions"].find_one(
        {"charge_point_id": cp_id, "disconnected_at": {"$ne": None}}))
    assert sessions["close_code"] == 1000
    offline = await eventually(lambda: fleet.db["charge_points"].find_one(
        {"_id": cp_id, "connection_status": "Disconnected"}))
    assert offline


@pytest.mark.parametrize(("id_tag", "status"), [("ACCEPTED", "Accepted"), ("BLOCKED", "Blocked"),
                                                 ("EXPIRED", "Expired"), ("NOBODY", "Invalid")])
async def test_authorize_answers_each_tag_status(gateway, fleet, id_tag, status):
    cp_id = fleet.add_charge_point(f"AUTH-{id_tag}")
    async with connected(gateway, cp_id) as (cp, _):
        result = await cp.call(call.Authorize(id_tag=id_tag))
    assert result.id_tag_info["status"] == status


async def test_a_reconnect_replaces_the_old_connection(gateway, fleet):
    cp_id = fleet.add_charge_point("RECONNECT")
    async with (
        connected(gateway, cp_id) as (_, first_ws),
        connected(gateway, cp_id) as (second, _),
    ):
        await asyncio.wait_for(first_ws.wait_closed(), 10)
        assert (await second.call(call.Heartbeat())).current_time
    assert first_ws.close_code == 1000


async def test_an_unknown_charge_point_is_refused_with_401(gateway, fleet):
    with pytest.raises(InvalidStatus) as refused:
        async with connected(gateway, fleet.cp("NEVER-REGISTERED")):
            pass
    assert refused.value.response.status_code == 401


async def test_a_wrong_password_is_refused_with_401(gateway, fleet):
    cp_id = fleet.add_charge_point("WRONGPW")
    with pytest.raises(InvalidStatus) as refused:
        async with connected(gateway, cp_id, password="not-the-password-123"):
            pass
    assert refused.value.response.status_code == 401


async def test_a_disabled_charge_point_is_refused(gateway, fleet):
    cp_id = fleet.add_charge_point("DISABLED")
    fleet.admin.set_enabled(cp_id, False)
    with pytest.raises(InvalidStatus) as refused:
        async with connected(gateway, cp_id):
            pass
    assert refused.value.response.status_code == 401


async def test_an_unsupported_subprotocol_is_refused(gateway, fleet):
    cp_id = fleet.add_charge_point("OCPP15")
    with pytest.raises(InvalidStatus) as refused:
        async with connected(gateway, cp_id, subprotocols=("ocpp1.5",)):
            pass
    assert refused.value.response.status_code == 400


async def test_the_chosen_subprotocol_is_echoed(gateway, fleet):
    cp_id = fleet.add_charge_point("ECHO")
    async with connected(gateway, cp_id, subprotocols=("ocpp1.5", "ocpp1.6")) as (_, ws):
        assert ws.subprotocol == "ocpp1.6"


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        pytest.param("this is not json", [4, "-1", "FormationViolation"], id="invalid-json"),
        pytest.param('{"not": "an array"}', [4, "-1", "FormationViolation"], id="not-an-array"),
        pytest.param('[5,"u1","Heartbeat",{}]', [4, "u1", "FormationViolation"],
                     id="unknown-message-type"),
        pytest.param('[2,"u2","TeleportCar",{}]', [4, "u2", "NotImplemented"],
                     id="unknown-action"),
        pytest.param('[2,"u3","Authorize",{}]', [4, "u3", "OccurenceConstraintViolation"],
                     id="missing-field"),
        pytest.param('[2,"u4","Authorize",{"idTag":5}]', [4, "u4", "TypeConstraintViolation"],
                     id="mistyped-field"),
        pytest.param('[2,"u5","Heartbeat",{"x":1}]', [4, "u5", "FormationViolation"],
                     id="extra-field"),
        pytest.param('[2,"u6","StatusNotification",{"connectorId":1,"errorCode":"NoError",'
                     '"status":"Flying"}]', [4, "u6", "PropertyConstraintViolation"],
                     id="value-out-of-range"),
        pytest.param('[2,"u7","Reset",{"type":"Hard"}]', [4, "u7", "NotSupported"],
                     id="csms-initiated-action"),
    ],
)
async def test_malformed_frames_get_the_right_call_error(gateway, fleet, frame, expected):
    cp_id = fleet.add_charge_point(f"BAD-{expected[1]}-{len(frame)}")
    async with raw_socket(gateway, cp_id) as ws:
        await ws.send(frame)
        reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert reply[:3] == expected
    assert len(reply) == 5 and isinstance(reply[3], str) and isinstance(reply[4], dict)


async def test_a_repeated_message_id_gets_the_same_reply(gateway, fleet):
    cp_id = fleet.add_charge_point("REPLAY")
    frame = json.dumps([2, "dup-1", "StartTransaction", {
        "connectorId": 1, "idTag": "ACCEPTED", "meterStart": 0, "timestamp": now()}])
    async with raw_socket(gateway, cp_id) as ws:
        await ws.send(frame)
        first = await asyncio.wait_for(ws.recv(), 10)
        await ws.send(frame)
        second = await asyncio.wait_for(ws.recv(), 10)
    assert first == second
    assert fleet.db["transactions"].count_documents({"charge_point_id": cp_id}) == 1


async def test_a_frame_over_32_kb_closes_the_connection_with_1009(gateway, fleet):
    cp_id = fleet.add_charge_point("BIGFRAME")
    async with raw_socket(gateway, cp_id, max_size=None) as ws:
        payload = json.dumps([2, "big", "DataTransfer", {"vendorId": "x",
                                                         "data": "a" * (33 * 1024)}])
        await ws.send(payload)
        await asyncio.wait_for(ws.wait_closed(), 10)
    assert ws.close_code == 1009


async def test_a_message_under_32_kb_is_answered(gateway, fleet):
    cp_id = fleet.add_charge_point("MIDFRAME")
    async with raw_socket(gateway, cp_id) as ws:
        await ws.send(json.dumps([2, "mid", "DataTransfer", {"vendorId": "x",
                                                             "data": "a" * (20 * 1024)}]))
        reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert reply == [3, "mid", {"status": "UnknownVendorId"}]
