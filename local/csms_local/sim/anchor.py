"""The anchor: a plain central system on the `ocpp` package, to measure the simulator and a
CSMS against. websockets.serve with one ocpp.v16 ChargePoint per connection and @on
handlers for what chargers send; no authentication, no storage, nothing shared.

    python -m csms_local.sim.anchor --port 9100    # ws://127.0.0.1:9100/ocpp/<id>
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
import signal
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action
from websockets.asyncio.server import Server, ServerConnection, serve

_transaction_ids = itertools.count(1)


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


_ACCEPTED = {"status": "Accepted"}


class AnchorChargePoint(ChargePoint):
    """The central system's side of one connection."""

    @on(Action.boot_notification)
    def on_boot(self, **_: Any) -> call_result.BootNotification:
        return call_result.BootNotification(current_time=_now(), interval=300, status="Accepted")

    @on(Action.heartbeat)
    def on_heartbeat(self) -> call_result.Heartbeat:
        return call_result.Heartbeat(current_time=_now())

    @on(Action.status_notification)
    def on_status(self, **_: Any) -> call_result.StatusNotification:
        return call_result.StatusNotification()

    @on(Action.authorize)
    def on_authorize(self, id_tag: str) -> call_result.Authorize:
        return call_result.Authorize(id_tag_info=_ACCEPTED)

    @on(Action.start_transaction)
    def on_start(self, **_: Any) -> call_result.StartTransaction:
        return call_result.StartTransaction(
            transaction_id=next(_transaction_ids), id_tag_info=_ACCEPTED
        )

    @on(Action.stop_transaction)
    def on_stop(self, **_: Any) -> call_result.StopTransaction:
        return call_result.StopTransaction()

    @on(Action.meter_values)
    def on_meter_values(self, **_: Any) -> call_result.MeterValues:
        return call_result.MeterValues()

    @on(Action.data_transfer)
    def on_data_transfer(self, **_: Any) -> call_result.DataTransfer:
        return call_result.DataTransfer(status="Accepted")

    @on(Action.diagnostics_status_notification)
    def on_diagnostics(self, **_: Any) -> call_result.DiagnosticsStatusNotification:
        return call_result.DiagnosticsStatusNotification()

    @on(Action.firmware_status_notification)
    def on_firmware(self, **_: Any) -> call_result.FirmwareStatusNotification:
        return call_result.FirmwareStatusNotification()


class Anchor:
    """The anchor central system on 127.0.0.1; `connections` holds each connected charge
    point's ChargePoint (tests send commands through it)."""

    def __init__(
        self, port: int = 0, charge_point: type[AnchorChargePoint] = AnchorChargePoint
    ) -> None:
        self.port = port
        self.charge_point = charge_point
        self.connections: dict[str, AnchorChargePoint] = {}
        self.connected = asyncio.Condition()
        self._server: Server | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ocpp"

    async def start(self) -> Anchor:
        self._server = await serve(
            self._serve,
            "127.0.0.1",
            self.port,
            subprotocols=["ocpp1.6"],  # type: ignore[list-item]
            ping_interval=None,
            compression=None,
        )
        self.port = int(next(iter(self._server.sockets)).getsockname()[1])
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def __aenter__(self) -> Anchor:
        return await self.start()

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    async def wait_for(
        self, charge_point_id: str, other_than: AnchorChargePoint | None = None
    ) -> AnchorChargePoint:
        """The charge point's connection once there is one (not `other_than`)."""

        def arrived() -> bool:
            current = self.connections.get(charge_point_id)
            return current is not None and current is not other_than

        async with self.connected:
            await self.connected.wait_for(arrived)
            return self.connections[charge_point_id]

    async def _serve(self, websocket: ServerConnection) -> None:
        path = websocket.request.path if websocket.request is not None else "/"
        charge_point_id = path.rstrip("/").rsplit("/", 1)[-1]
        charge_point = self.charge_point(charge_point_id, websocket)
        async with self.connected:
            self.connections[charge_point_id] = charge_point
            self.connected.notify_all()
        try:
            await charge_point.start()
        except Exception:  # the connection closed: that is how a session ends
            pass
        finally:
            if self.connections.get(charge_point_id) is charge_point:
                del self.connections[charge_point_id]


async def _serve_forever(port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with Anchor(port) as anchor:
        print(f"anchor listening on {anchor.url}/<id>", flush=True)
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m csms_local.sim.anchor", description=__doc__)
    parser.add_argument("--port", type=int, default=9100)
    args = parser.parse_args(argv)
    logging.getLogger("ocpp").setLevel(logging.WARNING)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_forever(args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
