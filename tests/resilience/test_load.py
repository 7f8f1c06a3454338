"""Seed 18: fifty chargers at 100 messages a second or more through the local gateway, every
Call answered and every message logged; latency idle and under load, and how soon a lone
charger is served at idle speed again once the load stops.

Performance is measured by the benchmarks, not asserted by tests: the CI form asserts
correctness only and prints its figures. The long form (SOAK=1) runs for 10 minutes,
asserts the rate, loaded p99 <= 2x idle p99, and memory growth under 10 % across the
stack's processes (RSS from /proc of this process, which runs the gateway and the
handlers, and of the Redis and MongoDB servers), and prints them.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from csms_local import services

from tests.e2e.conftest import Fleet, GatewayThread, raw_socket
from tests.message_log import logged

from .conftest import SOAK, LogWatch, rss_kib, scaled

pytestmark = pytest.mark.resilience

CHARGERS = 50
TARGET_RATE = scaled(120, 120)  # messages per second, all chargers together
LOAD_SECONDS = scaled(10, 600)
IDLE_SAMPLES = scaled(100, 500)
WARM_UP = scaled(2, 60)


@dataclass
class Charger:
    cp_id: str
    latencies: list[float] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    sent: int = 0


def traffic(n: int) -> tuple[str, dict]:
    """A charger's everyday mix: heartbeats, status changes, meter readings."""
    now = datetime.now(UTC).isoformat()
    kind = n % 4
    if kind == 1:
        return "StatusNotification", {"connectorId": 1, "errorCode": "NoError",
                                      "status": ["Available", "Preparing"][n % 2],
                                      "timestamp": now}
    if kind == 3:
        return "MeterValues", {"connectorId": 1, "meterValue": [
            {"timestamp": now, "sampledValue": [{"value": str(n)}]}]}
    return "Heartbeat", {}


async def run_charger(gateway: GatewayThread, charger: Charger, interval: float,
                      until: float) -> None:
    """Sends on a fixed schedule (open loop), one Call outstanding at a time."""
    # 50 first logins at once pay 50 scrypt checks: on a loaded 2-core runner that takes
    # longer than the client's default 10 s handshake timeout (API Gateway waits 29 s).
    async with raw_socket(gateway, charger.cp_id, open_timeout=29) as ws:
        next_at = time.monotonic()
        while time.monotonic() < until:
            action, payload = traffic(charger.sent)
            message_id = f"m{charger.sent}"
            started = time.perf_counter()
            await ws.send(json.dumps([2, message_id, action, payload]))
            reply = json.loads(await asyncio.wait_for(ws.recv(), 30))
            charger.latencies.append(time.perf_counter() - started)
            charger.sent += 1
            if reply[:2] != [3, message_id]:
                charger.wrong.append(f"{action}: {reply[:4]}")
            next_at += interval
            # The schedule, not an event: a charger sends when its interval is up.
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98] if len(samples) > 1 else samples[0]


async def idle_latencies(gateway: GatewayThread, cp_id: str, count: int) -> list[float]:
    charger = Charger(cp_id)
    async with raw_socket(gateway, cp_id) as ws:
        for n in range(count):
            started = time.perf_counter()
            await ws.send(json.dumps([2, f"idle{n}", "Heartbeat", {}]))
            await asyncio.wait_for(ws.recv(), 30)
            charger.latencies.append(time.perf_counter() - started)
    return charger.latencies


async def back_to_idle_speed(gateway: GatewayThread, cp_id: str, limit: float) -> float:
    """Seconds after the load until a lone charger's Heartbeat takes no more than `limit`."""
    started = time.monotonic()
    async with raw_socket(gateway, cp_id) as ws:
        for n in range(10_000):
            sent = time.perf_counter()
            await ws.send(json.dumps([2, f"after{n}", "Heartbeat", {}]))
            await asyncio.wait_for(ws.recv(), 30)
            if time.perf_counter() - sent <= limit or time.monotonic() - started > 60:
                break
    return time.monotonic() - started


async def sample_memory(samples: list[dict[str, int]], warm_up: float, until: float,
                        *servers: services.Server) -> None:
    """RSS of the stack's processes once the warm-up is over, then at the end."""
    await asyncio.sleep(warm_up)  # a point in time, not an event
    samples.append(stack_rss_kib(*servers))
    await asyncio.sleep(max(0.0, until - time.monotonic()))
    samples.append(stack_rss_kib(*servers))


def stack_rss_kib(*servers: services.Server) -> dict[str, int]:
    sizes = {"tests+gateway+handlers": rss_kib(os.getpid())}
    for server in servers:
        assert server.process is not None
        sizes[server.name] = rss_kib(server.process.pid)
    return sizes


async def test_fifty_chargers_at_100_msgs_per_second_are_all_answered_and_logged(
    stack_gateway: GatewayThread, stack_fleet: Fleet, own_redis: services.Server,
    mongo_server: services.Server, log_watch: LogWatch,
):
    cp_ids = [stack_fleet.add_charge_point(f"LOAD{n:02d}") for n in range(CHARGERS)]
    probe = stack_fleet.add_charge_point("PROBE")
    idle = await idle_latencies(stack_gateway, probe, IDLE_SAMPLES)
    chargers = [Charger(cp_id) for cp_id in cp_ids]
    started = time.monotonic()
    until = started + LOAD_SECONDS
    # Memory is compared from the end of the warm-up (pools, caches, tables filled).
    samples: list[dict[str, int]] = []
    sampler = asyncio.create_task(sample_memory(samples, WARM_UP, until, own_redis,
                                                mongo_server))

    await asyncio.gather(*(run_charger(stack_gateway, c, CHARGERS / TARGET_RATE, until)
                           for c in chargers))

    elapsed = time.monotonic() - started
    await sampler
    memory_before, memory_after = samples[0], samples[-1]
    recovery = await back_to_idle_speed(stack_gateway, probe, 2 * p99(idle))
    sent = sum(c.sent for c in chargers)
    loaded = [latency for c in chargers for latency in c.latencies]
    rate = sent / elapsed
    growth = {name: (memory_after[name] - memory_before[name]) / memory_before[name]
              for name in memory_before}
    print(f"\n[seed 18] {CHARGERS} chargers, {sent} Calls in {elapsed:.1f} s: {rate:.0f} msgs/s "
          f"(target {TARGET_RATE}); idle p99 {p99(idle) * 1000:.1f} ms, loaded p99 "
          f"{p99(loaded) * 1000:.1f} ms (ratio {p99(loaded) / p99(idle):.2f}); back to idle "
          f"speed after {recovery:.2f} s; RSS KiB before {memory_before}, after "
          f"{memory_after}, growth {({k: f'{v:+.1%}' for k, v in growth.items()})}")

    assert [w for c in chargers for w in c.wrong] == []
    messages = stack_fleet.db["ocpp_messages"]
    for charger in chargers:
        entries = logged(messages, {"charge_point_id": charger.cp_id})
        calls = sum(e["direction"] == "in" and e["message_type"] == "Call" for e in entries)
        replies = sum(e["direction"] == "out" for e in entries)
        assert (calls, replies) == (charger.sent, charger.sent), charger.cp_id
    assert log_watch.unexpected() == []
    if SOAK:  # the benchmark's claims, asserted only in the long form
        assert rate >= 100
        assert p99(loaded) <= 2 * p99(idle)
        assert all(g < 0.10 for g in growth.values()), growth
