"""What EventBridge schedules do on AWS, locally: invoke a function every so often with a
"Scheduled Event".

One thread per scheduled function, so a slow run of one never delays another. Like an
EventBridge rate schedule, the first run comes one interval after the start. A run that
outlasts its interval is not overlapped by the next: the ticks it missed are skipped.
A handler that raises (or a function that cannot even be imported yet) is logged and
tried again on the next tick; the schedule goes on. stop() wakes every thread at once.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from csms_local.lambdas import LambdaContext, LambdaHandler, load_handler

logger = logging.getLogger("csms_local.scheduler")

ACCOUNT = "000000000000"
REGION = "us-east-1"


@dataclass(frozen=True)
class Schedule:
    """`function` every `interval` seconds; `handler` defaults to functions/<function>/app.py."""

    function: str
    interval: float
    handler: LambdaHandler | None = None

    @property
    def rule_arn(self) -> str:
        return f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{self.function}-schedule"


def scheduled_event(schedule: Schedule, at: datetime | None = None) -> dict[str, Any]:
    """The event an EventBridge schedule delivers to its target Lambda."""
    at = at or datetime.now(UTC)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [schedule.rule_arn],
        "detail": {},
    }


class Scheduler:
    def __init__(self, schedules: Sequence[Schedule]) -> None:
        for schedule in schedules:
            if schedule.interval <= 0:
                raise ValueError(f"{schedule.function}: the interval must be positive")
        self.schedules = list(schedules)
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(
                target=self._run, args=(s,), name=f"schedule-{s.function}", daemon=True
            )
            for s in self.schedules
        ]
        self.invocations: dict[str, int] = {s.function: 0 for s in self.schedules}
        self.failures: dict[str, int] = {s.function: 0 for s in self.schedules}

    def start(self) -> Scheduler:
        for thread in self._threads:
            thread.start()
        for schedule in self.schedules:
            logger.info("%s scheduled every %g s", schedule.function, schedule.interval)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Wakes every schedule at once; waits up to `timeout` for a run in progress."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            if thread.is_alive():
                thread.join(max(0.0, deadline - time.monotonic()))

    @property
    def is_running(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def _run(self, schedule: Schedule) -> None:
        handler = schedule.handler
        due = time.monotonic() + schedule.interval
        while not self._stop.wait(max(0.0, due - time.monotonic())):
            if handler is None:
                handler = self._load(schedule.function)
            if handler is not None:
                self._invoke(schedule, handler)
            now = time.monotonic()
            due += schedule.interval
            if due <= now:  # the run outlasted its interval: skip the missed ticks
                skipped = int((now - due) // schedule.interval) + 1
                due += skipped * schedule.interval

    def _load(self, function: str) -> LambdaHandler | None:
        try:
            return load_handler(function)
        except Exception:
            self.failures[function] += 1
            logger.exception("%s could not be loaded; trying again next time", function)
            return None

    def _invoke(self, schedule: Schedule, handler: LambdaHandler) -> None:
        event = scheduled_event(schedule)
        context = LambdaContext(schedule.function, str(uuid.uuid4()))
        started = time.monotonic()
        try:
            result = handler(event, context)
        except Exception:
            self.failures[schedule.function] += 1
            logger.exception("%s failed (event %s)", schedule.function, event["id"])
        else:
            logger.info(
                "%s ran in %.0f ms: %s",
                schedule.function,
                (time.monotonic() - started) * 1000,
                result,
            )
        finally:
            self.invocations[schedule.function] += 1
