"""One LocalStack for the whole test session. It takes seconds to start and its first SQS
call loads the provider (several more), so the pytest-xdist workers share one instance:
the first to ask starts it under a file lock, every user is counted, the last to leave
stops it. Where LocalStack is not installed (no Python >= 3.13 on the machine), moto's
server stands in, as it does for `make run`, and says so.

Import the fixture into a conftest or test module: `from tests.localstack_fixtures import
local_aws_url`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from csms_local import services

_started: dict[Path, services.Server] = {}


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def acquire(root: Path) -> str:
    """The shared LocalStack's URL, started by the first caller."""
    state_file = root / "localstack.json"
    with _locked(root / "localstack.lock"):
        state = json.loads(state_file.read_text()) if state_file.exists() else None
        if state is None or state["users"] == 0 or not _listening(state["port"]):
            port = services.free_port()
            server = services.localstack(port, root / "localstack", root / "localstack.log")
            server.start()
            assert server.process is not None
            _started[root] = server
            state = {"port": port, "pid": server.process.pid, "users": 0}
        state["users"] += 1
        state_file.write_text(json.dumps(state))
    return f"http://127.0.0.1:{state['port']}"


def release(root: Path) -> None:
    """One user fewer; the last one stops LocalStack, whichever worker started it."""
    state_file = root / "localstack.json"
    with _locked(root / "localstack.lock"):
        state = json.loads(state_file.read_text())
        state["users"] -= 1
        state_file.write_text(json.dumps(state))
        if state["users"] > 0:
            return
        server = _started.pop(root, None)
        if server is not None:
            server.stop()
            return
        # Started by a worker that has finished: its process group is LocalStack's own.
        with contextlib.suppress(ProcessLookupError):
            os.kill(state["pid"], signal.SIGTERM)
        deadline = time.monotonic() + 10
        while _listening(state["port"]) and time.monotonic() < deadline:
            time.sleep(0.1)


def shared_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run's temporary root: one per pytest run, common to its xdist workers."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def local_aws_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The local AWS of the tests that drive the event pipeline end to end: LocalStack,
    shared by the session's workers (moto's server only where LocalStack is missing)."""
    missing = services.localstack_missing()
    if missing:
        warnings.warn(missing, stacklevel=1)
        server = services.moto(services.free_port()).start()
        yield f"http://127.0.0.1:{server.port}"
        server.stop()
        return
    root = shared_root(tmp_path_factory)
    url = acquire(root)
    try:
        yield url
    finally:
        release(root)
