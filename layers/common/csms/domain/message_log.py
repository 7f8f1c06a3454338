"""The message log's documents, and the entries (one per frame) they hold.

Most documents are one frame: {charge_point_id, connection_id, timestamp, direction,
message_type, message_id, action, payload, ...}. A charger's Call and the reply the CSMS
gave it at once are one document, an exchange: the Call's fields, with the reply's own
fields under `reply` (direction "out", message_type, payload, and raw text when kept).

Why one document: every document costs an entry in each of the log's indexes, and those
were most of what the database spent on a Heartbeat. Readers see the log as entries, so
an exchange reads as two: the reply, then the Call (newest first, as the API lists them).
"""

from __future__ import annotations

from typing import Any

REPLY = "reply"
# What the reply shares with its Call, and so is not stored twice.
_SHARED = ("charge_point_id", "connection_id", "timestamp", "message_id", "action",
           "expire_at")
_OWN_BY_REPLY = ("direction", "message_type", "payload", "raw", "raw_truncated")

Document = dict[str, Any]


def exchange(call_entry: Document, reply_entry: Document) -> Document:
    """One document for a Call and the reply it was given in the same invocation."""
    reply = {k: reply_entry[k] for k in _OWN_BY_REPLY if k in reply_entry}
    return {**call_entry, REPLY: reply}


def entries_of(document: Document) -> list[Document]:
    """The frames a document holds, newest first; `_id` is left as it is."""
    reply = document.get(REPLY)
    if reply is None:
        return [document]
    call = {k: v for k, v in document.items() if k != REPLY}
    answer = {k: document[k] for k in _SHARED if k in document}
    if "_id" in document:
        answer["_id"] = document["_id"]
    return [answer | reply, call]


def entry_matches(entry: Document, direction: str | None, message_type: str | None) -> bool:
    return (direction is None or entry.get("direction") == direction) and (
        message_type is None or entry.get("message_type") == message_type
    )
