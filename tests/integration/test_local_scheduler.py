"""The local stand-in for EventBridge schedules: a function runs on its interval with a
Scheduled Event, goes on after a failure, and stops at once when the stack stops."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from csms_local.scheduler import Schedule, Scheduler, scheduled_event

pytestmark = pytest.mark.integration

INTERVAL = 0.05


class Recorder:
    """A fake scheduled function: keeps what it got; raises on the calls listed in `fail`;
    signals when it has been called `expected` times."""

    def __init__(self, expected: int, fail: tuple[int, ...] = ()) -> None:
        self.calls: list[tuple[dict[str, Any], Any, float]] = []
        self.expected = expected
        self.fail = fail
        self.done = threading.Event()

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.calls.append((event, context, time.monotonic()))
        if len(self.calls) >= self.expected:
            self.done.set()
        if len(self.calls) in self.fail:
            raise RuntimeError("the service is not ready yet")
        return {"swept": len(self.calls)}


@pytest.fixture
def running():
    schedulers: list[Scheduler] = []

    def start(*schedules: Schedule) -> Scheduler:
        scheduler = Scheduler(schedules).start()
        schedulers.append(scheduler)
        return scheduler

    yield start
    for scheduler in schedulers:
        scheduler.stop()


def test_the_function_runs_on_its_interval_with_a_scheduled_event(running):
    handler = Recorder(expected=4)
    started = time.monotonic()
    running(Schedule("command_sweeper", INTERVAL, handler))

    assert handler.done.wait(10)
    times = [at for _, _, at in handler.calls[:4]]
    # As with EventBridge's rate(), the first run comes one interval after the start, the
    # k-th k intervals after it: never before it is due.
    assert all(at - started >= (k + 1) * INTERVAL * 0.9 for k, at in enumerate(times))
    event, context, _ = handler.calls[0]
    assert event["version"] == "0"
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["account"] == "000000000000"
    assert event["region"] == "us-east-1"
    assert event["detail"] == {}
    assert event["resources"] == [
        "arn:aws:events:us-east-1:000000000000:rule/command_sweeper-schedule"]
    sent_at = datetime.strptime(event["time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - sent_at).total_seconds()) < 60
    assert len({e["id"] for e, _, _ in handler.calls}) == len(handler.calls)
    assert context.function_name == "command_sweeper"
    assert context.aws_request_id
    assert context.get_remaining_time_in_millis() > 0


def test_a_failing_run_is_logged_and_the_schedule_goes_on(running, caplog):
    handler = Recorder(expected=4, fail=(1, 2))
    with caplog.at_level("INFO", logger="csms_local.scheduler"):
        scheduler = running(Schedule("command_sweeper", INTERVAL, handler))
        assert handler.done.wait(10)
        scheduler.stop()

    assert scheduler.failures["command_sweeper"] == 2
    assert scheduler.invocations["command_sweeper"] >= 4
    failures = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(failures) == 2
    assert all(r.exc_info and "not ready yet" in str(r.exc_info[1]) for r in failures)
    assert any("command_sweeper ran" in r.getMessage() for r in caplog.records)


def test_a_function_that_cannot_be_loaded_is_retried_not_fatal(running, caplog):
    other = Recorder(expected=3)
    with caplog.at_level("ERROR", logger="csms_local.scheduler"):
        scheduler = running(Schedule("no_such_function", INTERVAL),
                            Schedule("command_sweeper", INTERVAL, other))
        assert other.done.wait(10)
        scheduler.stop()

    assert scheduler.failures["no_such_function"] >= 1
    assert "no_such_function could not be loaded" in caplog.text


def test_each_function_keeps_its_own_interval(running):
    fast, slow = Recorder(expected=6), Recorder(expected=1)
    running(Schedule("fast", INTERVAL, fast), Schedule("slow", 60, slow))

    assert fast.done.wait(10)
    assert slow.calls == []
    assert {e["resources"][0].rsplit("/", 1)[1] for e, _, _ in fast.calls} == {"fast-schedule"}


def test_stop_is_prompt_even_with_a_long_interval(running):
    handler = Recorder(expected=1)
    scheduler = running(Schedule("command_sweeper", 3600, handler))

    started = time.monotonic()
    scheduler.stop()

    assert time.monotonic() - started < 1
    assert handler.calls == []
    assert not scheduler.is_running


def test_a_run_in_progress_delays_stop_no_longer_than_its_timeout_and_is_the_last(running):
    entered, release = threading.Event(), threading.Event()
    calls: list[float] = []

    def slow(event: dict[str, Any], context: Any) -> dict[str, Any]:
        calls.append(time.monotonic())
        entered.set()
        release.wait(10)
        return {}

    scheduler = running(Schedule("command_sweeper", INTERVAL, slow))
    assert entered.wait(10)
    started = time.monotonic()
    scheduler.stop(timeout=0.1)
    assert time.monotonic() - started < 1
    release.set()
    scheduler.stop()  # now the run is over, its thread ends

    assert len(calls) == 1
    assert not scheduler.is_running


def test_intervals_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        Scheduler([Schedule("command_sweeper", 0)])


def test_the_event_is_what_eventbridge_sends():
    event = scheduled_event(Schedule("command_sweeper", 60),
                            datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC))
    assert set(event) == {"version", "id", "detail-type", "source", "account", "time",
                          "region", "resources", "detail"}
    assert event["time"] == "2025-03-04T05:06:07Z"
