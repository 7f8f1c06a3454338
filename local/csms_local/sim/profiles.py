"""What each simulated charger does while connected, and its life across connections.

saturate  BootNotification, then Heartbeats back to back: the next one as soon as the
          answer to the last arrives (one Call in flight per charger).
fleet     BootNotification, StatusNotification for connectors 0 and 1, a Heartbeat every
          --heartbeat-interval s; a --charging-share of the chargers also charge:
          Authorize, StartTransaction, StatusNotification Charging, MeterValues every
          --meter-interval s for --session-seconds, StopTransaction, StatusNotification
          Available, a pause of one meter interval, and again.
          In 2.0.1 (and 2.1): StatusNotification for EVSE 1 connector 1 only; sessions are
          Authorize, TransactionEvent Started (a charger-made transactionId, seqNo 0),
          StatusNotification Occupied, TransactionEvent Updated with a meterValue every
          --meter-interval s, TransactionEvent Ended, StatusNotification Available, then
          MeterValues of the EVSE (its clock-aligned reading outside a transaction).
storm     like fleet without sessions until every charger is connected and booted; then
          all disconnect at once and reconnect at once, --storms times; the run ends when
          the last storm is over (or at --duration).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import ssl
import time
from collections.abc import Awaitable, Callable

from csms_local.sim.client import CallFailed, Charger, ConnectionLost
from csms_local.sim.config import SimConfig

Body = Callable[[Charger], Awaitable[None]]

BACKOFF_FIRST = 1.0
BACKOFF_MAX = 30.0
SHUTDOWN_GRACE = 10.0


async def boot_until_accepted(charger: Charger) -> None:
    """A charger sends nothing else before its BootNotification is accepted (OCPP 1.6 4.2,
    2.0.1 B02/B03)."""
    while True:
        try:
            reply = await charger.boot()
        except ConnectionLost:
            raise
        except CallFailed:
            continue  # counted; a real charger tries again
        if reply.get("status") == "Accepted":
            return
        interval = reply.get("interval")
        wait = float(interval) if isinstance(interval, int | float) and interval > 0 else 10.0
        await asyncio.sleep(min(wait, 30.0))


async def saturate(charger: Charger) -> None:
    while True:
        try:
            await charger.heartbeat()
        except ConnectionLost:
            return
        except CallFailed:
            continue


async def _every(
    interval: float, first_after: float, action: Callable[[], Awaitable[None]]
) -> None:
    await asyncio.sleep(first_after)
    while True:
        with contextlib.suppress(CallFailed):
            await action()
        await asyncio.sleep(interval)


async def _sessions(charger: Charger, config: SimConfig) -> None:
    await asyncio.sleep(random.uniform(0, config.meter_interval))
    connector = 1
    while True:
        with contextlib.suppress(CallFailed):
            # A real charger would stop at a refused tag; a load test goes on, and the
            # CSMS's answer to StartTransaction decides (refused: stopped at once).
            await charger.authorize(charger.id_tag)
            if connector not in charger.transactions and connector not in charger.starting:
                await charger.start_transaction(connector, charger.id_tag)
            if connector in charger.transactions:
                await charger.connector_status(connector, True)
                ends = time.monotonic() + config.session_seconds
                while time.monotonic() + config.meter_interval <= ends:
                    await asyncio.sleep(config.meter_interval)
                    await charger.session_meter_values(connector)
                await asyncio.sleep(max(0.0, ends - time.monotonic()))
                await charger.stop_transaction(connector, "Local")
                await charger.connector_status(connector, False)
                await charger.between_sessions(connector)
        await asyncio.sleep(config.meter_interval)


def charges(index: int, share: float) -> bool:
    """Whether charger number `index` (from 0) is one of the share that charges: spread
    evenly, round(n * share) of any n in a row."""
    return int((index + 1) * share) > int(index * share)


def fleet_body(config: SimConfig, index: int) -> Body:
    async def body(charger: Charger) -> None:
        try:
            await charger.initial_status()
        except ConnectionLost:
            return
        except CallFailed:
            pass
        loops = [
            _every(
                config.heartbeat_interval,
                random.uniform(0, config.heartbeat_interval),
                charger.heartbeat,
            )
        ]
        if charges(index, config.charging_share):
            loops.append(_sessions(charger, config))
        with contextlib.suppress(ConnectionLost):
            await asyncio.gather(*loops)

    return body


def idle_body(config: SimConfig) -> Body:
    async def body(charger: Charger) -> None:
        with contextlib.suppress(ConnectionLost):
            await _every(
                config.heartbeat_interval,
                random.uniform(0, config.heartbeat_interval),
                charger.heartbeat,
            )

    return body


def body_for(config: SimConfig, index: int) -> Body:
    if config.profile == "saturate":
        return saturate
    if config.profile == "fleet":
        return fleet_body(config, index)
    return idle_body(config)


async def lifecycle(charger: Charger, body: Body, ssl_context: ssl.SSLContext | None) -> None:
    """Connect, boot, run `body` while connected; come back after a lost connection (with
    backoff after a failure, at once after a Reset or a storm). Cancelled at the end of
    the run: ends open transactions (bounded) and closes."""
    backoff = BACKOFF_FIRST
    try:
        while True:
            if not await charger.connect(ssl_context):
                await asyncio.sleep(backoff * random.uniform(0.5, 1.5))
                backoff = min(backoff * 2, BACKOFF_MAX)
                continue
            backoff = BACKOFF_FIRST
            charger.reconnect_now = False
            await _connected(charger, body)
            if not charger.reconnect_now:
                await asyncio.sleep(backoff * random.uniform(0.5, 1.5))
    except asyncio.CancelledError:
        await _shutdown(charger)
        raise


async def _connected(charger: Charger, body: Body) -> None:
    """Runs until the connection is gone."""

    async def boot_then_body() -> None:
        try:
            await boot_until_accepted(charger)
        except ConnectionLost:
            return
        if charger.storm is not None:
            number, started_at = charger.storm
            charger.stats.storm_back(number, time.time() - started_at)
            charger.storm = None
        await body(charger)

    task = asyncio.create_task(boot_then_body())
    reader = charger.reader
    try:
        if reader is not None:
            await asyncio.wait({task, reader}, return_when=asyncio.FIRST_COMPLETED)
        if not task.done():
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, CallFailed):
            await task
        if charger.is_open:  # the body ended on its own: it has nothing more to do
            await charger.wait_closed()
    except asyncio.CancelledError:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, CallFailed):
            await task
        raise


async def _shutdown(charger: Charger) -> None:
    if not charger.is_open:
        return
    with contextlib.suppress(TimeoutError, CallFailed):
        async with asyncio.timeout(SHUTDOWN_GRACE):
            await charger.stop_all_transactions("Local")
    await charger.close()


async def storm(charger: Charger, number: int, started_at: float) -> None:
    """Drops the connection on purpose; `lifecycle` reconnects and boots at once."""
    charger.storm = (number, started_at)
    charger.reconnect_now = True
    await charger.close()
