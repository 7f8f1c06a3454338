"""One simulated charge point on raw OCPP-J frames: the connection, the Calls in flight and
OCPP 1.6's messages here; client201.py speaks 2.0.1 (and 2.1) on the same machinery.

The `ocpp` package's ChargePoint validates every frame against the JSON schemas and
routes through decorators: about 0.5 ms of CPU per round trip on these machines, against
~0.02 ms for the frames here, so with thousands of chargers on two cores the generator,
not the CSMS, would be what is measured. This client builds valid payloads itself,
keeps OCPP's rule of one outstanding Call per charger, and answers the CSMS's Calls
through `responder`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import errno
import json
import ssl
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from csms_local.sim import responder
from csms_local.sim.config import SimConfig
from csms_local.sim.stats import Stats

CALL, CALLRESULT, CALLERROR = 2, 3, 4


class CallFailed(Exception):
    """A Call got no CallResult (CallError, timeout, or the connection went away)."""


class ConnectionLost(CallFailed):
    pass


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Charger:
    """A charge point: its connections over time, connectors, transactions, settings."""

    def __init__(self, charge_point_id: str, config: SimConfig, stats: Stats) -> None:
        self.charge_point_id = charge_point_id
        self.config = config
        self.stats = stats
        self.id_tag = config.id_tag
        self.ws: ClientConnection | None = None
        self.booted = False
        # connector (1.6) or EVSE (2.0.1) -> transaction id (the CSMS's integer in 1.6,
        # the charger's own string in 2.0.1)
        self.transactions: dict[int, int | str] = {}
        self.starting: set[int] = set()
        self.meter_wh = 0
        self.configuration = {
            "HeartbeatInterval": str(int(config.heartbeat_interval)),
            "MeterValueSampleInterval": str(int(config.meter_interval)),
            "AuthorizeRemoteTxRequests": "false",
            "NumberOfConnectors": "1",
        }
        # Set by a Reset or a storm: come back at once, without the backoff of a failure.
        self.reconnect_now = False
        # A password the CSMS pushed (and this charger accepted): used from the next connect.
        self.password: str | None = None
        self.storm: tuple[int, float] | None = None  # (number, wall-clock start)
        self._ids = f"{uuid.uuid4().hex[:10]}-"
        self._next_id = 0
        self._lock = asyncio.Lock()  # one outstanding Call (OCPP-J 4.1.1)
        self._pending: dict[str, tuple[asyncio.Future[Any], float, str, asyncio.TimerHandle]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._follow_ups: set[asyncio.Task[None]] = set()
        self._closing = False
        self._ever_connected = False

    # --- connection ---

    async def connect(self, ssl_context: ssl.SSLContext | None) -> bool:
        """Opens a WebSocket; False (and the reason counted) when that fails."""
        headers = {}
        password = self.password or self.config.password_of(self.charge_point_id)
        subprotocol = self.config.subprotocol
        if password is not None:
            token = base64.b64encode(f"{self.charge_point_id}:{password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        try:
            ws = await connect(
                self.config.url_of(self.charge_point_id),
                subprotocols=[subprotocol],  # type: ignore[list-item]
                additional_headers=headers,
                ssl=ssl_context,
                open_timeout=self.config.connect_timeout,
                ping_interval=None,
                compression=None,
                proxy=None,
                user_agent_header="csms-sim",
                close_timeout=5,
            )
        except InvalidStatus as exc:
            self.stats.error(f"connect:HTTP {exc.response.status_code}")
            return False
        except TimeoutError:
            self.stats.error("connect:timeout")
            return False
        except ssl.SSLError:
            self.stats.error("connect:TLS")
            return False
        except InvalidHandshake as exc:  # e.g. InvalidMessage: closed during the handshake
            self.stats.error(f"connect:{type(exc).__name__}")
            return False
        except OSError as exc:
            name = errno.errorcode.get(exc.errno or 0, "OSError")
            self.stats.error(f"connect:{name}")
            return False
        if ws.subprotocol != subprotocol:
            self.stats.error(f"connect:no {subprotocol} subprotocol")
            await ws.close()
            return False
        self.ws = ws
        self._closing = False
        self.booted = False
        self.stats.connects += 1
        self.stats.connected += 1
        if self._ever_connected:
            self.stats.reconnects += 1
        self._ever_connected = True
        self._reader = asyncio.create_task(self._read(ws))
        return True

    @property
    def reader(self) -> asyncio.Task[None] | None:
        return self._reader

    @property
    def is_open(self) -> bool:
        return self._reader is not None and not self._reader.done()

    async def wait_closed(self) -> None:
        if self._reader is not None:
            await asyncio.shield(self._reader)

    async def close(self) -> None:
        """Closes the WebSocket on purpose (a reboot, a storm, the end of the run)."""
        self._closing = True
        ws, self.ws = self.ws, None
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await self._reader

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                try:
                    frame = json.loads(raw)
                    kind = frame[0]
                except (ValueError, TypeError, IndexError, KeyError):
                    self.stats.error("received:malformed frame")
                    continue
                if kind in (CALLRESULT, CALLERROR):
                    self._complete(frame)
                elif kind == CALL:
                    await self._answer(ws, frame)
                else:
                    self.stats.error("received:unknown message type")
        except ConnectionClosed:
            pass
        finally:
            self.stats.connected -= 1
            if self.booted:
                self.stats.booted -= 1
                self.booted = False
            if not self._closing:
                code = ws.close_code if ws.close_code is not None else 1006
                self.stats.error(f"disconnect:{code}")
            for future, _, _, timer in self._pending.values():
                timer.cancel()
                if not future.done():
                    future.set_exception(ConnectionLost())
            self._pending.clear()

    def _complete(self, frame: list[Any]) -> None:
        entry = self._pending.pop(frame[1], None)
        if entry is None:
            self.stats.error("received:reply to no pending Call")
            return
        future, sent_at, action, timer = entry
        timer.cancel()
        self.stats.answered(action, time.perf_counter() - sent_at)
        if future.done():
            return
        if frame[0] == CALLRESULT:
            future.set_result(frame[2] if len(frame) > 2 else {})
        else:
            code = frame[2] if len(frame) > 2 else "?"
            self.stats.error(f"CallError:{code}")
            future.set_exception(CallFailed(code))

    async def _answer(self, ws: ClientConnection, frame: list[Any]) -> None:
        try:
            _, unique_id, action, payload = frame[:4]
        except ValueError:
            self.stats.error("received:malformed Call")
            return
        # A charger takes its frames in order: the callers of the replies read just before
        # this Call (a StartTransaction's transactionId, say) see them before it is answered.
        await asyncio.sleep(0)
        result = self.respond(str(action), payload if isinstance(payload, dict) else {})
        if result.error is not None:
            reply: list[Any] = [CALLERROR, unique_id, result.error, "", {}]
        else:
            reply = [CALLRESULT, unique_id, result.payload]
        with contextlib.suppress(ConnectionClosed):
            await ws.send(json.dumps(reply))
            self.stats.commands_answered += 1
        if result.follow_up is not None:
            task = asyncio.create_task(self._run_follow_up(result.follow_up))
            self._follow_ups.add(task)
            task.add_done_callback(self._follow_ups.discard)

    def respond(self, action: str, payload: dict[str, Any]) -> responder.Answer:
        """This charger's answer to a Call of the CSMS (its OCPP version's responder)."""
        return responder.answer(self, action, payload)

    async def _run_follow_up(self, follow_up: responder.FollowUp) -> None:
        with contextlib.suppress(CallFailed):
            await follow_up()

    # --- calls ---

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Sends a Call and returns the CallResult's payload; CallFailed otherwise (counted)."""
        async with self._lock:
            ws = self.ws
            if ws is None or not self.is_open:
                raise ConnectionLost()
            self._next_id += 1
            unique_id = f"{self._ids}{self._next_id}"
            loop = asyncio.get_running_loop()
            future: asyncio.Future[dict[str, Any]] = loop.create_future()
            timer = loop.call_later(self.config.call_timeout, self._expire, unique_id)
            self._pending[unique_id] = (future, time.perf_counter(), action, timer)
            try:
                await ws.send(json.dumps([CALL, unique_id, action, payload]))
            except ConnectionClosed:
                timer.cancel()
                self._pending.pop(unique_id, None)
                if not future.done():
                    future.cancel()
                elif not future.cancelled():
                    future.exception()  # the reader failed it already: retrieved here
                raise ConnectionLost() from None
            self.stats.calls_sent += 1
            return await future

    def _expire(self, unique_id: str) -> None:
        entry = self._pending.pop(unique_id, None)
        if entry is not None and not entry[0].done():
            self.stats.error(f"timeout:{entry[2]}")
            entry[0].set_exception(CallFailed("timeout"))

    # --- what chargers send ---

    async def boot(self) -> dict[str, Any]:
        reply = await self.call(
            "BootNotification",
            {
                "chargePointVendor": "csms-sim",
                "chargePointModel": "SIM-1",
                "chargePointSerialNumber": self.charge_point_id[-25:],
                "firmwareVersion": "1.0.0",
            },
        )
        if reply.get("status") == "Accepted" and not self.booted:
            self.booted = True
            self.stats.booted += 1
        elif reply.get("status") != "Accepted":
            self.stats.error(f"BootNotification:{reply.get('status')}")
        return reply

    async def heartbeat(self) -> None:
        await self.call("Heartbeat", {})

    async def status(self, connector: int, status: str) -> None:
        await self.call(
            "StatusNotification",
            {
                "connectorId": connector,
                "errorCode": "NoError",
                "status": status,
                "timestamp": now_iso(),
            },
        )

    async def authorize(self, id_tag: str) -> str:
        reply = await self.call("Authorize", {"idTag": id_tag})
        return str(reply.get("idTagInfo", {}).get("status", "Invalid"))

    async def start_transaction(self, connector: int, id_tag: str) -> int | str | None:
        reply = await self.call(
            "StartTransaction",
            {
                "connectorId": connector,
                "idTag": id_tag,
                "meterStart": self.meter_wh,
                "timestamp": now_iso(),
            },
        )
        transaction_id = reply.get("transactionId")
        if not isinstance(transaction_id, int):
            self.stats.error("StartTransaction:no transactionId")
            return None
        self.stats.transactions_started += 1
        if reply.get("idTagInfo", {}).get("status") != "Accepted":
            # A real charger stops at once; the transaction still needs its StopTransaction.
            self.transactions[connector] = transaction_id
            await self.stop_transaction(connector, "DeAuthorized")
            return None
        self.transactions[connector] = transaction_id
        return transaction_id

    async def meter_values(self, connector: int) -> None:
        self.meter_wh += 1_000
        sample: dict[str, Any] = {
            "timestamp": now_iso(),
            "sampledValue": [
                {
                    "value": str(self.meter_wh),
                    "measurand": "Energy.Active.Import.Register",
                    "unit": "Wh",
                    "context": "Sample.Periodic",
                },
                {"value": "11000", "measurand": "Power.Active.Import", "unit": "W"},
            ],
        }
        payload: dict[str, Any] = {"connectorId": connector, "meterValue": [sample]}
        if connector in self.transactions:
            payload["transactionId"] = self.transactions[connector]
        await self.call("MeterValues", payload)

    async def stop_transaction(self, connector: int, reason: str = "Local") -> None:
        transaction_id = self.transactions.pop(connector, None)
        if transaction_id is None:
            return
        await self.call(
            "StopTransaction",
            {
                "transactionId": transaction_id,
                "meterStop": self.meter_wh,
                "timestamp": now_iso(),
                "reason": reason,
            },
        )
        self.stats.transactions_stopped += 1

    async def send_triggered(self, requested: str, connector: int) -> None:
        if requested == "BootNotification":
            await self.boot()
        elif requested == "Heartbeat":
            await self.heartbeat()
        elif requested == "StatusNotification":
            charging = connector in self.transactions
            await self.status(connector, "Charging" if charging else "Available")
        elif requested == "MeterValues":
            await self.meter_values(connector or 1)

    # --- what the profiles ask for, in each version's words ---

    async def initial_status(self) -> None:
        """The StatusNotifications after a boot: the charge point (0), then connector 1."""
        await self.status(0, "Available")
        await self.connector_status(1, 1 in self.transactions)

    async def connector_status(self, connector: int, in_use: bool) -> None:
        await self.status(connector, "Charging" if in_use else "Available")

    async def session_meter_values(self, connector: int) -> None:
        """A periodic sample during a session."""
        await self.meter_values(connector)

    async def between_sessions(self, connector: int) -> None:
        """What the charger sends after a session has ended (1.6: nothing)."""

    async def stop_all_transactions(self, reason: str) -> None:
        for connector in list(self.transactions):
            await self.stop_transaction(connector, reason)

    async def reboot(self, reason: str) -> None:
        """After an accepted Reset: end the transactions, close, and come back (the charger's
        main loop reconnects at once and boots)."""
        with contextlib.suppress(CallFailed):
            await self.stop_all_transactions(reason)
        self.reconnect_now = True
        await self.close()

