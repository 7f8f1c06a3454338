"""Seed 17: frames generated from the OCPP 1.6 JSON schemas, valid and broken in every way
frames.py knows, sent through the local gateway on several connections at once (text and
binary). Every Call is answered with a CallResult or the right CallError, nothing is
answered twice or left unanswered, nothing is logged as an unhandled failure, every
answered frame is in the message log, and the Central System still serves afterwards.

CI sends a 10,000-frame slice; SOAK=1 sends 100,000 (FUZZ_FRAMES overrides both)."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest
import websockets

from tests.e2e.conftest import Fleet, GatewayThread, raw_socket
from tests.message_log import logged

from .conftest import LogWatch, reply_to, scaled
from .frames import ANSWERED, RESULT, SILENT, FrameGenerator, Generated

pytestmark = pytest.mark.resilience

FRAMES = int(os.environ.get("FUZZ_FRAMES") or scaled(10_000, 100_000))
CONNECTIONS = 8
SEED = 17
REPLY_TIMEOUT = 15.0


@dataclass
class Outcome:
    """What one connection sent and got."""

    cp_id: str
    sent: int = 0
    replies: int = 0
    logged_in: int = 0
    wrong: list[str] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)


def check(frame: Generated, reply: list | None) -> str | None:
    """Why `reply` is not what `frame` must get, or None when it is."""
    if frame.expect == SILENT:
        return None if reply is None else f"answered a {frame.kind} it must not: {reply}"
    if reply is None:
        return f"no reply to {frame.kind}"
    if reply[0] not in (3, 4) or reply[1] != frame.unique_id:
        return f"{frame.kind}: reply {reply[:3]} for id {frame.unique_id!r}"
    if frame.expect == ANSWERED:
        return None
    if frame.expect == RESULT:
        return None if reply[0] == 3 else f"{frame.kind}: {reply[:4]} for {str(frame.data)[:200]}"
    if reply[0] != 4 or reply[2] != frame.expect:
        return f"{frame.kind}: expected {frame.expect}, got {reply[:4]} for {str(frame.data)[:200]}"
    return None


async def drive(gateway: GatewayThread, cp_id: str, frames: list[Generated]) -> Outcome:
    """Sends the frames one after another, each reply read before the next frame goes:
    a reply that comes to a silent frame shows up as the next frame's mismatch."""
    outcome = Outcome(cp_id)
    async with raw_socket(gateway, cp_id, max_size=None) as ws:
        for frame in frames:
            await ws.send(frame.data)
            outcome.sent += 1
            outcome.kinds[frame.kind] += 1
            outcome.logged_in += frame.logged_in
            reply = None
            if frame.expect != SILENT:
                reply = json.loads(await asyncio.wait_for(ws.recv(), REPLY_TIMEOUT))
                outcome.replies += 1
            problem = check(frame, reply)
            if problem:
                outcome.wrong.append(problem)
        # A last Call: its reply, not a late one to a silent frame, must come next.
        last = await reply_to(ws, [2, "fuzz-last", "Heartbeat", {}])
        if last[:2] != [3, "fuzz-last"]:
            outcome.wrong.append(f"after the frames: {last[:3]}")
        outcome.replies += 1
        outcome.logged_in += 1
    return outcome


# What the handlers may log at WARNING with a traceback is not an unhandled failure;
# every ERROR and every traceback counts.
EXPECTED_LOGS = ()


async def test_generated_frames_are_each_answered_correctly_logged_and_never_crash(
    stack_gateway: GatewayThread, stack_fleet: Fleet, log_watch: LogWatch
):
    generators = [FrameGenerator(SEED * 1000 + n, id_prefix=f"c{n}-")
                  for n in range(CONNECTIONS)]
    per_connection = FRAMES // CONNECTIONS
    cp_ids = [stack_fleet.add_charge_point(f"FUZZ{n}") for n in range(CONNECTIONS)]
    started = time.monotonic()

    outcomes = await asyncio.gather(*(
        drive(stack_gateway, cp_id, list(generator.frames(per_connection)))
        for cp_id, generator in zip(cp_ids, generators, strict=True)
    ))

    elapsed = time.monotonic() - started
    sent = sum(o.sent for o in outcomes)
    kinds = sum((o.kinds for o in outcomes), Counter())
    print(f"\n[seed 17] {sent} frames on {CONNECTIONS} connections in {elapsed:.1f} s "
          f"({sent / elapsed:.0f} frames/s); kinds: {dict(sorted(kinds.items()))}")
    wrong = [problem for o in outcomes for problem in o.wrong]
    assert wrong[:20] == [] and len(wrong) == 0
    messages = stack_fleet.db["ocpp_messages"]
    for outcome in outcomes:
        entries = logged(messages, {"charge_point_id": outcome.cp_id})
        logged_in = sum(e["direction"] == "in" for e in entries)
        logged_out = sum(e["direction"] == "out" for e in entries)
        assert (logged_in, logged_out) == (outcome.logged_in, outcome.replies), outcome.cp_id
    assert log_watch.unexpected(*EXPECTED_LOGS) == []
    gateway_failures = [r for r in log_watch.records if "integration failed" in r.getMessage()]
    assert gateway_failures == []


async def test_a_lone_surrogate_in_a_payload_is_answered_and_stored(
    stack_gateway: GatewayThread, stack_fleet: Fleet, log_watch: LogWatch
):
    cp_id = stack_fleet.add_charge_point("SURROGATE")
    async with raw_socket(stack_gateway, cp_id) as ws:
        reply = await reply_to(ws, '[2,"s1","DataTransfer",{"vendorId":"V\\ud800"}]')

    assert reply[:2] == [3, "s1"]
    assert log_watch.unexpected() == []


@pytest.mark.parametrize(("size", "fragments"), [
    pytest.param(33 * 1024, 1, id="one-33KB-frame"),
    pytest.param(129 * 1024, 5, id="129KB-message-in-5-frames"),
])
async def test_an_oversized_frame_or_message_closes_with_1009_and_others_are_still_served(
    stack_gateway: GatewayThread, stack_fleet: Fleet, log_watch: LogWatch, size: int,
    fragments: int,
):
    cp_id = stack_fleet.add_charge_point(f"BIG{size}")
    text = json.dumps([2, "big", "DataTransfer", {"vendorId": "V", "data": "x" * size}])
    step = -(-len(text) // fragments)
    async with raw_socket(stack_gateway, cp_id, max_size=None) as ws:
        await ws.send([text[i:i + step] for i in range(0, len(text), step)]
                      if fragments > 1 else text)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
    async with raw_socket(stack_gateway, cp_id) as ws:
        served = await reply_to(ws, [2, "after-big", "Heartbeat", {}])

    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    assert served[:2] == [3, "after-big"]
    assert log_watch.unexpected() == []
