"""A `make run` container (csms_local.lambda_worker) and the terminal's Ctrl-C: the stack
stops its containers itself, so the interrupt must neither end one nor log a traceback."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path


def ignores_sigint(pid: int) -> bool:
    """Whether the process has set SIGINT to be ignored (Linux's /proc status mask)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGINT - 1)))
    return False


def test_a_container_ignores_ctrl_c_and_ends_when_its_input_closes() -> None:
    # Given a warm container, its handler loaded and waiting for events
    container = subprocess.Popen(
        [sys.executable, "-m", "csms_local.lambda_worker", "ws_disconnect"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while not ignores_sigint(container.pid) and container.poll() is None:
            assert time.monotonic() < deadline, "the container never set up its signals"
            time.sleep(0.05)  # start-up has no event to await: the mask is polled
        # When the terminal's interrupt reaches it, and then the stack closes its input
        container.send_signal(signal.SIGINT)
        _, stderr = container.communicate(timeout=30)
    finally:
        if container.poll() is None:
            container.kill()
    # Then it ends cleanly, without a KeyboardInterrupt traceback
    assert container.returncode == 0
    assert b"KeyboardInterrupt" not in stderr
