"""The anchor: a plain central system on the `ocpp` package, to measure the simulator and a
CSMS against. websockets.serve with one ocpp.v16 (or, with --ocpp 2.0.1, ocpp.v201)
ChargePoint per connection and @on handlers for what chargers send; no authentication, no
storage, nothing shared.

    python -m csms_local.sim.anchor --port 9100    # ws://127.0.0.1:9100/ocpp/<id>
    python -m csms_local.sim.anchor --port 9101 --ocpp 2.0.1
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

from ocpp.charge_point import ChargePoint as AnyChargePoint
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call_result as call_result201
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


class AnchorChargePoint201(ChargePoint201):
    """The central system's side of one OCPP 2.0.1 connection."""

    @on("BootNotification")
    def on_boot(self, **_: Any) -> call_result201.BootNotification:
        return call_result201.BootNotification(
            current_time=_now(), interval=300, status="Accepted"
        )

    @on("Heartbeat")
    def on_heartbeat(self) -> call_result201.Heartbeat:
        return call_result201.Heartbeat(current_time=_now())

    @on("StatusNotification")
    def on_status(self, **_: Any) -> call_result201.StatusNotification:
        return call_result201.StatusNotification()

    @on("Authorize")
    def on_authorize(self, **_: Any) -> call_result201.Authorize:
        return call_result201.Authorize(id_token_info=_ACCEPTED)

    @on("TransactionEvent")
    def on_transaction_event(self, **kwargs: Any) -> call_result201.TransactionEvent:
        # Only a Started or an event carrying a token gets the token's status back.
        if kwargs.get("id_token") is not None:
            return call_result201.TransactionEvent(id_token_info=_ACCEPTED)
        return call_result201.TransactionEvent()

    @on("MeterValues")
    def on_meter_values(self, **_: Any) -> call_result201.MeterValues:
        return call_result201.MeterValues()

    @on("NotifyReport")
    def on_notify_report(self, **_: Any) -> call_result201.NotifyReport:
        return call_result201.NotifyReport()

    @on("NotifyCustomerInformation")
    def on_customer_information(self, **_: Any) -> call_result201.NotifyCustomerInformation:
        return call_result201.NotifyCustomerInformation()

    @on("LogStatusNotification")
    def on_log_status(self, **_: Any) -> call_result201.LogStatusNotification:
        return call_result201.LogStatusNotification()

    @on("FirmwareStatusNotification")
    def on_firmware(self, **_: Any) -> call_result201.FirmwareStatusNotification:
        return call_result201.FirmwareStatusNotification()


# The anchor's ChargePoint class and subprotocol by OCPP version.
_BY_VERSION: dict[str, tuple[type[AnyChargePoint], str]] = {
    "1.6": (AnchorChargePoint, "ocpp1.6"),
    "2.0.1": (AnchorChargePoint201, "ocpp2.0.1"),
}


class Anchor:
    """The anchor central system on 127.0.0.1; `connections` holds each connected charge
    point's ChargePoint (tests send commands through it). `charge_point` defaults to the
    version's anchor class; a subclass of it may replace it."""

    def __init__(
        self,
        port: int = 0,
        charge_point: type[AnyChargePoint] | None = None,
        ocpp: str = "1.6",
    ) -> None:
        default, self.subprotocol = _BY_VERSION[ocpp]
        self.port = port
        self.charge_point = charge_point or default
        self.connections: dict[str, AnyChargePoint] = {}
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
            subprotocols=[self.subprotocol],  # type: ignore[list-item]
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
        self, charge_point_id: str, other_than: AnyChargePoint | None = None
    ) -> AnyChargePoint:
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


async def _serve_forever(port: int, ocpp: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with Anchor(port, ocpp=ocpp) as anchor:
        print(f"anchor listening on {anchor.url}/<id>", flush=True)
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m csms_local.sim.anchor", description=__doc__)
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--ocpp", choices=tuple(_BY_VERSION), default="1.6")
    args = parser.parse_args(argv)
    logging.getLogger("ocpp").setLevel(logging.WARNING)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_forever(args.port, args.ocpp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
