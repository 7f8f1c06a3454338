"""Seed 15: every state operation under concurrent access (threads, as the local gateway
runs its invocations and as Lambdas run side by side), state after a Redis restart, and
large payloads.

What a Redis restart means here: Redis runs as ElastiCache does by default, without
persistence, so a restart loses connections, pending calls, queues and the replay cache.
Expected: durable state (transactions, charge point state, the message log) is in MongoDB
and intact; chargers are told SecurityError on their next message, closed, and register
again (see test_redis_failures.py); a retried StartTransaction still finds its
transaction; and the charger can carry on its session where it was.

The message limit itself (over 128 KB closes with 1009) is in test_frame_fuzz.py."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from csms import bootstrap
from csms.adapters import redis_state
from csms.domain.model import ConnectionInfo
from csms_local import services

from tests.e2e.conftest import Fleet, GatewayThread, raw_socket

from .conftest import Handlers, LogWatch, registered_connection, reply_to, scaled

pytestmark = pytest.mark.resilience

THREADS = 8
ROUNDS = scaled(200, 5000)
FIRST_START_TRIALS = 30
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def in_threads(work, items) -> list:
    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(work, items))


def test_registry_pointer_always_names_a_registered_connection_under_concurrent_reconnects(
    stack_env, log_watch: LogWatch,
):
    registry = bootstrap.connection_registry()
    cp = f"REG-{uuid.uuid4().hex[:6]}"

    def reconnect(n: int) -> None:
        connection = ConnectionInfo(f"conn-{n}", cp, "t", "ocpp1.6", NOW)
        registry.register(connection)
        if n % 2:  # half of them also go away again, racing the others' registrations
            registry.unregister(connection)

    in_threads(reconnect, range(ROUNDS))

    current = registry.connection_of(cp)
    assert current is None or registry.lookup(current) is not None
    assert log_watch.unexpected() == []


def test_each_pending_call_is_taken_exactly_once_by_racing_answers(stack_env):
    pending = bootstrap.pending_calls()
    cp = f"PEND-{uuid.uuid4().hex[:6]}"
    for n in range(ROUNDS):
        pending.add(cp, f"id{n}", f"request-{n}")

    # Every answer delivered twice, at once: whoever takes the entry owns it.
    taken = in_threads(lambda n: pending.take(cp, f"id{n // 2}"), range(2 * ROUNDS))

    got = Counter(t for t in taken if t is not None)
    assert sorted(got) == sorted(f"request-{n}" for n in range(ROUNDS))
    assert set(got.values()) == {1}


def test_racing_senders_hand_each_queued_command_out_once_and_one_at_a_time(
    stack_env, own_redis: services.Server,
):
    queue, pending = bootstrap.command_queue(), bootstrap.pending_calls()
    cp = f"QUEUE-{uuid.uuid4().hex[:6]}"
    probe = redis_state.connect(f"redis://127.0.0.1:{own_redis.port}/0")
    pending_key = f"{bootstrap.settings().redis_key_prefix}:pending:{cp}"
    for n in range(ROUNDS):
        queue.push(cp, f"cmd{n}", f"[2,\"cmd{n}\",\"ClearCache\",{{}}]")
    handed_out: list[str] = []
    overlaps = 0
    guard = threading.Lock()

    def sender(_: int) -> None:
        nonlocal overlaps
        while True:
            taken = queue.take_next(cp, "conn", NOW, NOW + timedelta(hours=1))
            if taken is None:  # one is outstanding: answer it, as the charger would
                if queue.queued(cp) == 0 and not any_pending():
                    return
                continue
            if taken.command_id is None:
                return
            with guard:
                handed_out.append(taken.command_id)
                overlaps += probe.hlen(pending_key) > 1
            pending.take(cp, taken.command_id)

    def any_pending() -> bool:
        return bool(probe.exists(pending_key))

    in_threads(sender, range(THREADS))
    probe.close()

    assert sorted(handed_out) == sorted(f"cmd{n}" for n in range(ROUNDS))
    assert overlaps == 0


def start_transaction(message_id: str, connector: int = 1) -> list:
    return [2, message_id, "StartTransaction", {"connectorId": connector, "idTag": "ACCEPTED",
                                                "meterStart": 100,
                                                "timestamp": NOW.isoformat()}]


def test_a_start_transaction_retried_concurrently_creates_one_transaction(
    stack_env, stack_fleet: Fleet, handlers: Handlers, log_watch: LogWatch,
):
    warm = registered_connection(stack_fleet.tenant_id, stack_fleet.add_charge_point("WARM"))
    handlers.message(warm.connection_id, start_transaction("warm-up"))  # not the first one
    cp = stack_fleet.add_charge_point(f"RETRY-{uuid.uuid4().hex[:6]}")
    connection = registered_connection(stack_fleet.tenant_id, cp)

    replies = in_threads(
        lambda _: handlers.message(connection.connection_id, start_transaction("start-1")),
        range(THREADS))

    ids = {reply[2]["transactionId"] for reply in replies if reply and reply[0] == 3}
    assert all(reply and reply[:2] == [3, "start-1"] for reply in replies), replies
    assert len(ids) == 1
    assert stack_fleet.db["transactions"].count_documents({"charge_point_id": cp}) == 1
    assert log_watch.unexpected() == []


def test_a_new_tenants_first_start_transaction_retried_concurrently_is_answered(
    stack_env, handlers: Handlers, log_watch: LogWatch,
):
    # The race is narrow: tried on many new tenants (databases without a counter yet).
    connections = [registered_connection(f"race{uuid.uuid4().hex[:8]}",
                                         f"FIRST-{uuid.uuid4().hex[:8]}")
                   for _ in range(FIRST_START_TRIALS)]
    replies = []

    for connection in connections:
        replies += in_threads(
            lambda _, c=connection: handlers.message(c.connection_id, start_transaction("first")),
            range(THREADS))

    assert [reply[0] for reply in replies if reply] == [3] * len(replies)
    assert log_watch.unexpected() == []


def test_concurrent_status_notifications_leave_the_newest_status(
    stack_env, stack_fleet: Fleet, handlers: Handlers, log_watch: LogWatch,
):
    cp = stack_fleet.add_charge_point(f"STATUS-{uuid.uuid4().hex[:6]}")
    connection = registered_connection(stack_fleet.tenant_id, cp)
    count = scaled(40, 1000)

    def notify(n: int) -> list | None:
        return handlers.message(connection.connection_id, [
            2, f"s{n}", "StatusNotification",
            {"connectorId": 1, "errorCode": "NoError", "info": str(n),
             "status": "Charging" if n == count - 1 else "Available",
             "timestamp": (NOW + timedelta(seconds=n)).isoformat()}])

    replies = in_threads(notify, range(count))

    stored = stack_fleet.db["charge_points"].find_one({"_id": cp})
    assert all(reply and reply[0] == 3 for reply in replies)
    assert stored["connectors"]["1"]["status"] == "Charging"
    assert stored["connectors"]["1"]["info"] == str(count - 1)
    assert log_watch.unexpected() == []


async def test_after_a_redis_restart_the_charger_registers_again_and_finishes_its_session(
    stack_gateway: GatewayThread, stack_fleet: Fleet, own_redis: services.Server,
    log_watch: LogWatch,
):
    cp = stack_fleet.add_charge_point(f"RESTART-{uuid.uuid4().hex[:6]}")
    start = start_transaction("start-r")
    async with raw_socket(stack_gateway, cp) as ws:
        started = await reply_to(ws, start)
        own_redis.stop()
        own_redis.start()  # empty: no persistence
        told = await reply_to(ws, [2, "hb", "Heartbeat", {}])
        await asyncio.wait_for(ws.wait_closed(), 10)
    async with raw_socket(stack_gateway, cp) as ws:
        retried = await reply_to(ws, start)  # its retry of the unanswered start, say
        stopped = await reply_to(ws, [2, "stop-r", "StopTransaction", {
            "transactionId": started[2]["transactionId"], "meterStop": 3500,
            "timestamp": (NOW + timedelta(hours=1)).isoformat()}])

    transaction = stack_fleet.db["transactions"].find_one(
        {"charge_point_id": cp})
    assert told[:3] == [4, "hb", "SecurityError"]
    assert retried[2]["transactionId"] == started[2]["transactionId"]
    assert stopped[:2] == [3, "stop-r"]
    assert stack_fleet.db["transactions"].count_documents({"charge_point_id": cp}) == 1
    assert transaction["meter_stop"] == 3500
    assert log_watch.unexpected(r"message handling failed") == []


async def test_a_60_kb_data_transfer_in_two_frames_is_answered_and_logged(
    stack_gateway: GatewayThread, stack_fleet: Fleet, log_watch: LogWatch,
):
    cp = stack_fleet.add_charge_point(f"LARGE-{uuid.uuid4().hex[:6]}")
    data = "y" * 60 * 1024
    text = json.dumps([2, "large", "DataTransfer", {"vendorId": "V", "data": data}])
    async with raw_socket(stack_gateway, cp) as ws:
        # API Gateway takes frames of at most 32 KB: a charger fragments larger messages.
        half = len(text) // 2
        await ws.send([text[:half], text[half:]])
        reply = json.loads(await asyncio.wait_for(ws.recv(), 10))

    logged = stack_fleet.db["ocpp_messages"].find_one(
        {"charge_point_id": cp, "message_id": "large", "direction": "in"})
    assert reply[:2] == [3, "large"]
    assert logged is not None and logged["payload"]["data"] == data
    assert log_watch.unexpected() == []
