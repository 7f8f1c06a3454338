"""CPU time per process of a running local stack, read from /proc (Linux), so `make load`
can say what each message costs in each process: the gateway (which hosts the
$default and $disconnect handlers), the $connect containers, the event worker (the SQS
poller and event_worker), Redis, the MongoDB-wire server, the broker and LocalStack.
Elsewhere it measures nothing and says so."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class Proc:
    pid: int
    name: str


def _stat(pid: int) -> list[str] | None:
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces: split after it.
    close = text.rfind(")")
    return [text[: close + 1], *text[close + 2 :].split()]


def cpu_seconds(pid: int) -> float | None:
    """User + system time of the whole process (all its threads), or None when gone."""
    fields = _stat(pid)
    if fields is None:
        return None
    # After the name: state(1) ppid(2) ... utime is field 14 of stat, index 12 here.
    return (int(fields[12]) + int(fields[13])) / _TICKS


def _name(pid: int) -> str:
    try:
        argv = (_PROC / str(pid) / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return str(pid)
    words = [a.decode(errors="replace") for a in argv if a]
    text = " ".join(words)
    if "lambda_worker" in text:  # a function's "container": python -m ... <function>
        return words[-1]
    if "event_worker_process" in text:
        return "event_worker"
    for key, label in (
        ("localstack", "localstack"),
        ("redis-server", "redis"),
        ("secantusd", "mongodb"),
        ("mosquitto", "mqtt"),
        ("amqtt", "mqtt"),
        ("moto_server", "moto"),
    ):
        if key in text:
            return label
    return Path(words[0]).name if words else str(pid)


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in (_PROC / str(pid) / "task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def tree(root: int) -> list[Proc]:
    """The root and every descendant."""
    out: list[Proc] = []
    todo = [root]
    while todo:
        pid = todo.pop()
        out.append(Proc(pid, "gateway" if pid == root else _name(pid)))
        todo += _children(pid)
    return out


def listener_pid(port: int) -> int | None:
    """The process listening on 127.0.0.1:`port` (TCP), found through its socket inode."""
    inodes: set[str] = set()
    for table in ("net/tcp", "net/tcp6"):
        try:
            lines = (_PROC / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            local, state, inode = parts[1], parts[3], parts[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{inode}]")
    if not inodes:
        return None
    for proc in _PROC.iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                if os.readlink(fd) in inodes:
                    return int(proc.name)
        except OSError:
            continue
    return None


class CpuMeter:
    """Snapshots of a process tree's CPU seconds, by process label."""

    def __init__(self, root: int) -> None:
        self.root = root

    def snapshot(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        # Walked each time: the tenant API's worker processes start on first use.
        for proc in tree(self.root):
            seconds = cpu_seconds(proc.pid)
            if seconds is not None:
                totals[proc.name] = totals.get(proc.name, 0.0) + seconds
        return totals

    @staticmethod
    def spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
        return {name: after.get(name, 0.0) - before.get(name, 0.0) for name in after}
