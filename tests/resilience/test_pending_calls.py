"""Seed 14: a thousand CSMS-initiated calls pending at once. Each answer completes exactly
its own command, the sweep ends the overdue ones and leaves no pending keys, concurrent
submitters and answerers never put two calls in flight to one charger, and Redis holds
nothing for them afterwards.

The commands go through the real services, Redis and MongoDB; the chargers are connections
registered as $connect registers them, and @connections is a recording endpoint of the
test's own (the posts are the chargers' inbox); the chargers' answers arrive as $default
invocations of the ws_message function."""

from __future__ import annotations

import json
import queue
import random
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

import pytest
import redis as redis_lib
from csms import bootstrap
from csms.adapters import redis_state
from csms.domain.commands import NO_ANSWER_IN_TIME, CommandStatus
from csms.domain.model import ConnectionInfo
from csms_local import services

from tests.e2e.conftest import Fleet

from .conftest import Handlers, LogWatch, registered_connection, scaled

pytestmark = pytest.mark.resilience

# The headline figure: a thousand calls pending at once (5,000 in the long form).
CHARGERS = scaled(1000, 5000)
# Tests that only need "many": smaller in CI, where MongoDB's updates set the pace.
MANY = scaled(250, 5000)
WORKERS = 8
REDIS_TABLE_NOISE_BYTES = 256 * 1024


class Inbox:
    """The @connections API as the chargers' inbox: every POST is recorded and queued,
    DELETE closes nothing and says so."""

    def __init__(self) -> None:
        self.posts: queue.Queue[tuple[str, list[Any]]] = queue.Queue()
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: Any) -> None:
                pass

            def _reply(self, status: int) -> None:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                connection_id = unquote(self.path.rsplit("/", 1)[-1])
                inbox.on_post(connection_id, json.loads(body))
                self._reply(200)

            def do_DELETE(self) -> None:
                self._reply(204)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def on_post(self, connection_id: str, frame: list[Any]) -> None:
        self.posts.put((connection_id, frame))

    def drain(self) -> list[tuple[str, list[Any]]]:
        drained = []
        while True:
            try:
                drained.append(self.posts.get_nowait())
            except queue.Empty:
                return drained

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture(scope="module")
def inbox(stack_env: pytest.MonkeyPatch) -> Iterator[Inbox]:
    running = Inbox()
    stack_env.setenv("WEBSOCKET_MANAGEMENT_ENDPOINT", running.url)
    bootstrap.reset()
    yield running
    running.close()


@pytest.fixture
def answer_within(monkeypatch: pytest.MonkeyPatch, inbox: Inbox):
    """Sets the chargers' answer deadline (PENDING_CALL_TTL_SECONDS) for one test."""

    def setting(seconds: int) -> None:
        monkeypatch.setenv("PENDING_CALL_TTL_SECONDS", str(seconds))
        bootstrap.reset()

    yield setting
    inbox.drain()
    monkeypatch.undo()
    bootstrap.reset()


@pytest.fixture
def redis_probe(own_redis: services.Server) -> Iterator[redis_lib.Redis]:
    client = redis_state.connect(f"redis://127.0.0.1:{own_redis.port}/0")
    yield client
    client.close()


@dataclass
class Chargers:
    """Charge points with live (registered) connections, one tenant."""

    tenant_id: str
    connections: dict[str, ConnectionInfo] = field(default_factory=dict)

    @property
    def ids(self) -> list[str]:
        return list(self.connections)

    def by_connection(self) -> dict[str, ConnectionInfo]:
        return {c.connection_id: c for c in self.connections.values()}


def connect_chargers(fleet: Fleet, count: int, name: str) -> Chargers:
    chargers = Chargers(fleet.tenant_id)
    for i in range(count):
        cp_id = f"{name}-{i:05d}-{fleet.suffix}"
        chargers.connections[cp_id] = registered_connection(fleet.tenant_id, cp_id)
    return chargers


def submit(tenant_id: str, cp_id: str, token: str) -> str:
    command = bootstrap.command_service().submit(
        tenant_id, cp_id, "DataTransfer", {"vendorId": "resilience", "data": token})
    return command.command_id


def keys(client: redis_lib.Redis, kind: str) -> list[str]:
    prefix = bootstrap.settings().redis_key_prefix
    return list(client.scan_iter(f"{prefix}:{kind}:*", count=1000))


def answer(handlers: Handlers, connection_id: str, frame: list[Any]) -> None:
    """The charger's CallResult to a DataTransfer, echoing what it was sent."""
    sent = frame[3]["data"]
    reply = handlers.message(connection_id, [3, frame[1], {"status": "Accepted",
                                                            "data": f"answer-to-{sent}"}])
    assert reply is None  # an answer gets no answer


def test_a_thousand_answers_each_complete_exactly_their_own_command(
    stack_fleet: Fleet, answer_within, inbox: Inbox, handlers: Handlers,
    redis_probe: redis_lib.Redis, log_watch: LogWatch,
):
    answer_within(120)
    chargers = connect_chargers(stack_fleet, CHARGERS, "CORR")
    with ThreadPoolExecutor(WORKERS) as pool:
        command_ids = dict(zip(chargers.ids, pool.map(
            lambda cp: submit(chargers.tenant_id, cp, f"token-{cp}"), chargers.ids),
            strict=True))
    pending = keys(redis_probe, "pending")
    posts = inbox.drain()
    random.Random(14).shuffle(posts)  # answered in no particular order

    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(lambda post: answer(handlers, *post), posts))

    log = bootstrap.tenant_store().for_tenant(chargers.tenant_id).commands
    finished = {cp: log.get(command_id) for cp, command_id in command_ids.items()}
    assert len(pending) == CHARGERS
    assert len(posts) == CHARGERS
    for cp, command in finished.items():
        assert command is not None and command.status is CommandStatus.COMPLETED
        assert command.response == {"status": "Accepted", "data": f"answer-to-token-{cp}"}
    assert keys(redis_probe, "pending") == [] and keys(redis_probe, "inflight") == []
    assert log_watch.unexpected() == []


def test_the_sweep_times_out_every_overdue_call_and_leaves_no_pending_keys(
    stack_fleet: Fleet, answer_within, inbox: Inbox, handlers: Handlers,
    redis_probe: redis_lib.Redis, log_watch: LogWatch,
):
    answer_within(1)
    chargers = connect_chargers(stack_fleet, MANY, "MUTE")
    with ThreadPoolExecutor(WORKERS) as pool:
        command_ids = list(pool.map(
            lambda cp: submit(chargers.tenant_id, cp, "never answered"), chargers.ids))
    deadline = max(c.expires_at for c in map(command_of(chargers.tenant_id), command_ids))
    # The deadline must pass on the clock; nothing announces it.
    time.sleep(max(0.0, deadline.timestamp() - time.time()) + 0.05)

    swept: dict[str, int] = {"timed_out": 0}
    while swept["timed_out"] < MANY:  # the sweep takes at most 1,000 per tenant a run
        ran = handlers("command_sweeper", {"source": "aws.events", "detail": {}})
        if ran["timed_out"] == 0:
            break
        swept["timed_out"] += ran["timed_out"]

    ended = [command_of(chargers.tenant_id)(c) for c in command_ids]
    # Another test's sweep (every sweep walks every tenant) may end some of them first.
    assert 0 < swept["timed_out"] <= MANY
    assert {(c.status, (c.error or {}).get("reason")) for c in ended} == {
        (CommandStatus.TIMED_OUT, NO_ANSWER_IN_TIME)}
    assert keys(redis_probe, "pending") == [] and keys(redis_probe, "inflight") == []
    assert log_watch.unexpected() == []


def command_of(tenant_id: str):
    log = bootstrap.tenant_store().for_tenant(tenant_id).commands

    def get(command_id: str):
        command = log.get(command_id)
        assert command is not None
        return command

    return get


def test_concurrent_submitters_and_answerers_keep_one_call_in_flight_per_charger(
    stack_fleet: Fleet, answer_within, inbox: Inbox, handlers: Handlers,
    redis_probe: redis_lib.Redis, log_watch: LogWatch,
):
    answer_within(120)
    per_charger = scaled(10, 40)
    chargers = connect_chargers(stack_fleet, scaled(20, 100), "BUSY")
    who = chargers.by_connection()
    in_flight: dict[str, str | None] = dict.fromkeys(chargers.ids)
    overlaps: list[tuple[str, str, str]] = []
    answered = threading.Semaphore(0)
    guard = threading.Lock()
    rng = random.Random(14)

    def charger_side() -> None:
        """Answers whatever arrives; notes a Call that comes while another is open."""
        while True:
            connection_id, frame = inbox.posts.get()
            if frame is None:
                return
            cp = who[connection_id].charge_point_id
            with guard:
                if in_flight[cp] is not None:
                    overlaps.append((cp, str(in_flight[cp]), frame[1]))
                in_flight[cp] = frame[1]
            # A charger takes a moment over each Call: the window in which a concurrent
            # submitter must not send it another one.
            time.sleep(rng.uniform(0, 0.005))
            with guard:  # cleared before answering: the answer releases the next Call
                in_flight[cp] = None
            answer(handlers, connection_id, frame)
            answered.release()

    answerers = [threading.Thread(target=charger_side) for _ in range(4)]
    for thread in answerers:
        thread.start()
    jobs = [(cp, n) for cp in chargers.ids for n in range(per_charger)]
    random.Random(41).shuffle(jobs)
    with ThreadPoolExecutor(WORKERS) as pool:
        command_ids = list(pool.map(
            lambda job: submit(chargers.tenant_id, job[0], f"{job[0]}#{job[1]}"), jobs))
    total = len(jobs)
    got = sum(answered.acquire(timeout=60) for _ in range(total))
    for _ in answerers:
        inbox.on_post("", None)  # type: ignore[arg-type]
    for thread in answerers:
        thread.join(10)

    statuses = defaultdict(int)
    for command_id in command_ids:
        statuses[command_of(chargers.tenant_id)(command_id).status] += 1
    assert got == total
    assert overlaps == []
    assert dict(statuses) == {CommandStatus.COMPLETED: total}
    assert keys(redis_probe, "cmdq") == [] and keys(redis_probe, "pending") == []
    assert log_watch.unexpected() == []


def memory_without_clients(client: redis_lib.Redis) -> int:
    """used_memory less the client buffers (they grow with the pool, not the data)."""
    memory = client.info("memory")
    return int(memory["used_memory"]) - int(memory.get("mem_clients_normal", 0))


def test_redis_memory_stays_bounded_and_no_command_keys_outlive_their_commands(
    stack_fleet: Fleet, answer_within, inbox: Inbox, handlers: Handlers,
    redis_probe: redis_lib.Redis, log_watch: LogWatch,
):
    answer_within(120)
    chargers = connect_chargers(stack_fleet, MANY, "MEM")
    earlier = keys(redis_probe, "cmddone")
    if earlier:
        redis_probe.delete(*earlier)  # earlier tests' tokens, expiring meanwhile
    keys_before = redis_probe.dbsize()
    settled: list[int] = []
    leftovers: list[dict[str, int]] = []

    for _ in range(scaled(3, 10)):  # the first round sizes Redis's tables: the baseline
        with ThreadPoolExecutor(WORKERS) as pool:
            list(pool.map(lambda cp: submit(chargers.tenant_id, cp, "x" * 200), chargers.ids))
        with ThreadPoolExecutor(WORKERS) as pool:
            list(pool.map(lambda post: answer(handlers, *post), inbox.drain()))
        leftovers.append({kind: len(keys(redis_probe, kind))
                          for kind in ("pending", "inflight", "cmdq", "replay")})
        # What completion leaves: a "done" token per command for callers that wait,
        # with a TTL of a minute. Nothing else of the commands stays.
        done_tokens = keys(redis_probe, "cmddone")
        assert len(done_tokens) == MANY
        assert all(0 < redis_probe.ttl(key) <= 60 for key in done_tokens)
        redis_probe.delete(*done_tokens)  # as their TTL will, within the minute
        settled.append(memory_without_clients(redis_probe))

    print(f"\n[seed 14] Redis used_memory less client buffers after each round of {MANY} "
          f"commands: {settled} B")
    assert all(sum(left.values()) == 0 for left in leftovers), leftovers
    assert redis_probe.dbsize() == keys_before  # the chargers' registry entries only
    # Rounds after the first leave memory where it was, give or take the ~100 KB by which
    # Redis's incremental rehashing moves used_memory with the same keys.
    assert max(settled[1:]) - settled[0] < REDIS_TABLE_NOISE_BYTES
    assert log_watch.unexpected() == []
