"""Chargers as fleets have them: they drop the connection with a command in flight,
reconnect without a word, never answer, and boot with commands waiting. Driven through
the local gateway as `make run` wires it (records through SQS and the event worker),
with raw WebSocket clients where the `ocpp` package would answer for us, over ws:// and
wss://."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator

import pytest
import websockets
from csms import bootstrap
from csms_local.gateway import GatewayLimits
from csms_local.lambdas import LambdaContext, load_handler
from csms_local.sqs_poller import SqsPoller, create_queues

from tests.mqtt_subscriber import Subscriber

from .conftest import Api, GatewayThread, Scheme, api_for, raw_socket, start_gateway

pytestmark = pytest.mark.e2e

# Short, so a silent charger's command is overdue within the test.
# Long enough that a loaded machine still runs $disconnect before the deadline.
ANSWER_SECONDS = 5
BOOT = [2, "boot-1", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}]


@pytest.fixture(scope="module")
def unruly_gateway(csms_env, local_aws_url, mqtt_url) -> Iterator[GatewayThread]:
    """Records to SQS with a poller feeding event_worker, as `make run` has it."""
    patch = pytest.MonkeyPatch()
    queues = create_queues(local_aws_url, name=f"unruly-{uuid.uuid4().hex[:8]}", visibility=1)
    settings = {**queues, "MQTT_URL": mqtt_url, "AWS_ENDPOINT_URL": local_aws_url,
                "PENDING_CALL_TTL_SECONDS": str(ANSWER_SECONDS)}
    for name, value in settings.items():
        patch.setenv(name, value)
    running = start_gateway(GatewayLimits(), patch)
    poller = SqsPoller(local_aws_url, queues["EVENTS_QUEUE_URL"], load_handler("event_worker"))
    poller.start()
    yield running
    poller.stop()
    running.stop()
    patch.undo()
    bootstrap.reset()


@pytest.fixture
def operator(unruly_gateway, fleet) -> Api:
    return api_for(unruly_gateway, fleet.tenant_id, "operator")


async def post_command(api: Api, cp_id: str, action: str, payload: dict, **params) -> dict:
    reply = await asyncio.to_thread(
        api.post, f"/v1/charge-points/{cp_id}/commands/{action}", payload, **params
    )
    assert reply.status in (200, 202), reply.text
    command: dict = reply.json
    return command


async def command_after(api: Api, command_id: str, wait: float) -> dict:
    reply = await asyncio.to_thread(api.get, f"/v1/commands/{command_id}", wait=wait)
    command: dict = reply.json
    return command


async def next_frame(ws: websockets.ClientConnection, timeout: float = 2.0) -> list:
    frame: list = json.loads(await asyncio.wait_for(ws.recv(), timeout))
    return frame


def sweep() -> dict:
    """The scheduled function, invoked as EventBridge (or the local scheduler) would."""
    handler = load_handler("command_sweeper")
    event = {"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}
    result: dict = handler(event, LambdaContext("command_sweeper", uuid.uuid4().hex))
    return result


async def test_a_dropped_connection_fails_its_command_in_flight_before_its_deadline(
    unruly_gateway, fleet, operator, scheme: Scheme
):
    cp_id = fleet.add_charge_point(f"DROP-{scheme}")
    async with raw_socket(unruly_gateway, cp_id, scheme) as ws:
        command = await post_command(operator, cp_id, "Reset", {"type": "Soft"})
        assert (await next_frame(ws))[2] == "Reset"

    # Waiting less than the answer deadline: only $disconnect can have ended it.
    failed = await command_after(operator, command["command_id"], wait=ANSWER_SECONDS - 1)

    assert failed["status"] == "failed"
    assert failed["error"] == {"reason": "connection closed before the charger answered"}


async def test_a_late_answer_on_the_new_connection_is_logged_unmatched(
    unruly_gateway, fleet, operator, mqtt_url
):
    cp_id = fleet.add_charge_point("LATE")
    status = Subscriber(mqtt_url, f"ocpp/status/{fleet.tenant_id}/{cp_id}")
    async with raw_socket(unruly_gateway, cp_id) as ws:
        command = await post_command(operator, cp_id, "Reset", {"type": "Soft"})
        await next_frame(ws)
    async with raw_socket(unruly_gateway, cp_id) as ws:
        await ws.send(json.dumps([3, command["command_id"], {"status": "Accepted"}]))
        await ws.send(json.dumps([2, "hb", "Heartbeat", {}]))
        await next_frame(ws)
    # The second "disconnected" is the charger's last record: FIFO order means the log
    # is stored by then.
    await asyncio.to_thread(
        status.wait_for, lambda m: sum(e["type"] == "disconnected" for _, e in m) >= 2)
    status.close()

    assert (await command_after(operator, command["command_id"], wait=0))["status"] == "failed"
    answer = fleet.db["ocpp_messages"].find_one(
        {"message_id": command["command_id"], "direction": "in"})
    assert answer["message_type"] == "CallResult" and answer["matched"] is False


async def test_after_a_silent_reconnect_a_new_command_goes_out_at_once(
    unruly_gateway, fleet, operator, scheme: Scheme
):
    cp_id = fleet.add_charge_point(f"SILENT-{scheme}")
    async with raw_socket(unruly_gateway, cp_id, scheme) as ws:
        await post_command(operator, cp_id, "Reset", {"type": "Soft"})
        await next_frame(ws)
    async with raw_socket(unruly_gateway, cp_id, scheme) as ws:  # no BootNotification, no Call
        unlock = await post_command(operator, cp_id, "UnlockConnector", {"connectorId": 1})

        frame = await next_frame(ws, timeout=2)

    assert frame[:3] == [2, unlock["command_id"], "UnlockConnector"]


async def test_commands_queued_while_offline_arrive_after_a_silent_reconnect(
    unruly_gateway, fleet, operator, scheme: Scheme
):
    cp_id = fleet.add_charge_point(f"QUEUED-{scheme}")
    queued = await post_command(operator, cp_id, "ClearCache", {}, queue="true")
    assert queued["status"] == "queued"

    async with raw_socket(unruly_gateway, cp_id, scheme) as ws:
        frame = await next_frame(ws, timeout=2)

    assert frame[:3] == [2, queued["command_id"], "ClearCache"]


async def test_commands_queued_while_offline_follow_the_boot_reply_in_order(
    unruly_gateway, fleet, operator, scheme: Scheme
):
    cp_id = fleet.add_charge_point(f"BOOTQ-{scheme}")
    first = await post_command(operator, cp_id, "ClearCache", {}, queue="true")
    second = await post_command(operator, cp_id, "UnlockConnector", {"connectorId": 1},
                                queue="true")

    async with raw_socket(unruly_gateway, cp_id, scheme) as ws:
        await ws.send(json.dumps(BOOT))
        boot_reply = await next_frame(ws)
        first_call = await next_frame(ws)
        await ws.send(json.dumps([3, first_call[1], {"status": "Accepted"}]))
        second_call = await next_frame(ws)

    assert boot_reply[:2] == [3, "boot-1"] and boot_reply[2]["status"] == "Accepted"
    assert first_call[:3] == [2, first["command_id"], "ClearCache"]
    assert second_call[:3] == [2, second["command_id"], "UnlockConnector"]


async def test_a_charger_that_never_answers_is_timed_out_by_the_sweep_and_the_next_goes_out(
    unruly_gateway, fleet, operator, scheme: Scheme
):
    cp_id = fleet.add_charge_point(f"MUTE-{scheme}")
    async with raw_socket(unruly_gateway, cp_id, scheme) as ws:
        ignored = await post_command(operator, cp_id, "Reset", {"type": "Soft"})
        await next_frame(ws)
        waiting = await post_command(operator, cp_id, "ClearCache", {})
        assert waiting["status"] == "queued"
        await asyncio.sleep(ANSWER_SECONDS + 0.2)  # the deadline must pass: nothing to await

        swept = await asyncio.to_thread(sweep)
        frame = await next_frame(ws)

    assert swept["timed_out"] >= 1
    timed_out = await command_after(operator, ignored["command_id"], wait=0)
    assert timed_out["status"] == "timed_out"
    assert timed_out["error"] == {"reason": "the charge point did not answer in time"}
    assert frame[:3] == [2, waiting["command_id"], "ClearCache"]


START_2_70 = [2, "big", "StartTransaction", {"connectorId": 1, "idTag": "ACCEPTED",
                                             "meterStart": 2**70,
                                             "timestamp": "2026-11-22T11:00:00Z"}]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("[" * 1000 + "]" * 1000, [4, "-1", "FormationViolation"], id="nested-1000"),
        pytest.param("[2," + "[" * 990 + "]" * 990 + ',"Heartbeat",{}]',
                     [4, "-1", "FormationViolation"], id="id-nested-990"),
        pytest.param(json.dumps(START_2_70), [4, "big", "TypeConstraintViolation"],
                     id="integer-2**70"),
        pytest.param('[2,"sur\\ud800","Heartbeat",{}]', [3, "sur\ud800"], id="lone-surrogate"),
    ],
)
async def test_each_bad_frame_gets_its_answer_and_the_connection_stays_up(
    unruly_gateway, fleet, scheme: Scheme, raw: str, expected: list
):
    cp_id = fleet.add_charge_point(f"FUZZ-{uuid.uuid4().hex[:6]}")
    async with raw_socket(unruly_gateway, cp_id, scheme) as ws:
        await ws.send(raw)
        reply = await next_frame(ws)
        await ws.send(json.dumps([2, "after", "Heartbeat", {}]))
        still_up = await next_frame(ws)

    assert reply[: len(expected)] == expected
    assert still_up[:2] == [3, "after"]


async def test_every_answered_bad_frame_is_in_the_message_log(unruly_gateway, fleet, mqtt_url):
    cp_id = fleet.add_charge_point("LOGBAD")
    status = Subscriber(mqtt_url, f"ocpp/status/{fleet.tenant_id}/{cp_id}")
    frames = [json.dumps(START_2_70), '[2,"sur\\ud800","Heartbeat",{}]',
              json.dumps([2, "keys", "DataTransfer", {"vendorId": "V", "$set": {"a.b": 1}}])]
    async with raw_socket(unruly_gateway, cp_id) as ws:
        for frame in frames:
            await ws.send(frame)
            await next_frame(ws)
    await asyncio.to_thread(status.wait_for,
                            lambda m: any(e["type"] == "disconnected" for _, e in m))
    status.close()

    logged = list(fleet.db["ocpp_messages"].find({"charge_point_id": cp_id, "direction": "in"}))
    assert len(logged) == len(frames)
    big = next(m for m in logged if m["message_id"] == "big")
    assert big["payload"]["meterStart"] == str(2**70) and big["raw"] == frames[0]
