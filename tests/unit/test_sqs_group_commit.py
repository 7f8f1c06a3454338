"""Invocations running at once in one process share SendMessageBatch calls, and each
still returns only once its own records are in the queue."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from csms.adapters.sqs import _GroupCommit


def entry(n: int, size: int = 10) -> dict:
    return {"MessageBody": "x" * size, "MessageGroupId": f"g{n}", "n": n}


class SlowQueue:
    """Records each call; the first call blocks until released, so others pile up."""

    def __init__(self) -> None:
        self.calls: list[list[int]] = []
        self.first_call = threading.Event()
        self.release = threading.Event()

    def send(self, entries: list[dict]) -> None:
        self.calls.append([e["n"] for e in entries])
        if len(self.calls) == 1:
            self.first_call.set()
            assert self.release.wait(10)


def test_a_lone_caller_sends_at_once_in_one_call():
    sent: list[list[dict]] = []
    _GroupCommit(sent.append).send([entry(1)])

    assert [[e["n"] for e in call] for call in sent] == [[1]]


def test_callers_arriving_during_a_call_share_the_next_one():
    queue = SlowQueue()
    commit = _GroupCommit(queue.send)
    with ThreadPoolExecutor(8) as pool:
        first = pool.submit(commit.send, [entry(0)])
        assert queue.first_call.wait(10)
        rest = [pool.submit(commit.send, [entry(n)]) for n in range(1, 8)]
        while len(commit._waiting) < 7:  # all seven queued behind the first call
            threading.Event().wait(0.001)
        queue.release.set()
        for future in [first, *rest]:
            future.result(10)

    assert queue.calls[0] == [0]
    assert sorted(queue.calls[1]) == list(range(1, 8))
    assert len(queue.calls) == 2


def test_a_round_never_exceeds_ten_entries_per_call():
    queue = SlowQueue()
    commit = _GroupCommit(queue.send)
    with ThreadPoolExecutor(16) as pool:
        first = pool.submit(commit.send, [entry(0)])
        assert queue.first_call.wait(10)
        rest = [pool.submit(commit.send, [entry(n), entry(n)]) for n in range(1, 13)]
        while len(commit._waiting) < 12:
            threading.Event().wait(0.001)
        queue.release.set()
        for future in [first, *rest]:
            future.result(10)

    assert all(len(call) <= 10 for call in queue.calls)
    assert sorted(n for call in queue.calls[1:] for n in call) == sorted(
        n for n in range(1, 13) for _ in range(2))


def test_a_failed_call_fails_exactly_the_callers_in_it():
    def refuse(entries: list[dict]) -> None:
        raise ConnectionError("SQS unreachable")

    with pytest.raises(ConnectionError):
        _GroupCommit(refuse).send([entry(1)])


def test_after_a_failure_the_next_caller_is_served():
    calls: list[int] = []

    def flaky(entries: list[dict]) -> None:
        calls.append(len(entries))
        if len(calls) == 1:
            raise ConnectionError("once")

    commit = _GroupCommit(flaky)
    with pytest.raises(ConnectionError):
        commit.send([entry(1)])
    commit.send([entry(2)])

    assert calls == [1, 1]
