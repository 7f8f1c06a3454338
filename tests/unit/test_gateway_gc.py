"""The local gateway's process holds thousands of connections; a full garbage collection
walks all of them with the event loop stopped, so the process runs collections less often
than CPython's default (docs/perf.md: 11 s of a 70 s reconnect storm before, 2.7 s after)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from csms_local.stack import tune_garbage_collection

CPYTHON_DEFAULT = (700, 10, 10)


@pytest.fixture
def restored_thresholds() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)


def allocations_between(thresholds: tuple[int, ...], generation: int) -> int:
    """Net allocations before a collection of this generation is considered."""
    count = 1
    for threshold in thresholds[: generation + 1]:
        count *= threshold
    return count


def test_the_gateway_examines_young_objects_less_often(restored_thresholds: None) -> None:
    tune_garbage_collection()

    assert allocations_between(gc.get_threshold(), 0) >= 5 * allocations_between(
        CPYTHON_DEFAULT, 0
    )


def test_the_gateway_walks_its_whole_heap_at_most_once_per_million_allocations(
    restored_thresholds: None,
) -> None:
    tune_garbage_collection()

    assert allocations_between(gc.get_threshold(), 2) >= 1_000_000
