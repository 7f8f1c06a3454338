"""The local gateway under a reconnect storm: handshakes wait their turn for $connect, and
one whose client gave up meanwhile is dropped, quietly, before it reaches $connect.

Real sockets to a real gateway; the route handlers are stand-ins (a $connect that holds
its only slot until released), because the gateway's queueing is what is under test."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from csms_local.gateway import WebSocketGateway
from websockets.asyncio.client import ClientConnection, connect

SUBPROTOCOL = "ocpp1.6"


@dataclass
class HeldConnect:
    """A $connect that records who called and holds each call until released."""

    calls: list[str] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.calls.append(event["queryStringParameters"]["chargePointId"])
        self.release.wait(10)
        return {"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": SUBPROTOCOL}}


@dataclass
class Storm:
    gateway: WebSocketGateway
    connect: HeldConnect

    def url(self, charge_point_id: str) -> str:
        return f"ws://127.0.0.1:{self.gateway.port}/ocpp/{charge_point_id}"


@pytest.fixture
async def one_connect_at_a_time() -> AsyncIterator[Storm]:
    held = HeldConnect()
    gateway = WebSocketGateway(
        connect=held,
        default=lambda event, context: {"statusCode": 200},
        disconnect=lambda event, context: {"statusCode": 200},
        port=0,
        connect_concurrency=1,
    )
    await gateway.start()
    yield Storm(gateway, held)
    held.release.set()
    await gateway.stop()


async def until(condition: Callable[[], bool], seconds: float = 10) -> None:
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.01)


async def open_socket(storm: Storm, charge_point_id: str) -> ClientConnection:
    return await connect(storm.url(charge_point_id), subprotocols=[SUBPROTOCOL])  # type: ignore[list-item]


async def give_up_waiting(storm: Storm, charge_point_id: str) -> None:
    """A client whose handshake times out (it closes its socket) behind a busy $connect."""
    with contextlib.suppress(TimeoutError):
        async with connect(
            storm.url(charge_point_id), subprotocols=[SUBPROTOCOL], open_timeout=0.3  # type: ignore[list-item]
        ):
            pass


async def second_gives_up_behind_first_then_third_connects(storm: Storm) -> None:
    """FIRST holds the only $connect slot; SECOND gives up waiting behind it; the slot
    frees; THIRD, next in line after SECOND, connects (so SECOND's turn has passed)."""
    first = asyncio.create_task(open_socket(storm, "FIRST"))
    await until(lambda: storm.connect.calls == ["FIRST"])
    await give_up_waiting(storm, "SECOND")
    await until(lambda: storm.gateway.waiting_handshakes() == 1)  # FIRST's; SECOND has gone
    storm.connect.release.set()
    await (await first).close()
    await (await open_socket(storm, "THIRD")).close()


async def test_a_client_that_left_while_its_handshake_waited_never_reaches_connect(
    one_connect_at_a_time: Storm,
) -> None:
    await second_gives_up_behind_first_then_third_connects(one_connect_at_a_time)
    assert one_connect_at_a_time.connect.calls == ["FIRST", "THIRD"]


async def test_a_client_leaving_during_its_handshake_logs_no_error(
    one_connect_at_a_time: Storm, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await second_gives_up_behind_first_then_third_connects(one_connect_at_a_time)
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert [r for r in caplog.records if r.exc_info] == []
