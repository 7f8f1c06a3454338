"""The local gateway's invocation threads: jobs run off the loop, results come back to it."""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import AsyncIterator

import pytest
from csms_local.invocations import InvocationThreads


@pytest.fixture
async def threads() -> AsyncIterator[InvocationThreads]:
    pool = InvocationThreads(asyncio.get_running_loop(), size=4, name="test")
    yield pool
    pool.stop()


async def test_a_job_runs_on_another_thread_and_its_result_reaches_the_loop(
    threads: InvocationThreads,
) -> None:
    result = await threads.run(threading.get_ident)

    assert result != threading.get_ident()


async def test_a_failing_job_raises_its_exception_to_whoever_awaits_it(
    threads: InvocationThreads,
) -> None:
    def fail() -> None:
        raise ValueError("integration failed")

    with pytest.raises(ValueError, match="integration failed"):
        await threads.run(fail)


async def test_jobs_run_side_by_side_up_to_the_thread_count(
    threads: InvocationThreads,
) -> None:
    # Given four jobs that each wait until all four have started
    everyone_started = threading.Barrier(4, timeout=10)

    # When they are run at once
    results = await asyncio.gather(*(threads.run(everyone_started.wait) for _ in range(4)))

    # Then none waited for another to finish (the barrier would have broken)
    assert sorted(results) == [0, 1, 2, 3]


async def test_no_more_threads_start_than_the_size(threads: InvocationThreads) -> None:
    names: set[str] = set()

    def name() -> None:
        names.add(threading.current_thread().name)

    await asyncio.gather(*(threads.run(name) for _ in range(200)))

    assert 1 <= len(names) <= 4


async def test_results_finishing_together_all_arrive(threads: InvocationThreads) -> None:
    # Given many jobs released at the same moment (results gather between wake-ups)
    go = threading.Event()

    def job(n: int) -> int:
        go.wait(10)
        return n

    futures = [threads.run(functools.partial(job, n)) for n in range(500)]
    go.set()

    # Then every one of them gets its own result
    assert await asyncio.wait_for(asyncio.gather(*futures), 10) == list(range(500))


async def test_a_cancelled_waiter_does_not_stop_the_results_after_it(
    threads: InvocationThreads,
) -> None:
    release = threading.Event()
    abandoned = threads.run(lambda: release.wait(10))
    abandoned.cancel()
    release.set()

    assert await threads.run(lambda: "next") == "next"


async def test_stopped_threads_take_no_more_jobs(threads: InvocationThreads) -> None:
    await threads.run(lambda: None)
    threads.stop()

    with pytest.raises(RuntimeError, match="stopped"):
        threads.run(lambda: None)
