"""Runtime records to the events queue (SQS FIFO: in order per charge point)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from csms.adapters.aws_http import AwsJsonClient
from csms.services.records import encode

_MAX_BATCH_ENTRIES = 10  # SendMessageBatch's limit
_MAX_BATCH_BYTES = 250_000


class SqsRecordQueue:
    def __init__(self, queue_url: str, region: str | None = None) -> None:
        self._sqs = AwsJsonClient("sqs", "AmazonSQS", region or _region_of(queue_url))
        self._url = queue_url
        self._fifo = queue_url.endswith(".fifo")

    def _entry(self, index: int, envelope: dict[str, Any]) -> dict[str, Any]:
        entry: dict[str, Any] = {"Id": str(index), "MessageBody": encode(envelope)}
        if self._fifo:
            # Order per charge point; the envelope id makes SQS drop a duplicate send.
            entry["MessageGroupId"] = f"{envelope['tenant_id']}/{envelope['charge_point_id']}"
            entry["MessageDeduplicationId"] = envelope["id"]
        return entry

    def send(self, envelopes: Sequence[dict[str, Any]]) -> None:
        entries = [self._entry(i, e) for i, e in enumerate(envelopes)]
        if len(entries) == 1:  # the usual case: one call, no batch bookkeeping
            entry = entries[0]
            entry.pop("Id")
            self._sqs.call("SendMessage", {"QueueUrl": self._url, **entry})
            return
        for batch in _batches(entries):
            result = self._sqs.call("SendMessageBatch", {"QueueUrl": self._url, "Entries": batch})
            if result.get("Failed"):
                reasons = [f"{f.get('Code')}: {f.get('Message')}" for f in result["Failed"]]
                raise RuntimeError(f"SQS refused {len(reasons)} records: {reasons}")


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
