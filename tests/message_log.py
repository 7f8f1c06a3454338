"""The message log as tests read it: entries, one per frame, oldest first. A document
may hold a charger's Call and its reply (an exchange, csms.domain.message_log), so
counting documents is not counting frames."""

from __future__ import annotations

from typing import Any

from csms.domain.message_log import entries_of
from pymongo import ASCENDING

# Fields a Call and its reply share: they select documents; the rest select entries.
_DOCUMENT_FIELDS = {"charge_point_id", "message_id", "action", "connection_id"}


def logged(collection: Any, where: dict[str, Any]) -> list[dict[str, Any]]:
    """Entries whose fields equal `where`'s; a dotted name reaches into the entry (e.g.
    "payload.errorCode"). charge_point_id, message_id, action and connection_id may be
    MongoDB conditions; the other fields are compared for equality."""
    documents = {k: v for k, v in where.items() if k in _DOCUMENT_FIELDS}
    wanted = {k: v for k, v in where.items() if k not in _DOCUMENT_FIELDS}
    found = collection.find(documents).sort([("timestamp", ASCENDING), ("_id", ASCENDING)])
    entries = [entry for document in found for entry in reversed(entries_of(document))]
    return [e for e in entries if all(_field(e, k) == v for k, v in wanted.items())]


def _field(entry: dict[str, Any], name: str) -> Any:
    value: Any = entry
    for part in name.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value
