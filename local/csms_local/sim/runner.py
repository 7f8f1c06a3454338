"""A run: chargers brought up over --ramp, driven for --duration (or until the last storm),
then stopped; a progress line every second; one process, or --processes workers whose
counters the parent merges."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import multiprocessing.connection
import resource
import signal
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TextIO

from csms_local.sim import profiles
from csms_local.sim.client import Charger
from csms_local.sim.client201 import new_charger
from csms_local.sim.config import SimConfig
from csms_local.sim.stats import Stats, Summary

PROGRESS_EVERY = 1.0
SNAPSHOT_EVERY = 0.5
# Storm gate: given a storm's number, waits until every process is ready, then returns the
# wall-clock time the storm starts at.
StormGate = Callable[[int], Awaitable[float]]


async def _now_gate(_: int) -> float:
    return time.time()


@dataclass
class ShareResult:
    elapsed: float
    connected_at_end: int


def raise_open_files(sockets: int) -> None:
    """Room for one socket per charger, plus some."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = sockets + 256
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))


async def _until(condition: Callable[[], bool], every: float = 0.02) -> None:
    while not condition():
        await asyncio.sleep(every)


async def _storms(
    chargers: list[Charger], config: SimConfig, stats: Stats, gate: StormGate
) -> None:
    n = len(chargers)
    for number in range(1, config.storms + 1):
        await _until(lambda: stats.booted >= n)
        started = await gate(number)
        try:
            await asyncio.gather(*(profiles.storm(c, number, started) for c in chargers))
            await _until(lambda: stats.booted >= n)
        except asyncio.CancelledError:
            stats.errors["storm:not back at the end"] += n - stats.booted
            raise
        stats.storm_seconds.append(time.time() - started)


async def run_share(
    config: SimConfig,
    indices: list[int],
    stats: Stats,
    stop: asyncio.Event,
    storm_gate: StormGate = _now_gate,
) -> ShareResult:
    """Drives the chargers with these indices (of config.charger_ids()) in this process."""
    ids = config.charger_ids()
    ssl_context = config.ssl_context()
    step = config.ramp / config.chargers
    stats.ramp_ends = time.monotonic() + config.ramp
    chargers = [(i, new_charger(ids[i], config, stats)) for i in indices]

    async def start(index: int, charger: Charger) -> None:
        await asyncio.sleep(index * step)
        await profiles.lifecycle(charger, profiles.body_for(config, index), ssl_context)

    began = time.monotonic()
    tasks = [asyncio.create_task(start(i, c)) for i, c in chargers]
    waits: set[asyncio.Future[Any]] = {asyncio.ensure_future(stop.wait())}
    if config.profile == "storm":
        waits.add(
            asyncio.ensure_future(_storms([c for _, c in chargers], config, stats, storm_gate))
        )
    try:
        done, _ = await asyncio.wait(
            waits, timeout=config.duration, return_when=asyncio.FIRST_COMPLETED
        )
        for finished in done:
            if not finished.cancelled() and finished.exception() is not None:
                raise finished.exception()  # type: ignore[misc]
    finally:
        elapsed = time.monotonic() - began
        connected = stats.connected
        stats.run_ends = time.monotonic()  # the closing StopTransactions are not the fleet's
        for waiting in waits:
            waiting.cancel()
        for task in tasks:
            task.cancel()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(profiles.SHUTDOWN_GRACE + 5):
                await asyncio.gather(*tasks, *waits, return_exceptions=True)
    return ShareResult(elapsed, connected)


def _progress_line(stats: Stats, chargers: int, elapsed: float, rate: float) -> str:
    p50, p99 = stats.latency.percentile(50), stats.latency.percentile(99)
    lat = "-" if p50 is None or p99 is None else f"{p50 * 1000:.1f}/{p99 * 1000:.1f} ms"
    return (
        f"[{elapsed:6.1f}s] connected {stats.connected}/{chargers}  msgs/s {rate:7.0f}  "
        f"p50/p99 {lat}  errors {sum(stats.errors.values())}"
    )


class Progress:
    def __init__(self, chargers: int, out: TextIO | None) -> None:
        self.chargers = chargers
        self.out = out
        self.began = time.monotonic()
        self._last = (self.began, 0)

    def show(self, stats: Stats) -> None:
        now = time.monotonic()
        then, answered = self._last
        rate = (stats.calls_answered - answered) / (now - then) if now > then else 0.0
        self._last = (now, stats.calls_answered)
        if self.out is not None:
            print(_progress_line(stats, self.chargers, now - self.began, rate), file=self.out)
            self.out.flush()


async def simulate(
    config: SimConfig, progress: TextIO | None = sys.stderr, stop: asyncio.Event | None = None
) -> Summary:
    """The whole run in this process and event loop (processes must be 1)."""
    config.check()
    if config.processes != 1:
        raise ValueError("simulate runs in one process; use run() for --processes")
    raise_open_files(config.chargers)
    stats = Stats()
    stop = stop or asyncio.Event()
    meter = Progress(config.chargers, progress if config.progress else None)

    async def report() -> None:
        while True:
            await asyncio.sleep(PROGRESS_EVERY)
            meter.show(stats)

    reporter = asyncio.create_task(report())
    try:
        result = await run_share(config, list(range(config.chargers)), stats, stop)
    finally:
        reporter.cancel()
    return _summary(config, stats, result)


def _summary(config: SimConfig, stats: Stats, result: ShareResult) -> Summary:
    return Summary.of(
        stats,
        target=config.url,
        profile=config.profile,
        chargers=config.chargers,
        processes=config.processes,
        elapsed=result.elapsed,
        connected_at_end=result.connected_at_end,
        ocpp=config.ocpp,
    )


def run(config: SimConfig, progress: TextIO | None = sys.stderr) -> Summary:
    """A run from synchronous code: in this process, or in config.processes workers.
    Ctrl-C ends it early with a summary of what happened so far."""
    config.check()
    if config.processes == 1:
        return asyncio.run(_run_here(config, progress))
    return _Orchestra(config, progress).run()


async def _run_here(config: SimConfig, progress: TextIO | None) -> Summary:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGINT, stop.set)
        loop.add_signal_handler(signal.SIGTERM, stop.set)
    return await simulate(config, progress, stop)


# --- worker processes ---


def _worker_main(
    config: SimConfig, indices: list[int], conn: multiprocessing.connection.Connection
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent says when to stop
    raise_open_files(len(indices))
    asyncio.run(_worker(config, indices, conn))


async def _worker(
    config: SimConfig, indices: list[int], conn: multiprocessing.connection.Connection
) -> None:
    loop = asyncio.get_running_loop()
    stats = Stats()
    stop = asyncio.Event()
    storm_starts: dict[int, asyncio.Future[float]] = {}
    send_lock = threading.Lock()

    def send(message: tuple[Any, ...]) -> None:
        with send_lock, contextlib.suppress(OSError):
            conn.send(message)

    def storm_future(number: int) -> asyncio.Future[float]:
        return storm_starts.setdefault(number, loop.create_future())

    def listen() -> None:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                loop.call_soon_threadsafe(stop.set)
                return
            if message[0] == "stop":
                loop.call_soon_threadsafe(stop.set)
            elif message[0] == "go":
                loop.call_soon_threadsafe(open_gate, message[1], message[2])

    def open_gate(number: int, started: float) -> None:
        future = storm_future(number)
        if not future.done():
            future.set_result(started)

    async def gate(number: int) -> float:
        send(("ready", number))
        return await storm_future(number)

    async def snapshots() -> None:
        while True:
            await asyncio.sleep(SNAPSHOT_EVERY)
            send(("stats", stats))

    threading.Thread(target=listen, daemon=True).start()
    reporter = asyncio.create_task(snapshots())
    try:
        result = await run_share(config, indices, stats, stop, gate)
    finally:
        reporter.cancel()
    send(("done", stats, result.elapsed, result.connected_at_end))


class _Orchestra:
    """The parent: starts the workers, merges their counters, prints progress, opens the
    storm gate when every worker is ready, and stops them on Ctrl-C or when overdue."""

    def __init__(self, config: SimConfig, progress: TextIO | None) -> None:
        self.config = config
        self.meter = Progress(config.chargers, progress if config.progress else None)
        context = multiprocessing.get_context("spawn")
        self.workers: list[tuple[Any, multiprocessing.connection.Connection]] = []
        for p in range(config.processes):
            parent_end, child_end = context.Pipe()
            indices = list(range(p, config.chargers, config.processes))
            process = context.Process(
                target=_worker_main, args=(config, indices, child_end), daemon=True
            )
            self.workers.append((process, parent_end))
        self.latest: dict[int, Stats] = {}
        self.final: dict[int, tuple[Stats, float, int]] = {}
        self.ready: dict[int, set[int]] = {}

    def merged(self) -> Stats:
        total = Stats()
        for p in range(len(self.workers)):
            snapshot = self.final[p][0] if p in self.final else self.latest.get(p)
            if snapshot is not None:
                total.merge(snapshot)
        return total

    def run(self) -> Summary:
        for process, _ in self.workers:
            process.start()
        overdue = time.monotonic() + self.config.duration + profiles.SHUTDOWN_GRACE + 60
        next_print = time.monotonic() + PROGRESS_EVERY
        by_conn = {id(conn): p for p, (_, conn) in enumerate(self.workers)}
        try:
            while len(self.final) < len(self.workers) and time.monotonic() < overdue:
                open_conns = [c for p, (_, c) in enumerate(self.workers) if p not in self.final]
                timeout = max(0.0, next_print - time.monotonic())
                for conn in multiprocessing.connection.wait(open_conns, timeout):
                    self._receive(by_conn[id(conn)], conn)  # type: ignore[arg-type]
                if time.monotonic() >= next_print:
                    self.meter.show(self.merged())
                    next_print += PROGRESS_EVERY
        except KeyboardInterrupt:
            self._broadcast(("stop",))
            self._collect(time.monotonic() + profiles.SHUTDOWN_GRACE + 10)
        finally:
            for process, _ in self.workers:
                process.join(5)
                if process.is_alive():
                    process.terminate()
        stats = self.merged()
        elapsed = max((f[1] for f in self.final.values()), default=self.config.duration)
        connected = sum(f[2] for f in self.final.values())
        return _summary(self.config, stats, ShareResult(elapsed, connected))

    def _collect(self, until: float) -> None:
        while len(self.final) < len(self.workers) and time.monotonic() < until:
            for p, (_, conn) in enumerate(self.workers):
                if p not in self.final and conn.poll(0.1):
                    self._receive(p, conn)

    def _receive(self, p: int, conn: multiprocessing.connection.Connection) -> None:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            self.final.setdefault(p, (self.latest.get(p, Stats()), 0.0, 0))
            return
        kind = message[0]
        if kind == "stats":
            self.latest[p] = message[1]
        elif kind == "done":
            self.final[p] = (message[1], message[2], message[3])
        elif kind == "ready":
            number = message[1]
            self.ready.setdefault(number, set()).add(p)
            if len(self.ready[number]) == len(self.workers):
                self._broadcast(("go", number, time.time()))

    def _broadcast(self, message: tuple[Any, ...]) -> None:
        for p, (_, conn) in enumerate(self.workers):
            if p not in self.final:
                with contextlib.suppress(OSError):
                    conn.send(message)
