"""The resilience suite (issue 10, seeds 13-18): the local stack under faults and load.

Each module gets a stack of its own where it breaks things: a Redis server it may stop,
restart or flush (own_redis), the handlers wired to it (stack_env), the local gateway in
front of them (stack_gateway) and a tenant with charge points (stack_fleet). MongoDB is the
session's server (tests/conftest.py): nothing here stops it.

Sizes: every test is bounded in time and count and talks only to 127.0.0.1. The CI form
is the default; SOAK=1 (`make soak`) selects the long form through `scaled(ci, soak)`.
Every module marks itself `resilience`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import websockets
from csms import bootstrap
from csms.domain.model import ConnectionInfo
from csms_local import services
from csms_local.admin import Admin
from csms_local.gateway import GatewayLimits
from csms_local.lambdas import LambdaContext, load_handler

from tests.e2e.conftest import Fleet, GatewayThread, start_gateway

SOAK = os.environ.get("SOAK", "") not in ("", "0")


def scaled(ci: int, soak: int) -> int:
    """A count (or a number of seconds) of the CI form, or of the long form under SOAK=1."""
    return soak if SOAK else ci


# ---------- what the handlers and the gateway log ----------


class LogWatch(logging.Handler):
    """Counts what the handlers and the local gateway log as failures: records at ERROR
    and above, or carrying a traceback. The Powertools logger ("csms") does not
    propagate to the root logger, so the watch hangs on both."""

    LOGGERS = ("", "csms", "csms_local")

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self._seen: set[int] = set()

    def emit(self, record: logging.LogRecord) -> None:
        if id(record) in self._seen:
            return
        if record.levelno >= logging.ERROR or record.exc_info:
            self._seen.add(id(record))
            self.records.append(record)

    def unexpected(self, *allowed: str) -> list[str]:
        """The failures logged whose message matches none of the `allowed` patterns."""
        found = []
        for record in list(self.records):
            text = record.getMessage()
            if any(re.search(pattern, text) for pattern in allowed):
                continue
            detail = ""
            if record.exc_info and record.exc_info[1] is not None:
                detail = f": {type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
            found.append(f"{record.name}: {text}{detail}")
        return found

    @contextlib.contextmanager
    def attached(self) -> Iterator[LogWatch]:
        loggers = [logging.getLogger(name) for name in self.LOGGERS]
        for logger in loggers:
            logger.addHandler(self)
        try:
            yield self
        finally:
            for logger in loggers:
                logger.removeHandler(self)


@pytest.fixture
def log_watch() -> Iterator[LogWatch]:
    with LogWatch().attached() as watch:
        yield watch


# ---------- a stack of the module's own ----------


@pytest.fixture(scope="module")
def own_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[services.Server]:
    """A Redis server of the module's own, which its tests may stop, restart on the same
    port or flush. Like ElastiCache without persistence, it keeps nothing over a restart."""
    work = tmp_path_factory.mktemp("redis")
    server = services.redis(services.free_port(), work, work / "redis.log").start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def stack_env(own_redis: services.Server, mongodb_uri: str) -> Iterator[pytest.MonkeyPatch]:
    """The handlers' environment: own Redis, the session's MongoDB, records stored inline
    (modules that want the events queue add its variables to this patch)."""
    patch = pytest.MonkeyPatch()
    settings = {
        "MONGODB_URI": mongodb_uri,
        "REDIS_URL": f"redis://127.0.0.1:{own_redis.port}/0",
        "REDIS_KEY_PREFIX": f"res-{uuid.uuid4().hex[:8]}",
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_REGION": "us-east-1",
        "JWT_SECRET": secrets.token_urlsafe(32),
    }
    for name, value in settings.items():
        patch.setenv(name, value)
    for name in ("EVENTS_QUEUE_URL", "EVENTS_DLQ_URL", "MQTT_URL", "AWS_ENDPOINT_URL"):
        patch.delenv(name, raising=False)
    bootstrap.reset()
    yield patch
    patch.undo()
    bootstrap.reset()


@pytest.fixture(scope="module")
def stack_gateway(stack_env: pytest.MonkeyPatch) -> Iterator[GatewayThread]:
    running = start_gateway(GatewayLimits(), stack_env)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def stack_fleet(stack_env: pytest.MonkeyPatch, mongodb_uri: str) -> Iterator[Fleet]:
    admin = Admin(mongodb_uri)
    suffix = uuid.uuid4().hex[:8]
    tenant_id = f"res{suffix}"
    admin.create_tenant(tenant_id, "resilience operator")
    admin.add_id_tag(tenant_id, "ACCEPTED", "Accepted", datetime.now(UTC) + timedelta(days=30),
                     None)
    with admin:
        yield Fleet(admin, tenant_id, suffix)


# ---------- the handlers, invoked as API Gateway would ----------


def registered_connection(tenant_id: str, charge_point_id: str) -> ConnectionInfo:
    """A connection as $connect leaves it in the registry (for tests that drive the
    $default handler directly, without a socket)."""
    connection = ConnectionInfo(f"c-{uuid.uuid4().hex[:12]}", charge_point_id, tenant_id,
                                "ocpp1.6", datetime.now(UTC))
    bootstrap.connection_registry().register(connection)
    return connection


class Handlers:
    """functions/<name>/app.py, loaded as SAM packages them, invoked with events."""

    def __init__(self) -> None:
        self._loaded: dict[str, Callable[[dict[str, Any], Any], dict[str, Any]]] = {}

    def __call__(self, name: str, event: dict[str, Any]) -> dict[str, Any]:
        handler = self._loaded.get(name) or self._loaded.setdefault(name, load_handler(name))
        return handler(event, LambdaContext(name, uuid.uuid4().hex))

    def message(self, connection_id: str, frame: list[Any] | str) -> list[Any] | None:
        """The $default reply to one frame (None when there is none)."""
        body = frame if isinstance(frame, str) else json.dumps(frame)
        result = self("ws_message", {"requestContext": {"connectionId": connection_id},
                                     "body": body})
        return json.loads(result["body"]) if "body" in result else None


@pytest.fixture
def handlers() -> Handlers:
    return Handlers()


def rss_kib(pid: int) -> int:
    """A process's resident set size, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def until(predicate: Callable[[], bool], timeout: float, step: float = 0.05) -> bool:
    """Polls `predicate` until it holds or `timeout` passes; for state that announces
    nothing (a Redis key, a stored document): callers say why they poll."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


async def reply_to(ws: websockets.ClientConnection, frame: list[Any] | str,
                   timeout: float = 10.0) -> list[Any]:
    """Send one frame on a raw socket, return the next frame received."""
    await ws.send(frame if isinstance(frame, str) else json.dumps(frame))
    answer: list[Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout))
    return answer
