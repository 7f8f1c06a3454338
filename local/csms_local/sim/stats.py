"""What a run measured: a latency histogram (2 % buckets, so merging and percentiles stay
cheap for millions of calls) and counters, kept per process and merged for the summary."""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

_RATIO = 1.02
_LOG_RATIO = math.log(_RATIO)
_MIN_LATENCY = 1e-6  # one microsecond: everything faster lands in bucket 0


@dataclass
class Histogram:
    buckets: Counter[int] = field(default_factory=Counter)
    count: int = 0
    max: float = 0.0

    def add(self, seconds: float) -> None:
        if seconds > _MIN_LATENCY:
            self.buckets[int(math.log(seconds / _MIN_LATENCY) / _LOG_RATIO)] += 1
        else:
            self.buckets[0] += 1
        self.count += 1
        if seconds > self.max:
            self.max = seconds

    def merge(self, other: Histogram) -> None:
        self.buckets.update(other.buckets)
        self.count += other.count
        self.max = max(self.max, other.max)

    def percentile(self, p: float) -> float | None:
        """Seconds (to within 2 %), or None before the first sample."""
        if not self.count:
            return None
        rank = max(1, math.ceil(self.count * p / 100))
        seen = 0
        for index in sorted(self.buckets):
            seen += self.buckets[index]
            if seen >= rank:
                middle = _MIN_LATENCY * _RATIO ** (index + 0.5)
                return min(middle, self.max)
        return self.max


@dataclass
class Stats:
    """One process's counters; `merge` adds another's (a worker's snapshot)."""

    latency: Histogram = field(default_factory=Histogram)
    calls_sent: int = 0
    calls_answered: int = 0  # CallResult or CallError received
    commands_answered: int = 0  # Calls from the CSMS this fleet answered
    by_action: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    connects: int = 0
    reconnects: int = 0
    connected: int = 0  # open connections now
    booted: int = 0  # chargers whose BootNotification was accepted on this connection
    storm_seconds: list[float] = field(default_factory=list)  # per storm: until all booted
    storm_reconnect: dict[int, Histogram] = field(default_factory=dict)  # storm -> per charger
    transactions_started: int = 0
    transactions_stopped: int = 0
    # The fleet in service: latency of the Calls answered after the ramp, until the run
    # ends (not the StopTransactions of its shutdown). Times are time.monotonic()'s.
    after_ramp: Histogram = field(default_factory=Histogram)
    ramp_ends: float | None = None
    run_ends: float | None = None

    def answered(self, action: str, seconds: float) -> None:
        self.calls_answered += 1
        self.by_action[action] += 1
        self.latency.add(seconds)
        now = time.monotonic()
        if self.ramp_ends is not None and self.ramp_ends <= now and (
            self.run_ends is None or now < self.run_ends
        ):
            self.after_ramp.add(seconds)

    def storm_back(self, number: int, seconds: float) -> None:
        self.storm_reconnect.setdefault(number, Histogram()).add(seconds)

    def error(self, kind: str) -> None:
        self.errors[kind] += 1

    def merge(self, other: Stats) -> None:
        self.latency.merge(other.latency)
        self.after_ramp.merge(other.after_ramp)
        for number, histogram in other.storm_reconnect.items():
            self.storm_reconnect.setdefault(number, Histogram()).merge(histogram)
        for name in (
            "calls_sent",
            "calls_answered",
            "commands_answered",
            "connects",
            "reconnects",
            "connected",
            "booted",
            "transactions_started",
            "transactions_stopped",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.by_action.update(other.by_action)
        self.errors.update(other.errors)
        self.storm_seconds = _pairwise_max(self.storm_seconds, other.storm_seconds)


def _pairwise_max(a: list[float], b: list[float]) -> list[float]:
    """Storm k took as long as its slowest process."""
    longer, shorter = (a, b) if len(a) >= len(b) else (b, a)
    return [max(x, shorter[i]) if i < len(shorter) else x for i, x in enumerate(longer)]


def _storm(stats: Stats, number: int) -> Histogram:
    return stats.storm_reconnect.get(number) or Histogram()


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


def _percentiles(histogram: Histogram) -> dict[str, Any]:
    return {
        "calls": histogram.count,
        "p50": ms(histogram.percentile(50)),
        "p95": ms(histogram.percentile(95)),
        "p99": ms(histogram.percentile(99)),
        "max": ms(histogram.max) if histogram.count else None,
    }


@dataclass
class Summary:
    """The end of a run, as printed (and as JSON with --json; times in milliseconds)."""

    target: str
    profile: str
    chargers: int
    processes: int
    duration_s: float
    msgs: int
    msgs_per_s: float
    latency_ms: dict[str, float | None]
    latency_after_ramp_ms: dict[str, float | None]
    calls_sent: int
    commands_answered: int
    by_action: dict[str, int]
    errors: dict[str, int]
    error_count: int
    connects: int
    reconnects: int
    connected_at_end: int
    transactions: dict[str, int]
    storms: list[dict[str, Any]]
    verify: dict[str, Any] | None = None
    ocpp: str = "1.6"

    @classmethod
    def of(
        cls,
        stats: Stats,
        *,
        target: str,
        profile: str,
        chargers: int,
        processes: int,
        elapsed: float,
        connected_at_end: int,
        ocpp: str = "1.6",
    ) -> Summary:
        lat = stats.latency
        return cls(
            target=target,
            profile=profile,
            chargers=chargers,
            processes=processes,
            duration_s=round(elapsed, 3),
            msgs=stats.calls_answered,
            msgs_per_s=round(stats.calls_answered / elapsed, 1) if elapsed > 0 else 0.0,
            latency_ms={
                "p50": ms(lat.percentile(50)),
                "p95": ms(lat.percentile(95)),
                "p99": ms(lat.percentile(99)),
                "max": ms(lat.max) if lat.count else None,
            },
            latency_after_ramp_ms=_percentiles(stats.after_ramp),
            calls_sent=stats.calls_sent,
            commands_answered=stats.commands_answered,
            by_action=dict(sorted(stats.by_action.items())),
            errors=dict(sorted(stats.errors.items())),
            error_count=sum(stats.errors.values()),
            connects=stats.connects,
            reconnects=stats.reconnects,
            connected_at_end=connected_at_end,
            transactions={
                "started": stats.transactions_started,
                "stopped": stats.transactions_stopped,
            },
            storms=[
                {
                    "storm": i + 1,
                    "all_back_s": round(seconds, 3),
                    "reconnect_p50_ms": ms(_storm(stats, i + 1).percentile(50)),
                    "reconnect_p99_ms": ms(_storm(stats, i + 1).percentile(99)),
                }
                for i, seconds in enumerate(stats.storm_seconds)
            ],
            ocpp=ocpp,
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def text(self) -> str:
        lat = self.latency_ms
        lines = [
            f"csms-sim {self.profile} (OCPP {self.ocpp}): {self.chargers} chargers "
            f"({self.processes} process{'es' if self.processes > 1 else ''}) "
            f"against {self.target} for {self.duration_s:.1f} s",
            f"  messages   {self.msgs} answered of {self.calls_sent} sent, "
            f"{self.msgs_per_s:.1f} msgs/s; {self.commands_answered} CSMS commands answered",
            f"  latency    p50 {_fmt(lat['p50'])}  p95 {_fmt(lat['p95'])}  "
            f"p99 {_fmt(lat['p99'])}  max {_fmt(lat['max'])}",
        ]
        settled = self.latency_after_ramp_ms
        if settled["calls"]:
            lines.append(
                f"  after ramp p50 {_fmt(settled['p50'])}  p95 {_fmt(settled['p95'])}  "
                f"p99 {_fmt(settled['p99'])}  max {_fmt(settled['max'])} "
                f"({settled['calls']} calls)"
            )
        lines += [
            f"  connects   {self.connects} ({self.reconnects} reconnects), "
            f"{self.connected_at_end} connected at the end",
        ]
        if self.transactions["started"] or self.transactions["stopped"]:
            lines.append(
                f"  sessions   {self.transactions['started']} started, "
                f"{self.transactions['stopped']} stopped"
            )
        for storm in self.storms:
            lines.append(
                f"  storm {storm['storm']}    all back and booted after {storm['all_back_s']:.2f} s"
                f" (per charger p50 {_fmt(storm['reconnect_p50_ms'])}, "
                f"p99 {_fmt(storm['reconnect_p99_ms'])})"
            )
        if self.errors:
            lines.append(f"  errors     {self.error_count}:")
            lines.extend(f"    {kind}: {n}" for kind, n in self.errors.items())
        else:
            lines.append("  errors     none")
        if self.verify is not None:
            v = self.verify
            lines.append(
                f"  stored     {v['stored_calls']}/{v['expected_calls']} Calls and "
                f"{v['stored_replies']}/{v['expected_replies']} replies in the message log"
                f" ({'complete' if v['complete'] else 'INCOMPLETE'} after {v['waited_s']:.1f} s)"
            )
        return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} ms"
