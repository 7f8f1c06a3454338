"""csms-sim's counters: a fleet's latency once every charger is up is kept apart from
the ramp's, so "held" means the fleet in service, not its arrival."""

from __future__ import annotations

import time

from csms_local.sim.stats import Stats, Summary


def summary_of(stats: Stats) -> Summary:
    return Summary.of(stats, target="ws://x", profile="fleet", chargers=2, processes=1,
                      elapsed=1.0, connected_at_end=2)


def test_calls_answered_during_the_ramp_are_not_counted_after_it() -> None:
    stats = Stats()
    stats.ramp_ends = time.monotonic() + 3600
    stats.answered("BootNotification", 2.0)
    settled = summary_of(stats).latency_after_ramp_ms
    assert settled["calls"] == 0 and settled["p99"] is None


def test_calls_answered_after_the_ramp_are_counted_apart() -> None:
    stats = Stats()
    stats.ramp_ends = time.monotonic() + 3600
    stats.answered("BootNotification", 2.0)
    stats.ramp_ends = time.monotonic()
    stats.answered("Heartbeat", 0.02)
    summary = summary_of(stats)
    assert summary.latency_after_ramp_ms["calls"] == 1
    assert summary.latency_after_ramp_ms["max"] == 20.0
    assert summary.latency_ms["max"] == 2000.0


def test_processes_merge_their_after_ramp_latency() -> None:
    first, second = Stats(), Stats()
    for stats, seconds in ((first, 0.01), (second, 0.03)):
        stats.ramp_ends = time.monotonic()
        stats.answered("Heartbeat", seconds)
    first.merge(second)
    assert summary_of(first).latency_after_ramp_ms["calls"] == 2


def test_calls_answered_after_the_run_ended_are_not_counted_after_the_ramp() -> None:
    # The shutdown's StopTransactions come after the run: they are not the fleet in service
    stats = Stats()
    stats.ramp_ends = time.monotonic()
    stats.run_ends = time.monotonic()
    stats.answered("StopTransaction", 3.0)
    assert summary_of(stats).latency_after_ramp_ms["calls"] == 0
