"""`make load`: csms-sim against the running `make run` stack and, in the same run, against
the anchor (a plain `ocpp`-package central system: one ocpp.v16 ChargePoint per
connection, no authentication, no storage) that this script starts on a free loopback
port; then a table of both and the project's ratio to the anchor.

The chargers (LOAD-00001, ...) are registered in the demo tenant with csms-admin's Admin
and a known password. Environment: LOAD_CHARGERS (50), LOAD_SECONDS (20), LOAD_PROFILE
(saturate; fleet or storm), LOAD_PROCESSES (1), LOAD_URL (ws://127.0.0.1:9000/ocpp),
LOAD_MONGODB_URI (mongodb://127.0.0.1:27017), LOAD_TENANT (demo).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "common"), str(ROOT / "local")]

from csms_local import services  # noqa: E402
from csms_local.sim import register  # noqa: E402
from csms_local.sim.config import SimConfigError  # noqa: E402

CHARGERS = int(os.environ.get("LOAD_CHARGERS", "50"))
SECONDS = float(os.environ.get("LOAD_SECONDS", "20"))
PROFILE = os.environ.get("LOAD_PROFILE", "saturate")
PROCESSES = int(os.environ.get("LOAD_PROCESSES", "1"))
URL = os.environ.get("LOAD_URL", "ws://127.0.0.1:9000/ocpp")
MONGODB_URI = os.environ.get("LOAD_MONGODB_URI", "mongodb://127.0.0.1:27017")
TENANT = os.environ.get("LOAD_TENANT", "demo")
PREFIX = "LOAD"
PASSWORD = "load-password-0123456789"


def listening(url: str) -> bool:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "wss" else 80)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def simulate(url: str, password: str | None) -> dict[str, Any]:
    """One csms-sim run in a process of its own; its summary."""
    command = [
        sys.executable, "-m", "csms_local.sim.cli", "--url", url, "--profile", PROFILE,
        "--chargers", str(CHARGERS), "--duration", str(SECONDS), "--prefix", PREFIX,
        "--processes", str(PROCESSES), "--json",
    ]
    if PROFILE == "fleet":
        # Something to measure within a short run: a Heartbeat every 10 s, meter values
        # every 5 s on half of the chargers.
        command += ["--heartbeat-interval", "10", "--meter-interval", "5", "--session-seconds",
                    "30", "--ramp", str(min(5.0, SECONDS / 4))]
    if password:
        command += ["--password", password]
    print(f"\n$ csms-sim {' '.join(command[3:])}", file=sys.stderr, flush=True)
    done = subprocess.run(command, capture_output=False, stdout=subprocess.PIPE, text=True,
                          timeout=SECONDS + 180, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"csms-sim exited with {done.returncode}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def start_anchor() -> services.Server:
    port = services.free_port()
    return services.Server(
        "anchor",
        [sys.executable, "-m", "csms_local.sim.anchor", "--port", str(port)],
        port,
        env={"PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "common"), str(ROOT / "local")])},
    ).start()


def cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or b is None or b == 0 else f"{a / b:.2f}x"


def table(rows: list[tuple[str, dict[str, Any] | None]]) -> str:
    head = ("target", "chargers", "msgs/s", "p50 ms", "p95 ms", "p99 ms", "errors")
    lines = [head]
    for name, summary in rows:
        if summary is None:
            lines.append((name, "-", "not running", "", "", "", ""))
            continue
        lat = summary["latency_ms"]
        lines.append((name, str(summary["chargers"]), cell(summary["msgs_per_s"]),
                      cell(lat["p50"]), cell(lat["p95"]), cell(lat["p99"]),
                      str(summary["error_count"])))
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    text = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in
                      enumerate(zip(line, widths, strict=True))) for line in lines]
    text.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(text)


def main() -> int:
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
    project: dict[str, Any] | None = None
    if listening(URL):
        ids = [f"{PREFIX}-{n:05d}" for n in range(1, CHARGERS + 1)]
        try:
            outcome = register.via_mongodb(MONGODB_URI, TENANT, ids, lambda _: PASSWORD)
        except SimConfigError as exc:
            print(f"load: cannot register the chargers: {exc}", file=sys.stderr)
            return 2
        print(f"load: {CHARGERS} chargers in tenant {TENANT}: {outcome}", file=sys.stderr)
        project = simulate(URL, PASSWORD)
    else:
        print(f"load: nothing listens at {URL}; start `make run` to measure the project",
              file=sys.stderr)
    anchor = start_anchor()
    try:
        baseline = simulate(f"ws://127.0.0.1:{anchor.port}/ocpp", None)
    finally:
        anchor.stop()

    print(f"\ncsms-sim {PROFILE}, {CHARGERS} chargers, {SECONDS:g} s per target "
          f"(msgs/s: Calls answered per second; latency: Call sent -> answer received)\n")
    print(table([(f"project {URL}", project), ("anchor (ocpp package, no auth/storage)",
                                                baseline)]))
    if project is not None:
        p, a = project, baseline
        print(f"\nproject/anchor: msgs/s {ratio(p['msgs_per_s'], a['msgs_per_s'])}, "
              f"p50 {ratio(p['latency_ms']['p50'], a['latency_ms']['p50'])}, "
              f"p99 {ratio(p['latency_ms']['p99'], a['latency_ms']['p99'])}")
        if project["errors"]:
            print(f"project errors: {project['errors']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
