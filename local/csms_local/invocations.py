"""Threads that run the gateway's Lambda invocations and hand the results to its loop.

`loop.run_in_executor` costs the local gateway's event loop about a seventh of its CPU
under a saturating fleet (py-spy): each call builds a concurrent Future (with its own
Condition), an asyncio Future chained to it by callbacks, and wakes the loop through its
self-pipe once per result. Here a job is one put on a C queue, and finished jobs gather
in a deque that the loop empties in one callback: one wake-up for however many results
arrived meanwhile.
"""

from __future__ import annotations

import asyncio
import collections
import queue
import threading
from collections.abc import Callable
from typing import Any

_STOP = None


class InvocationThreads:
    """Up to `size` threads, started as work arrives, running jobs in arrival order."""

    def __init__(self, loop: asyncio.AbstractEventLoop, size: int, name: str) -> None:
        if size < 1:
            raise ValueError("at least one thread")
        self._loop = loop
        self._size = size
        self._name = name
        self._jobs: queue.SimpleQueue[
            tuple[Callable[[], Any], asyncio.Future[Any]] | None
        ] = queue.SimpleQueue()
        self._finished: collections.deque[
            tuple[asyncio.Future[Any], Any, BaseException | None]
        ] = collections.deque()
        self._lock = threading.Lock()
        self._wake_pending = False  # a _deliver is scheduled and has not emptied yet
        self._threads: list[threading.Thread] = []
        self._idle = 0  # threads free for a job not yet handed one (under _lock)
        self._stopped = False

    def run(self, job: Callable[[], Any]) -> asyncio.Future[Any]:
        """`job`'s result (or exception), as a future of the loop; called on the loop."""
        if self._stopped:
            raise RuntimeError(f"{self._name} threads are stopped")
        future: asyncio.Future[Any] = self._loop.create_future()
        self._jobs.put((job, future))
        with self._lock:
            # Each job takes an idle thread or starts one (as ThreadPoolExecutor does): a
            # burst queued within one turn of the loop gets as many threads as it needs.
            if self._idle:
                self._idle -= 1
                return future
            if len(self._threads) >= self._size:
                return future  # all busy: the job waits for the first one free
            thread = threading.Thread(
                target=self._work, name=f"{self._name}_{len(self._threads)}", daemon=True
            )
            self._threads.append(thread)
        thread.start()
        return future

    def stop(self) -> None:
        """Threads end after the jobs already queued (nobody waits for them)."""
        self._stopped = True
        for _ in self._threads:
            self._jobs.put(_STOP)

    def _work(self) -> None:
        while True:
            item = self._jobs.get()
            if item is _STOP:
                return
            job, future = item
            try:
                self._finished.append((future, job(), None))
            except BaseException as error:  # handed to whoever awaits the future
                self._finished.append((future, None, error))
            with self._lock:
                self._idle += 1
                if self._wake_pending:
                    continue  # the scheduled _deliver has not run yet: it takes this too
                self._wake_pending = True
            try:
                self._loop.call_soon_threadsafe(self._deliver)
            except RuntimeError:
                return  # the loop is closed: nobody is left to tell

    def _deliver(self) -> None:
        # Cleared before emptying: a result appended after this point schedules its own
        # _deliver; one appended before it is taken below.
        with self._lock:
            self._wake_pending = False
        finished = self._finished
        while finished:
            future, result, error = finished.popleft()
            if future.cancelled():
                continue
            if error is None:
                future.set_result(result)
            else:
                future.set_exception(error)
