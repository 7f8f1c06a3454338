"""Runtime records: buffered during one invocation, sent on as envelopes in one call.

An envelope carries the records of one charge point, in the order they happened:
  {"id", "tenant_id", "charge_point_id", "records": [{"type", "at", "data"}, ...]}
Its id makes each record's identity ("<id>:<index>"), so a redelivered envelope
stores nothing twice. Envelopes of several charge points may travel together, in order,
as a bundle: {"envelopes": [envelope, ...]}.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from csms.domain.model import (
    BootInfo,
    ConnectionStatus,
    ConnectorStatus,
    MeterValue,
    SessionChange,
)
from csms.ports import RecordQueue
from csms.protocol.timestamps import format_timestamp

Record = dict[str, Any]
Envelope = dict[str, Any]

# SQS takes at most 256 KB per message; envelopes stay well below with their framing.
MAX_ENVELOPE_BYTES = 240_000
BUNDLE_KEY = "envelopes"


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_timestamp(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def encode(envelope: Envelope) -> str:
    if isinstance(envelope, _EncodedEnvelope):
        return envelope.text
    return json.dumps(envelope, default=_json_value, separators=(",", ":"))


class _EncodedEnvelope(dict[str, Any]):
    """An envelope that carries its JSON text, put together from its records' texts when
    they were encoded to size the envelope: encoding a message's record (its payloads)
    a second time to send it was a twentieth of the local gateway's CPU."""

    __slots__ = ("text",)

    def __init__(self, envelope: Envelope, record_texts: list[str]) -> None:
        super().__init__(envelope)
        head = json.dumps(envelope["id"]), json.dumps(envelope["tenant_id"]), json.dumps(
            envelope["charge_point_id"])
        self.text = (
            f'{{"id":{head[0]},"tenant_id":{head[1]},"charge_point_id":{head[2]},'
            f'"records":[{",".join(record_texts)}]}}'
        )


class BufferedRecords:
    """RuntimeRecords that collect in a buffer of the calling thread (one invocation;
    the local gateway runs several at once in threads) until flush()."""

    def __init__(self, queue: RecordQueue, new_id: Callable[[], str] = lambda: uuid.uuid4().hex):
        self._queue = queue
        self._new_id = new_id
        self._local = threading.local()

    def _buffer(self) -> list[tuple[str, str, Record]]:
        buffer: list[tuple[str, str, Record]] | None = getattr(self._local, "buffer", None)
        if buffer is None:
            buffer = self._local.buffer = []
        return buffer

    def _add(self, tenant_id: str, cp: str, kind: str, at: datetime, data: Any = None) -> None:
        record: Record = {"type": kind, "at": at}
        if data is not None:
            record["data"] = data
        self._buffer().append((tenant_id, cp, record))

    def message(self, tenant_id: str, entry: dict[str, Any]) -> None:
        self._add(tenant_id, entry["charge_point_id"], "message", entry["timestamp"], entry)

    def boot(self, tenant_id: str, charge_point_id: str, boot: BootInfo, at: datetime) -> None:
        self._add(tenant_id, charge_point_id, "boot", at, asdict(boot))

    def heartbeat(self, tenant_id: str, charge_point_id: str, at: datetime) -> None:
        self._add(tenant_id, charge_point_id, "heartbeat", at)

    def connector_status(
        self, tenant_id: str, charge_point_id: str, status: ConnectorStatus
    ) -> None:
        self._add(tenant_id, charge_point_id, "connector_status", status.timestamp, asdict(status))

    def connection(
        self, tenant_id: str, charge_point_id: str, status: ConnectionStatus, at: datetime
    ) -> None:
        self._add(tenant_id, charge_point_id, "connection", at, {"status": status.value})

    def session(self, tenant_id: str, charge_point_id: str, change: SessionChange) -> None:
        fields = change.fields
        at: datetime = fields.get("disconnected_at") or fields["connected_at"]
        data = {"connection_id": change.connection_id, "fields": fields}
        self._add(tenant_id, charge_point_id, "session", at, data)

    def notification(
        self, tenant_id: str, charge_point_id: str, kind: str, data: dict[str, Any], at: datetime
    ) -> None:
        self._add(tenant_id, charge_point_id, "notification", at, {"kind": kind, "data": data})

    def meter_values(self, tenant_id: str, values: Sequence[MeterValue]) -> None:
        for v in values:
            self._add(tenant_id, v.charge_point_id, "meter_value", v.timestamp, asdict(v))

    def event(
        self, tenant_id: str, charge_point_id: str, kind: str, data: dict[str, Any], at: datetime
    ) -> None:
        self._add(tenant_id, charge_point_id, "event", at, {"kind": kind, **data})

    def discard(self) -> None:
        self._buffer().clear()

    def flush(self) -> None:
        buffer = self._buffer()
        if not buffer:
            return
        envelopes = self._envelopes(buffer)
        buffer.clear()  # sent or not, these are handed on once; the caller answers an error
        self._queue.send(envelopes)

    def _envelopes(self, buffer: list[tuple[str, str, Record]]) -> list[Envelope]:
        envelopes: list[Envelope] = []
        texts: list[list[str]] = []  # each envelope's records, encoded
        size = 0
        for tenant_id, cp, record in buffer:
            record_text = encode(record)
            record_size = len(record_text)
            current = envelopes[-1] if envelopes else None
            same_owner = current is not None and (
                current["tenant_id"],
                current["charge_point_id"],
            ) == (tenant_id, cp)
            if current is None or not same_owner or size + record_size > MAX_ENVELOPE_BYTES:
                current = {
                    "id": self._new_id(),
                    "tenant_id": tenant_id,
                    "charge_point_id": cp,
                    "records": [],
                }
                envelopes.append(current)
                texts.append([])
                size = 200
            current["records"].append(record)
            texts[-1].append(record_text)
            size += record_size + 1
        return [_EncodedEnvelope(e, t) for e, t in zip(envelopes, texts, strict=True)]
