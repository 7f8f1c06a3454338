"""OCPP-J 2.1's unanswered frames end to end, over a real socket through the local
gateway: a SEND (NotifyPeriodicEventStream) and a CALLRESULTERROR get no reply at all,
and land in the message log; a 2.0.1 connection still answers both as unknown."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest
import websockets

from tests.event_schemas import validate_event
from tests.mqtt_subscriber import Subscriber

from .conftest import PASSWORD, api_for, basic_auth
from .test_events import evented_gateway  # noqa: F401  (the fixture)

pytestmark = pytest.mark.e2e

BOOT = {"reason": "PowerUp", "chargingStation": {"model": "Wallbox 3", "vendorName": "Acme"}}
STREAM = {"id": 1, "pending": 0, "basetime": datetime.now(UTC).isoformat(),
          "data": [{"t": 0, "v": "230.1"}, {"t": 2, "v": "229.8"}]}


async def frame(ws: websockets.ClientConnection, body: list[Any]) -> None:
    await ws.send(json.dumps(body))


async def next_frame(ws: websockets.ClientConnection) -> list[Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout=10))


async def booted(gateway: Any, cp_id: str, subprotocol: str) -> websockets.ClientConnection:
    ws = await websockets.connect(
        gateway.url(cp_id), subprotocols=[subprotocol],  # type: ignore[list-item]
        additional_headers=basic_auth(cp_id, PASSWORD), open_timeout=10)
    await frame(ws, [2, "boot", "BootNotification", BOOT])
    assert (await next_frame(ws))[:2] == [3, "boot"]
    return ws


async def heartbeat_is_the_next_reply(ws: websockets.ClientConnection) -> None:
    """What arrives after the frame under test is the Heartbeat's CallResult: that frame
    got no reply (replies come in order over one connection)."""
    await frame(ws, [2, "hb", "Heartbeat", {}])
    assert (await next_frame(ws))[:2] == [3, "hb"]


async def test_a_send_gets_no_reply_and_is_in_the_message_log(gateway, fleet):
    cp_id = fleet.add_charge_point("V21-SEND")
    async with await booted(gateway, cp_id, "ocpp2.1") as ws:
        await frame(ws, [6, "send-1", "NotifyPeriodicEventStream", STREAM])
        await heartbeat_is_the_next_reply(ws)
    [entry] = fleet.db["ocpp_messages"].find({"charge_point_id": cp_id, "message_id": "send-1"})
    assert (entry["message_type"], entry["direction"], entry["processed"]) == ("Send", "in", True)
    assert entry["action"] == "NotifyPeriodicEventStream"
    kinds = [n["kind"] for n in fleet.db["notifications"].find({"charge_point_id": cp_id})]
    assert "periodic_event_stream" in kinds


async def test_a_send_is_readable_through_the_tenant_api(gateway, fleet):
    cp_id = fleet.add_charge_point("V21-SEND-API")
    async with await booted(gateway, cp_id, "ocpp2.1") as ws:
        await frame(ws, [6, "send-2", "NotifyPeriodicEventStream", STREAM])
        await heartbeat_is_the_next_reply(ws)
    items = await asyncio.to_thread(
        lambda: api_for(gateway, fleet.tenant_id, "viewer").get(
            "/v1/messages", charge_point_id=cp_id).json["items"])
    [sent] = [m for m in items if m["message_id"] == "send-2"]
    assert sent["message_type"] == "Send" and sent["payload"]["data"] == STREAM["data"]


async def test_an_invalid_send_gets_no_reply_and_is_logged_with_why(gateway, fleet):
    cp_id = fleet.add_charge_point("V21-SEND-BAD")
    async with await booted(gateway, cp_id, "ocpp2.1") as ws:
        await frame(ws, [6, "send-3", "NotifyPeriodicEventStream", {"id": 1}])
        await heartbeat_is_the_next_reply(ws)
    [entry] = fleet.db["ocpp_messages"].find({"charge_point_id": cp_id, "message_id": "send-3"})
    assert entry["processed"] is False
    assert entry["error_code"] == "OccurrenceConstraintViolation"


async def test_a_call_result_error_gets_no_reply_and_is_in_the_message_log(gateway, fleet):
    cp_id = fleet.add_charge_point("V21-CRE")
    async with await booted(gateway, cp_id, "ocpp2.1") as ws:
        await frame(ws, [5, "boot", "FormatViolation", "interval missing", {}])
        await heartbeat_is_the_next_reply(ws)
    [entry] = fleet.db["ocpp_messages"].find(
        {"charge_point_id": cp_id, "message_id": "boot", "message_type": "CallResultError"})
    assert entry["payload"]["errorCode"] == "FormatViolation"
    assert entry["matched"] is True


@pytest.mark.parametrize("body", [[6, "x-1", "NotifyPeriodicEventStream", STREAM],
                                  [5, "x-1", "GenericError", "", {}]], ids=["send", "cre"])
async def test_a_2_0_1_connection_still_answers_them_with_a_call_error(gateway, fleet, body):
    cp_id = fleet.add_charge_point(f"V201-UNKNOWN-{body[0]}")
    async with await booted(gateway, cp_id, "ocpp2.0.1") as ws:
        await frame(ws, body)
        reply = await next_frame(ws)
    assert reply[:3] == [4, "x-1", "MessageTypeNotSupported"]


# Last in the module: its stack (records through SQS to the event worker) outlives the
# test, and the tests above read their records as soon as the charger is answered.
async def test_a_streams_values_are_published_with_their_times(
    evented_gateway, fleet, mqtt_url  # noqa: F811
):
    cp_id = fleet.add_charge_point("V21-SEND-MQTT")
    subscriber = Subscriber(mqtt_url, f"ocpp/events/{fleet.tenant_id}/{cp_id}/diagnostics")
    async with await booted(evented_gateway, cp_id, "ocpp2.1") as ws:
        await frame(ws, [6, "send-mqtt", "NotifyPeriodicEventStream", STREAM])
        await heartbeat_is_the_next_reply(ws)
    received = await asyncio.to_thread(subscriber.wait_for, lambda m: len(m) >= 1)
    subscriber.close()
    [(_, event)] = received
    validate_event(event)
    assert event["type"] == "periodic_event_stream"
    assert event["data"]["stream_id"] == 1
    assert [v["value"] for v in event["data"]["values"]] == ["230.1", "229.8"]
