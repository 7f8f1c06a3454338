"""make load's rounds (LOAD_ROUNDS): several runs against one target read as one."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

# bench/load.py imports its sibling cpu.py as a top-level module, as `make load` runs it.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
load = importlib.import_module("load")


def a_round(msgs: int, seconds: float, p99: float, cpu: dict[str, float]) -> dict[str, Any]:
    return {
        "chargers": 50,
        "msgs": msgs,
        "duration_s": seconds,
        "msgs_per_s": msgs / seconds,
        "latency_ms": {"p50": p99 / 2, "p95": p99 * 0.9, "p99": p99, "max": p99 * 2},
        "errors": {"timeout": 1} if msgs < 1000 else {},
        "error_count": 1 if msgs < 1000 else 0,
        "cpu_s": cpu,
    }


def test_the_rate_of_several_rounds_is_their_messages_over_their_time() -> None:
    rounds = [a_round(1200, 10.0, 80.0, {}), a_round(900, 10.0, 90.0, {}),
              a_round(1500, 10.0, 70.0, {})]

    total = load.combined(rounds)

    assert total["msgs"] == 3600
    assert total["duration_s"] == 30.0
    assert total["msgs_per_s"] == 120.0


def test_rounds_add_up_their_cpu_per_process_and_their_errors() -> None:
    rounds = [a_round(900, 10.0, 80.0, {"gateway": 1.0, "redis": 0.25}),
              a_round(800, 10.0, 80.0, {"gateway": 2.0})]

    total = load.combined(rounds)

    assert total["cpu_s"] == {"gateway": 3.0, "redis": 0.25}
    assert total["errors"] == {"timeout": 2}
    assert total["error_count"] == 2


def test_latency_of_rounds_is_the_median_of_theirs_and_the_worst_max() -> None:
    rounds = [a_round(1200, 10.0, p99, {}) for p99 in (80.0, 120.0, 90.0)]

    total = load.combined(rounds)

    assert total["latency_ms"]["p99"] == 90.0
    assert total["latency_ms"]["max"] == 240.0


def test_one_round_is_reported_as_it_was_and_none_as_nothing() -> None:
    only = a_round(1200, 10.0, 80.0, {"gateway": 1.0})

    assert load.combined([only]) is only
    assert load.combined([]) is None
