"""The event worker in a process of its own, as on AWS, where event_worker is a Lambda
function apart from the WebSocket routes: the SQS poller and the function it feeds.

In the gateway's process, storing the records took turns at one interpreter lock with
the event loop and the routes' handlers, so a burst of records (a reconnect storm's
thousands of $disconnect) slowed the very connects and answers the chargers wait for.

`python -m csms_local.event_worker_process [AWS endpoint]`, with the stack's environment
(EVENTS_QUEUE_URL and the handlers' settings). It runs until SIGTERM or SIGINT, or until
its standard input closes: the stack holds the other end, so the worker ends with the
stack even when the stack is killed.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from typing import IO

from csms_local.lambdas import load_handler
from csms_local.sqs_poller import SqsPoller

logger = logging.getLogger("csms_local.event_worker")

# As Lambda runs several batches of a FIFO queue at once (see SqsPoller).
POLLING_THREADS = 2
# How long the worker lets records gather after a batch that was not full (SqsPoller):
# records are stored up to this much later, for fewer, fuller receives.
BATCH_WINDOW_MS = "100"
RESTART_DELAY = 1.0


def main(argv: list[str]) -> int:
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "WARNING"))
    endpoint = argv[1] if len(argv) > 1 and argv[1] else None
    poller = SqsPoller(
        endpoint,
        os.environ["EVENTS_QUEUE_URL"],
        load_handler("event_worker"),
        workers=POLLING_THREADS,
        batch_window=float(os.environ.get("EVENT_BATCH_WINDOW_MS", BATCH_WINDOW_MS)) / 1000,
    ).start()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())

    def until_stdin_closes() -> None:
        sys.stdin.read()
        stop.set()

    threading.Thread(target=until_stdin_closes, name="parent-watch", daemon=True).start()
    stop.wait()
    poller.stop()
    return 0


class EventWorkerProcess:
    """The stack's side: starts the worker process and starts it again should it die (as
    Lambda would give the next batch a fresh container), until `stop`."""

    def __init__(self, endpoint: str | None, log: IO[str] | None = None) -> None:
        self._command = [sys.executable, "-m", "csms_local.event_worker_process", endpoint or ""]
        self._log = log
        self._stopping = threading.Event()
        self._process = self._spawn()
        self._supervisor = threading.Thread(
            target=self._supervise, name="event-worker-supervisor", daemon=True
        )
        self._supervisor.start()

    def _spawn(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            self._command,
            stdin=subprocess.PIPE,
            stderr=self._log,
            env=dict(os.environ),
            # Its own session: a Ctrl-C in the terminal reaches the stack, which stops
            # the worker itself, after the gateway (whose last records it still stores).
            start_new_session=True,
        )

    def _supervise(self) -> None:
        while not self._stopping.is_set():
            code = self._process.wait()
            if self._stopping.is_set():
                return
            logger.warning("the event worker exited (%s); starting it again", code)
            if self._stopping.wait(RESTART_DELAY):
                return
            self._process = self._spawn()

    @property
    def pid(self) -> int:
        return self._process.pid

    def stop(self, timeout: float = 15.0) -> None:
        self._stopping.set()
        process = self._process
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdin is not None:
            process.stdin.close()
        self._supervisor.join(timeout)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
