"""`make load`: csms-sim against the running `make run` stack and, in the same run, against
the anchor (a plain `ocpp`-package central system: one ocpp.v16 ChargePoint per
connection, no authentication, no storage) that this script starts on a free loopback
port; then a table of both and the project's ratio to the anchor.

The chargers (LOAD-00001, ...) are registered in the demo tenant with csms-admin's Admin
and a known password. Environment: LOAD_CHARGERS (50), LOAD_SECONDS (20), LOAD_PROFILE
(saturate; fleet or storm), LOAD_PROCESSES (1), LOAD_URL (ws://127.0.0.1:9000/ocpp),
LOAD_MONGODB_URI (mongodb://127.0.0.1:27017), LOAD_TENANT (demo). The fleet profile's
rhythm: LOAD_HEARTBEAT_INTERVAL (10 s), LOAD_METER_INTERVAL (5 s), LOAD_SESSION_SECONDS
(30), LOAD_RAMP (a quarter of the run, at most 5 s); the storm's LOAD_STORMS (1);
LOAD_VERIFY=1 counts the stored message log afterwards (csms-sim --verify), waiting up
to LOAD_VERIFY_WAIT seconds (120: a fleet's shutdown sends 2,500 StopTransactions at once);
LOAD_ANCHOR=0 skips the anchor. LOAD_ROUNDS=n (saturate only, 1 by default) splits each
target's LOAD_SECONDS into n runs taken in turn, project then anchor: the machine's speed
drifts by tens of percent within minutes, and interleaving keeps the two measured in the
same conditions; the ratio is then the project's total over the anchor's, with each round's
ratio beside it. For fleet and storm the chargers are set up as a fleet
in service: marked as having spoken ocpp1.6 before and, unless LOAD_WARM_LOGINS=0, as
having logged in lately (the stack's verified-login cache, in Redis at LOAD_REDIS_URL,
by default LOCAL_REDIS_PORT's; the key from LOCAL_DATA_DIR).

On Linux it also reads the CPU time each process of the stack spent during the run (the
gateway, which hosts the $default and $disconnect handlers; the $connect containers; the
event worker; Redis, the MongoDB-wire server, the broker, LocalStack) and prints it per
answered message.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "common"), str(ROOT / "local")]

from cpu import CpuMeter, listener_pid  # noqa: E402
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
HEARTBEAT_INTERVAL = os.environ.get("LOAD_HEARTBEAT_INTERVAL", "10")
METER_INTERVAL = os.environ.get("LOAD_METER_INTERVAL", "5")
SESSION_SECONDS = os.environ.get("LOAD_SESSION_SECONDS", "30")
RAMP = os.environ.get("LOAD_RAMP", str(min(5.0, SECONDS / 4)))
STORMS = os.environ.get("LOAD_STORMS", "1")
VERIFY = os.environ.get("LOAD_VERIFY", "0") == "1"
VERIFY_WAIT = os.environ.get("LOAD_VERIFY_WAIT", "120")
ANCHOR = os.environ.get("LOAD_ANCHOR", "1") != "0"
ROUNDS = max(1, int(os.environ.get("LOAD_ROUNDS", "1"))) if PROFILE == "saturate" else 1
WARM_LOGINS = os.environ.get("LOAD_WARM_LOGINS", "1") != "0"
REDIS_URL = os.environ.get(
    "LOAD_REDIS_URL", f"redis://127.0.0.1:{os.environ.get('LOCAL_REDIS_PORT', '6379')}/0")
PREFIX = "LOAD"
ID_TAG = "SIM-TAG"  # csms-sim's default --id-tag, which the fleet's sessions use
PASSWORD = "load-password-0123456789"


def listening(url: str) -> bool:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "wss" else 80)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def simulate(
    url: str, password: str | None, meter: CpuMeter | None, seconds: float = SECONDS
) -> dict[str, Any]:
    """One csms-sim run in a process of its own; its summary, with the CPU seconds the
    metered processes spent meanwhile under "cpu_s"."""
    command = [
        sys.executable, "-m", "csms_local.sim.cli", "--url", url, "--profile", PROFILE,
        "--chargers", str(CHARGERS), "--duration", str(seconds), "--prefix", PREFIX,
        "--processes", str(PROCESSES), "--json",
    ]
    if PROFILE in ("fleet", "storm"):
        # By default something to measure within a short run: a Heartbeat every 10 s,
        # meter values every 5 s on half of the chargers.
        command += ["--heartbeat-interval", HEARTBEAT_INTERVAL, "--ramp", RAMP]
    if PROFILE == "fleet":
        command += ["--meter-interval", METER_INTERVAL, "--session-seconds", SESSION_SECONDS,
                    "--id-tag", ID_TAG]
    if PROFILE == "storm":
        command += ["--storms", STORMS]
    if password:
        command += ["--password", password]
    if VERIFY and password:
        command += ["--verify", "--mongodb-uri", MONGODB_URI, "--tenant", TENANT,
                    "--verify-wait", VERIFY_WAIT]
    print(f"\n$ csms-sim {' '.join(command[3:])}", file=sys.stderr, flush=True)
    before = meter.snapshot() if meter else {}
    done = subprocess.run(command, capture_output=False, stdout=subprocess.PIPE, text=True,
                          timeout=seconds + 600, check=False)
    after = meter.snapshot() if meter else {}
    if done.returncode != 0:
        raise RuntimeError(f"csms-sim exited with {done.returncode}")
    result: dict[str, Any] = json.loads(done.stdout)
    result["cpu_s"] = CpuMeter.spent(before, after)
    return result


def cpu_line(name: str, summary: dict[str, Any]) -> str:
    """CPU milliseconds per answered message, per process and in total."""
    spent: dict[str, float] = summary.get("cpu_s") or {}
    msgs = summary["msgs"]
    if not spent or not msgs:
        return f"{name}: CPU not measured"
    parts = [f"{proc} {seconds * 1000 / msgs:.2f}" for proc, seconds in
             sorted(spent.items(), key=lambda item: -item[1]) if seconds > 0]
    total = sum(spent.values()) * 1000 / msgs
    return f"{name}: CPU ms/msg {total:.2f} total = " + ", ".join(parts)


def unregistered(ids: list[str]) -> list[str]:
    """The chargers that are not yet in the tenant with PASSWORD. Registering sets a new
    salted hash, which voids the verified-login cache: a rerun that registered every
    charger again would measure scrypt at every connect, not the steady state."""
    from csms.domain.credentials import verify_password
    from csms_local.admin import Admin

    directory = Admin(MONGODB_URI).directory
    checked: dict[str, bool] = {}  # stored hash -> PASSWORD verifies against it
    missing: list[str] = []
    for cp_id in ids:
        existing = directory.get_charge_point(cp_id)
        if existing is None or existing.tenant_id != TENANT or not existing.enabled:
            missing.append(cp_id)
            continue
        stored = existing.password_hash
        if stored not in checked:
            checked[stored] = verify_password(PASSWORD, stored)
        if not checked[stored]:
            missing.append(cp_id)
    return missing


def as_connected_before(ids: list[str]) -> int:
    """Marks the chargers as having spoken ocpp1.6 before, as every charger of a fleet in
    service has. A charger's first connection ever records its version in the registry
    (one findAndModify each); the local MongoDB-wire server serialises those writes, so a
    brand-new fleet of thousands connecting at once measures that first-day cost instead
    of the fleet's. Returns how many were marked."""
    from pymongo import MongoClient
    from pymongo.collection import Collection

    client: MongoClient[dict[str, Any]]
    with MongoClient(MONGODB_URI) as client:
        registry: Collection[dict[str, Any]] = client["ocpp_global"]["charge_points"]
        marked = 0
        for start in range(0, len(ids), 1000):
            marked += registry.update_many(
                {"_id": {"$in": ids[start:start + 1000]}, "ocpp_version": {"$ne": "ocpp1.6"}},
                {"$set": {"ocpp_version": "ocpp1.6"}},
            ).modified_count
    return marked


def warm_logins(ids: list[str]) -> int:
    """Records in the stack's verified-login cache that each charger logged in lately, as
    a fleet in service has (the cache lasts CREDENTIAL_CACHE_SECONDS, 2.5 h by default):
    the same keyed hash $connect stores after a full check, made with the stack's key
    (LOCAL_DATA_DIR/credential-cache-key). A first login costs a scrypt check of 50-150
    ms; thousands of chargers that never logged in would measure that first day, which
    on two shared cores takes longer than the run. Returns how many were recorded."""
    import redis
    from csms.domain.credentials import credential_tag
    from pymongo import MongoClient
    from pymongo.collection import Collection

    key = (Path(os.environ.get("LOCAL_DATA_DIR", ".local")) / "credential-cache-key")
    secret = key.read_text().strip().encode()
    prefix = os.environ.get("REDIS_KEY_PREFIX", "csms")
    ttl = int(os.environ.get("CREDENTIAL_CACHE_SECONDS", "9000"))
    cache = redis.Redis.from_url(REDIS_URL)
    client: MongoClient[dict[str, Any]]
    with MongoClient(MONGODB_URI) as client:
        registry: Collection[dict[str, Any]] = client["ocpp_global"]["charge_points"]
        stored = {d["_id"]: d["password_hash"] for d in registry.find(
            {"_id": {"$in": ids}}, {"password_hash": 1})}
    pipe = cache.pipeline(transaction=False)
    for cp_id, hashed in stored.items():
        pipe.set(f"{prefix}:cred:{cp_id}", credential_tag(secret, cp_id, PASSWORD, hashed),
                 ex=ttl)
    pipe.execute()
    cache.close()
    return len(stored)


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


def combined(rounds: list[dict[str, Any]]) -> dict[str, Any] | None:
    """One summary of several rounds against the same target: messages, time, errors and
    CPU added up, msgs/s over the total time; latency percentiles are the median of the
    rounds' (the worst round's max), as the rounds' raw latencies are not kept."""
    if len(rounds) <= 1:
        return rounds[0] if rounds else None
    total: dict[str, Any] = dict(rounds[-1])
    total["msgs"] = sum(r["msgs"] for r in rounds)
    total["duration_s"] = sum(r["duration_s"] for r in rounds)
    total["msgs_per_s"] = round(total["msgs"] / total["duration_s"], 1)
    total["error_count"] = sum(r["error_count"] for r in rounds)
    errors: dict[str, int] = {}
    cpu: dict[str, float] = {}
    for r in rounds:
        for kind, count in r["errors"].items():
            errors[kind] = errors.get(kind, 0) + count
        for process, seconds in (r.get("cpu_s") or {}).items():
            cpu[process] = cpu.get(process, 0.0) + seconds
    total["errors"], total["cpu_s"] = errors, cpu
    latency = {key: statistics.median(r["latency_ms"][key] or 0.0 for r in rounds)
               for key in ("p50", "p95", "p99")}
    total["latency_ms"] = {**latency, "max": max(r["latency_ms"]["max"] or 0.0 for r in rounds)}
    total["rounds"] = len(rounds)
    return total


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


def accept_id_tag(id_tag: str) -> None:
    """The fleet's sessions start with one tag: known and Accepted in the tenant, or the
    CSMS answers Invalid and every session ends as it starts (to be retried a minute
    later, a churn of starts and stops instead of sessions with meter values)."""
    from csms_local.admin import Admin

    Admin(MONGODB_URI).add_id_tag(TENANT, id_tag, "Accepted", None, None)


def main() -> int:
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
    project: dict[str, Any] | None = None
    baseline: dict[str, Any] | None = None
    if listening(URL):
        ids = unregistered([f"{PREFIX}-{n:05d}" for n in range(1, CHARGERS + 1)])
        try:
            outcome = register.via_mongodb(MONGODB_URI, TENANT, ids, lambda _: PASSWORD)
        except SimConfigError as exc:
            print(f"load: cannot register the chargers: {exc}", file=sys.stderr)
            return 2
        outcome["ready"] = CHARGERS - len(ids)
        if PROFILE == "fleet":
            accept_id_tag(ID_TAG)
            outcome["id tags accepted"] = 1
        if PROFILE != "saturate":
            every = [f"{PREFIX}-{n:05d}" for n in range(1, CHARGERS + 1)]
            outcome["marked as connected before"] = as_connected_before(every)
            if WARM_LOGINS:
                outcome["logins warmed"] = warm_logins(every)
        print(f"load: {CHARGERS} chargers in tenant {TENANT}: {outcome}", file=sys.stderr)
        port = urlsplit(URL).port
        stack = listener_pid(port) if port else None
        project_meter: CpuMeter | None = CpuMeter(stack) if stack else None
        measure_project = True
    else:
        print(f"load: nothing listens at {URL}; start `make run` to measure the project",
              file=sys.stderr)
        measure_project, project_meter = False, None
    projects: list[dict[str, Any]] = []
    baselines: list[dict[str, Any]] = []
    anchor = start_anchor() if ANCHOR else None
    try:
        for _ in range(ROUNDS):
            if measure_project:
                projects.append(simulate(URL, PASSWORD, project_meter, SECONDS / ROUNDS))
            if anchor is not None:
                assert anchor.process is not None
                baselines.append(simulate(f"ws://127.0.0.1:{anchor.port}/ocpp", None,
                                          CpuMeter(anchor.process.pid), SECONDS / ROUNDS))
    finally:
        if anchor is not None:
            anchor.stop()
    project = combined(projects)
    baseline = combined(baselines)

    print(f"\ncsms-sim {PROFILE}, {CHARGERS} chargers, {SECONDS:g} s per target "
          f"(msgs/s: Calls answered per second; latency: Call sent -> answer received)\n")
    print(table([(f"project {URL}", project), ("anchor (ocpp package, no auth/storage)",
                                                baseline)]))
    if project is not None and baseline is not None:
        p, a = project, baseline
        print(f"\nproject/anchor: msgs/s {ratio(p['msgs_per_s'], a['msgs_per_s'])}, "
              f"p50 {ratio(p['latency_ms']['p50'], a['latency_ms']['p50'])}, "
              f"p99 {ratio(p['latency_ms']['p99'], a['latency_ms']['p99'])}")
        if len(projects) > 1 and len(projects) == len(baselines):
            print("rounds (project/anchor msgs/s): " + ", ".join(
                f"{ratio(pr['msgs_per_s'], an['msgs_per_s'])} ({pr['msgs_per_s']:.0f}/"
                f"{an['msgs_per_s']:.0f})" for pr, an in zip(projects, baselines, strict=True)))
    print()
    for name, summary in (("project", project), ("anchor", baseline)):
        if summary is not None:
            print(cpu_line(name, summary))
    if project is not None:
        settled = project.get("latency_after_ramp_ms") or {}
        if settled.get("calls") and PROFILE != "saturate":
            print(f"project after the ramp ({settled['calls']} calls): p50 "
                  f"{cell(settled['p50'])} ms, p95 {cell(settled['p95'])} ms, p99 "
                  f"{cell(settled['p99'])} ms, max {cell(settled['max'])} ms")
        if project["errors"]:
            print(f"project errors: {project['errors']}")
        for storm in project.get("storms") or []:
            print(f"project storm {storm['storm']}: all back and booted after "
                  f"{storm['all_back_s']:.1f} s (per charger p99 {storm['reconnect_p99_ms']} ms)")
        if project.get("verify") is not None:
            print(f"project records: {json.dumps(project['verify'])}")
        if os.environ.get("LOAD_JSON"):
            Path(os.environ["LOAD_JSON"]).write_text(json.dumps(
                {"project": project, "anchor": baseline}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
