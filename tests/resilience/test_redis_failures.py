"""Seed 16: Redis fails. Chargers get a clear refusal or an InternalError, never a crash,
and service comes back by itself: after Redis was down at startup, after it was lost
and came back on the same port, and after it lost its data while chargers were
connected (they are told SecurityError and closed, so they reconnect and register)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Iterator

import pytest
import websockets
from csms import bootstrap
from csms.adapters import redis_state
from csms_local import services

from tests.e2e.conftest import PASSWORD, Fleet, GatewayThread, basic_auth, raw_socket

from .conftest import Handlers, LogWatch, registered_connection, reply_to, until

pytestmark = pytest.mark.resilience

RECOVERY_LIMIT_SECONDS = 30.0
HEARTBEAT = "Heartbeat"


def heartbeat(message_id: str) -> list:
    return [2, message_id, HEARTBEAT, {}]


def flush(server: services.Server) -> None:
    client = redis_state.connect(f"redis://127.0.0.1:{server.port}/0")
    client.flushall()
    client.close()


@pytest.fixture
def redis_back(own_redis: services.Server) -> Iterator[services.Server]:
    """Whatever a test did to the module's Redis, the next test finds it running."""
    yield own_redis
    if not own_redis.running:
        own_redis.start()
    bootstrap.reset()


# Expected while Redis is away: the handlers say so, with a traceback, and answer.
REDIS_AWAY = (r"message handling failed", r"connect failed", r"disconnect bookkeeping failed")


def test_handlers_start_and_refuse_clearly_while_redis_is_down_at_startup(
    stack_env, stack_fleet: Fleet, redis_back: services.Server, handlers: Handlers,
    log_watch: LogWatch,
):
    cp_id = stack_fleet.add_charge_point(f"COLD-{uuid.uuid4().hex[:6]}")
    redis_back.stop()
    bootstrap.reset()  # a fresh container: nothing wired yet

    connect = handlers("ws_connect", {
        "headers": {**basic_auth(cp_id, PASSWORD), "Sec-WebSocket-Protocol": "ocpp1.6"},
        "queryStringParameters": {"chargePointId": cp_id},
        "requestContext": {"connectionId": "cold-1", "domainName": "127.0.0.1", "stage": "x"},
    })
    message = handlers.message("cold-1", heartbeat("cold"))

    assert connect["statusCode"] == 503
    assert message is not None and message[:3] == [4, "cold", "InternalError"]
    assert log_watch.unexpected(*REDIS_AWAY) == []


async def test_connect_is_refused_with_503_while_redis_is_down_and_accepted_once_it_is_back(
    stack_gateway: GatewayThread, stack_fleet: Fleet, redis_back: services.Server,
    log_watch: LogWatch,
):
    cp_id = stack_fleet.add_charge_point(f"C503-{uuid.uuid4().hex[:6]}")
    redis_back.stop()

    with pytest.raises(websockets.InvalidStatus) as refused:
        async with raw_socket(stack_gateway, cp_id):
            pass
    redis_back.start()
    async with raw_socket(stack_gateway, cp_id) as ws:
        served = await reply_to(ws, heartbeat("back"))

    assert refused.value.response.status_code == 503
    assert served[:2] == [3, "back"]
    assert log_watch.unexpected(*REDIS_AWAY) == []


async def test_messages_get_internal_error_while_redis_is_lost_and_service_recovers_in_30_s(
    stack_gateway: GatewayThread, stack_fleet: Fleet, redis_back: services.Server,
    log_watch: LogWatch,
):
    cp_id = stack_fleet.add_charge_point(f"LOST-{uuid.uuid4().hex[:6]}")
    async with contextlib.AsyncExitStack() as stack:
        ws = await stack.enter_async_context(raw_socket(stack_gateway, cp_id))
        before = await reply_to(ws, heartbeat("before"))
        redis_back.stop()
        during = await reply_to(ws, heartbeat("during"))
        redis_back.start()

        recovered_after, answers = await first_success(stack_gateway, cp_id, ws, stack)

    print(f"\n[seed 16] Redis restarted: first successful reply after {recovered_after:.3f} s "
          f"(answers on the way: {answers})")
    assert before[:2] == [3, "before"]
    assert during[:3] == [4, "during", "InternalError"]
    assert recovered_after < RECOVERY_LIMIT_SECONDS
    # Redis came back empty: the charger was told so, closed, and registered again.
    assert "SecurityError" in answers
    assert log_watch.unexpected(*REDIS_AWAY) == []


async def first_success(
    gateway: GatewayThread, cp_id: str, ws: websockets.ClientConnection,
    stack: contextlib.AsyncExitStack,
) -> tuple[float, list[str]]:
    """Seconds until a charger that behaves as the spec asks (retries after InternalError,
    reconnects when closed) gets a CallResult again, and the answers it got meanwhile."""
    started = time.monotonic()
    answers: list[str] = []
    attempt = 0
    while time.monotonic() - started < RECOVERY_LIMIT_SECONDS:
        attempt += 1
        try:
            answer = await reply_to(ws, heartbeat(f"retry-{attempt}"))
        except websockets.ConnectionClosed:
            ws = await stack.enter_async_context(raw_socket(gateway, cp_id, open_timeout=5))
            answers.append("reconnected")
            continue
        if answer[0] == 3:
            return time.monotonic() - started, answers
        answers.append(answer[2])
        if answer[2] == "SecurityError":
            await asyncio.wait_for(ws.wait_closed(), 10)  # the CSMS closes it: reconnect then
        else:
            await asyncio.sleep(0.1)  # the charger's retry interval: nothing to await
    return time.monotonic() - started, answers


async def test_a_connection_lost_with_redis_data_is_told_security_error_and_closed(
    stack_gateway: GatewayThread, stack_fleet: Fleet, own_redis: services.Server,
    log_watch: LogWatch,
):
    cp_id = stack_fleet.add_charge_point(f"FLUSH-{uuid.uuid4().hex[:6]}")
    async with raw_socket(stack_gateway, cp_id) as ws:
        assert (await reply_to(ws, heartbeat("known")))[:2] == [3, "known"]
        flush(own_redis)  # Redis lost everything it held

        refused = await reply_to(ws, heartbeat("forgotten"))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)

    assert refused[:3] == [4, "forgotten", "SecurityError"]
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000
    assert log_watch.unexpected() == []


async def test_a_charger_closed_after_the_data_loss_reconnects_and_is_served(
    stack_gateway: GatewayThread, stack_fleet: Fleet, own_redis: services.Server,
    log_watch: LogWatch,
):
    cp_id = stack_fleet.add_charge_point(f"REREG-{uuid.uuid4().hex[:6]}")
    async with raw_socket(stack_gateway, cp_id) as ws:
        await reply_to(ws, heartbeat("known"))
        flush(own_redis)
        await reply_to(ws, heartbeat("forgotten"))
        await ws.wait_closed()

    async with raw_socket(stack_gateway, cp_id) as ws:
        served = await reply_to(ws, heartbeat("again"))
        registered = bootstrap.connection_registry().connection_of(cp_id)

    assert served[:2] == [3, "again"]
    assert registered is not None
    assert log_watch.unexpected() == []


async def test_a_second_message_racing_the_goodbye_is_refused_without_a_traceback(
    stack_gateway: GatewayThread, stack_fleet: Fleet, own_redis: services.Server,
    log_watch: LogWatch,
):
    cp_id = stack_fleet.add_charge_point(f"RACE-{uuid.uuid4().hex[:6]}")
    async with raw_socket(stack_gateway, cp_id) as ws:
        await reply_to(ws, heartbeat("known"))
        flush(own_redis)
        # Both frames are on the wire before the CSMS closes: the second is read after
        # the goodbye to the first.
        await ws.send(json.dumps(heartbeat("first")))
        await ws.send(json.dumps(heartbeat("second")))
        refused = json.loads(await asyncio.wait_for(ws.recv(), 10))
        await asyncio.wait_for(ws.wait_closed(), 10)
    await asyncio.sleep(0)

    assert refused[:3] == [4, "first", "SecurityError"]
    # The second one's handler runs on after the close: let it finish (bounded).
    until(lambda: bool(log_watch.unexpected()), 5)
    assert log_watch.unexpected() == []


def test_a_message_from_a_connection_redis_forgot_is_refused_without_a_gateway(
    stack_env, stack_fleet: Fleet, handlers: Handlers, own_redis: services.Server,
    monkeypatch: pytest.MonkeyPatch,
):
    # No @connections API to close it with: the charger is still told, as the route
    # response, that it must reconnect.
    connection = registered_connection(stack_fleet.tenant_id, "NOGW")
    monkeypatch.setenv("WEBSOCKET_MANAGEMENT_ENDPOINT", "http://127.0.0.1:9")
    bootstrap.reset()
    flush(own_redis)

    reply = handlers.message(connection.connection_id, heartbeat("orphan"))

    monkeypatch.undo()
    bootstrap.reset()
    assert reply is not None and reply[:3] == [4, "orphan", "SecurityError"]
    assert json.dumps(reply).isascii()
