"""Runtime records to the events queue (SQS FIFO: in order per charge point)."""

from __future__ import annotations

import hashlib
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from typing import Any

from csms.adapters.aws_http import AwsJsonClient
from csms.services.records import BUNDLE_KEY, encode

_MAX_BATCH_ENTRIES = 10  # SendMessageBatch's limit
_MAX_BATCH_BYTES = 250_000
# With message groups shared by several charge points, a round takes up to this many
# envelopes: bundled per group, they still fit one SendMessageBatch.
_MAX_ROUND_ENVELOPES = 40


class SqsRecordQueue:
    """Each invocation's envelopes go to SQS before the invocation answers. Invocations
    running at the same time in one process (the local gateway runs them in threads)
    share SendMessageBatch calls: while one call is in flight, the next ones gather, and
    each caller still returns only once its own records are in the queue. On Lambda, one
    invocation at a time, that is exactly one call per invocation."""

    def __init__(
        self, queue_url: str, region: str | None = None, groups_per_tenant: int = 0
    ) -> None:
        """`groups_per_tenant`: 0 gives each charge point a FIFO message group of its own;
        n > 0 spreads a tenant's charge points over n groups, and envelopes of one group
        sent in the same round travel as one SQS message (a bundle)."""
        self._sqs = AwsJsonClient("sqs", "AmazonSQS", region or _region_of(queue_url))
        self._url = queue_url
        self._fifo = queue_url.endswith(".fifo")
        self._groups = groups_per_tenant if self._fifo else 0
        round_size = _MAX_ROUND_ENVELOPES if self._groups else _MAX_BATCH_ENTRIES
        self._commits = _GroupCommit(self._send_now, round_size=round_size)

    def close(self) -> None:
        self._sqs.close()

    def _group_of(self, envelope: dict[str, Any]) -> str:
        tenant_id, cp = envelope["tenant_id"], envelope["charge_point_id"]
        if not self._groups:
            return f"{tenant_id}/{cp}"
        # Stable across processes and restarts (unlike hash()): every sender of a charge
        # point's records must pick the same group, or its order is lost.
        shard = zlib.crc32(cp.encode("utf-8", "surrogatepass")) % self._groups
        return f"{tenant_id}/~{shard}"

    def _entry(self, envelope: dict[str, Any]) -> dict[str, Any]:
        entry: dict[str, Any] = {"MessageBody": encode(envelope)}
        if self._fifo:
            # Order per charge point; the envelope id makes SQS drop a duplicate send.
            entry["MessageGroupId"] = self._group_of(envelope)
            entry["MessageDeduplicationId"] = envelope["id"]
        return entry

    def send(self, envelopes: Sequence[dict[str, Any]]) -> None:
        if envelopes:
            self._commits.send([self._entry(e) for e in envelopes])

    def _send_now(self, entries: list[dict[str, Any]]) -> None:
        if self._groups:
            entries = bundled(entries)
        if len(entries) == 1:  # the usual case on Lambda: one call, no batch bookkeeping
            self._sqs.call("SendMessage", {"QueueUrl": self._url, **entries[0]})
            return
        for batch in _batches(entries):
            numbered = [{"Id": str(i), **entry} for i, entry in enumerate(batch)]
            result = self._sqs.call(
                "SendMessageBatch", {"QueueUrl": self._url, "Entries": numbered}
            )
            if result.get("Failed"):
                reasons = [f"{f.get('Code')}: {f.get('Message')}" for f in result["Failed"]]
                raise RuntimeError(f"SQS refused {len(reasons)} records: {reasons}")


class _WakeUp:
    """One thread wakes another: each `give` lets exactly one `take` through.

    A lock held from the start, released to wake: threading.Event builds a Condition in
    Python on every wait and notify, a sixteenth of the local gateway's CPU when every
    round of a saturating fleet woke fifteen callers."""

    __slots__ = ("_lock",)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lock.acquire()

    def give(self) -> None:
        self._lock.release()

    def take(self) -> None:
        self._lock.acquire()


class _Waiting:
    def __init__(self, entries: list[dict[str, Any]]) -> None:
        self.entries = entries
        # Given twice to a caller woken to lead (once to lead, once when its round is
        # sent), once to any other; taken as many times.
        self.done = _WakeUp()
        self.error: BaseException | None = None
        self.leads = False  # woken to send the next round for everyone waiting


class _GroupCommit:
    """Whoever finds no call in flight sends one round: everything waiting, as full
    batches; then it hands the next round to one of those who arrived meanwhile. No
    caller waits for more than the round in flight and its own.

    When the last round carried several callers (invocations do run side by side in this
    process), the next leader lingers up to `linger` seconds for a full batch: each
    SendMessageBatch costs the queue's server about as much for one entry as for ten, so
    under load fewer, fuller calls leave it more room. A lone caller (always so on Lambda,
    one invocation per process) never lingers."""

    def __init__(
        self,
        send: Callable[[list[dict[str, Any]]], None],
        linger: float = 0.005,
        round_size: int = _MAX_BATCH_ENTRIES,
    ) -> None:
        self._send = send
        self._linger = linger
        self._round_size = round_size
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._waiting: list[_Waiting] = []
        self._waiting_entries = 0
        self._busy = False
        self._crowded = False  # the last round carried more than one caller

    def send(self, entries: list[dict[str, Any]]) -> None:
        me = _Waiting(entries)
        with self._lock:
            self._waiting.append(me)
            self._waiting_entries += len(entries)
            lead = not self._busy
            self._busy = True
            if self._waiting_entries >= self._round_size:
                self._arrived.notify()
        if not lead:
            me.done.take()
            lead = me.leads
        if lead:
            self._round()
            me.done.take()
        if me.error is not None:
            raise me.error

    def _round(self) -> None:
        with self._lock:
            if self._crowded and self._linger > 0:
                deadline = time.monotonic() + self._linger
                while self._waiting_entries < self._round_size:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._arrived.wait(left)
            taken = self._take()
            self._crowded = len(taken) > 1
        try:
            for group in _rounds_of(taken, self._round_size):
                try:
                    self._send([e for w in group for e in w.entries])
                except BaseException as failed:
                    for waiting in group:
                        waiting.error = failed
        finally:
            with self._lock:
                if self._waiting:
                    self._waiting[0].leads = True
                    self._waiting[0].done.give()
                else:
                    self._busy = False
            for waiting in taken:
                waiting.done.give()

    def _take(self) -> list[_Waiting]:
        taken, self._waiting = self._waiting, []
        self._waiting_entries = 0
        return taken


def _rounds_of(waiting: list[_Waiting], round_size: int) -> list[list[_Waiting]]:
    """Callers grouped so each group fits one call (a caller with more entries than
    that is a group of its own, sent in several batches)."""
    groups: list[list[_Waiting]] = []
    count = size = 0
    for w in waiting:
        w_size = sum(len(e["MessageBody"]) for e in w.entries)
        fits = groups and count + len(w.entries) <= round_size and (
            size + w_size <= _MAX_BATCH_BYTES
        )
        if not fits:
            groups.append([])
            count = size = 0
        groups[-1].append(w)
        count += len(w.entries)
        size += w_size
    return groups


def bundled(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Entries of one message group merged into one, in their order: a bundle's body is
    {"envelopes": [envelope, ...]} (one SQS message to send, receive and delete instead
    of several). A lone entry of its group stays as it is."""
    by_group: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        by_group.setdefault(entry["MessageGroupId"], []).append(entry)
    merged: list[dict[str, Any]] = []
    for group, members in by_group.items():
        chunk: list[dict[str, Any]] = []
        size = 0
        for entry in members:
            body_size = len(entry["MessageBody"]) + 1
            if chunk and size + body_size > _MAX_BATCH_BYTES // 2:
                merged.append(_bundle(group, chunk))
                chunk, size = [], 0
            chunk.append(entry)
            size += body_size
        merged.append(_bundle(group, chunk))
    return merged


def _bundle(group: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
    if len(entries) == 1:
        return entries[0]
    ids = "\n".join(e["MessageDeduplicationId"] for e in entries)
    return {
        "MessageBody": f'{{"{BUNDLE_KEY}":[{",".join(e["MessageBody"] for e in entries)}]}}',
        "MessageGroupId": group,
        # The same envelopes sent again (a retried call) make the same bundle.
        "MessageDeduplicationId": hashlib.sha256(ids.encode()).hexdigest(),
    }


def _region_of(queue_url: str) -> str:
    # https://sqs.<region>.amazonaws.com/<account>/<name>
    host = queue_url.split("/")[2]
    parts = host.split(".")
    return parts[1] if len(parts) > 2 and parts[0] == "sqs" else "us-east-1"


def _batches(entries: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    batches: list[list[dict[str, Any]]] = []
    size = 0
    for entry in entries:
        entry_size = len(entry["MessageBody"])
        full = bool(batches) and (
            len(batches[-1]) == _MAX_BATCH_ENTRIES or size + entry_size > _MAX_BATCH_BYTES
        )
        if not batches or full:
            batches.append([])
            size = 0
        batches[-1].append(entry)
        size += entry_size
    return batches


class SqsDeadLetters:
    """Where a record goes after its last attempt, with the reason it failed."""

    def __init__(self, queue_url: str, region: str | None = None) -> None:
        import boto3

        self._client: Any = boto3.client("sqs", region_name=region)
        self._url = queue_url
        self._fifo = queue_url.endswith(".fifo")

    def put(self, body: str, reason: str, source_message_id: str, group: str | None) -> None:
        entry: dict[str, Any] = {
            "QueueUrl": self._url,
            "MessageBody": body,
            "MessageAttributes": {
                "reason": {"DataType": "String", "StringValue": reason[:1000] or "unknown"},
                "source_message_id": {"DataType": "String", "StringValue": source_message_id},
            },
        }
        if self._fifo:
            entry["MessageGroupId"] = group or "dead-letters"
            entry["MessageDeduplicationId"] = source_message_id
        self._client.send_message(**entry)
