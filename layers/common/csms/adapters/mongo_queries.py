"""The tenant API's read side: filtered, paginated views of one tenant's database.

Reads return plain documents shaped for the API; writes go through the domain ports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.collection import Collection
from pymongo.database import Database

from csms.domain.message_log import REPLY, entries_of, entry_matches

Doc = dict[str, Any]


@dataclass(frozen=True)
class Page:
    items: list[Doc]
    limit: int
    offset: int

    @property
    def next_offset(self) -> int | None:
        # A full page may have more behind it; a short one is the last.
        return self.offset + self.limit if len(self.items) == self.limit else None


def _time_range(field: str, since: datetime | None, until: datetime | None) -> Doc:
    bounds: Doc = {}
    if since is not None:
        bounds["$gte"] = since
    if until is not None:
        bounds["$lt"] = until
    return {field: bounds} if bounds else {}


def _without_none(**fields: Any) -> Doc:
    return {k: v for k, v in fields.items() if v is not None}


def _renamed_id(doc: Doc, name: str) -> Doc:
    # A document with its own `name` field keeps it (2.0.1 transactions: the charger's id).
    identity = doc.pop("_id")
    doc.setdefault(name, identity)
    return doc


class MongoTenantQueries:
    def __init__(self, db: Database[Doc]) -> None:
        self._db = db

    def _page(
        self,
        collection: str,
        query: Doc,
        sort: list[tuple[str, int]],
        limit: int,
        offset: int,
        id_name: str | None = None,
        projection: Doc | None = None,
    ) -> Page:
        c: Collection[Doc] = self._db[collection]
        cursor = c.find(query, projection).sort(sort).skip(offset).limit(limit)
        items = [_renamed_id(d, id_name) if id_name else _drop_id(d) for d in cursor]
        return Page(items, limit, offset)

    def charge_point_state(self, charge_point_id: str) -> Doc:
        doc = self._db["charge_points"].find_one({"_id": charge_point_id}) or {}
        doc.pop("_id", None)
        return doc

    def charge_point_states(self, charge_point_ids: list[str]) -> dict[str, Doc]:
        cursor = self._db["charge_points"].find({"_id": {"$in": charge_point_ids}})
        return {doc.pop("_id"): doc for doc in cursor}

    def transactions(
        self,
        limit: int,
        offset: int,
        charge_point_id: str | None = None,
        status: str | None = None,
        id_tag: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Page:
        query = _transaction_filter(charge_point_id, status, id_tag, since, until)
        return self._page(
            "transactions",
            query,
            [("start_timestamp", DESCENDING), ("_id", DESCENDING)],
            limit,
            offset,
            "transaction_id",
            {"dedup_key": 0},
        )

    def transaction(self, transaction_id: int) -> Doc | None:
        doc = self._db["transactions"].find_one({"_id": transaction_id}, {"dedup_key": 0})
        return _renamed_id(doc, "transaction_id") if doc else None

    def charger_transaction(
        self, transaction_id: str, charge_point_id: str | None = None
    ) -> Doc | None:
        """A transaction by the id its charger gave it (OCPP 2.0.1), newest first when
        several chargers used the same id and no charge point is named."""
        query = _without_none(transaction_id=transaction_id, charge_point_id=charge_point_id)
        doc = self._db["transactions"].find_one(
            query, {"dedup_key": 0}, sort=[("start_timestamp", DESCENDING)]
        )
        return _renamed_id(doc, "transaction_id") if doc else None

    def transaction_statistics(
        self,
        charge_point_id: str | None = None,
        status: str | None = None,
        id_tag: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Doc:
        query = _transaction_filter(charge_point_id, status, id_tag, since, until)
        pipeline: list[Doc] = [
            {"$match": query},
            {
                "$group": {
                    "_id": None,
                    "count": {"$sum": 1},
                    "active": {"$sum": {"$cond": [{"$eq": ["$status", "Active"]}, 1, 0]}},
                    "completed": {"$sum": {"$cond": [{"$eq": ["$status", "Completed"]}, 1, 0]}},
                    "total_energy_wh": {"$sum": "$energy_wh"},
                    "average_energy_wh": {"$avg": "$energy_wh"},
                }
            },
        ]
        rows = list(self._db["transactions"].aggregate(pipeline))
        if not rows:
            return {
                "count": 0,
                "active": 0,
                "completed": 0,
                "total_energy_wh": 0,
                "average_energy_wh": None,
            }
        row = rows[0]
        row.pop("_id", None)
        return row

    def meter_values(
        self,
        limit: int,
        offset: int,
        transaction_id: int | str | None = None,
        charge_point_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Page:
        query = _without_none(transaction_id=transaction_id, charge_point_id=charge_point_id)
        query |= _time_range("timestamp", since, until)
        return self._page("meter_values", query, [("timestamp", ASCENDING)], limit, offset)

    def messages(
        self,
        limit: int,
        offset: int,
        charge_point_id: str | None = None,
        direction: str | None = None,
        message_type: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Page:
        """Entries, not documents: a Call and its reply stored as one exchange are listed
        as two (see csms.domain.message_log)."""
        query = _without_none(charge_point_id=charge_point_id, action=action)
        query |= _time_range("timestamp", since, until)
        log: Collection[Doc] = self._db["ocpp_messages"]
        order = [("timestamp", DESCENDING), ("_id", DESCENDING)]
        if direction is None and message_type is None:
            return Page(_entries_page(log, query, order, limit, offset), limit, offset)
        # Only one of an exchange's two entries can match a direction or a type, so here
        # documents and entries are counted alike and the server pages.
        query |= _one_entry_matches(direction, message_type)
        cursor = log.find(query).sort(order).skip(offset).limit(limit)
        items = [
            _drop_id(entry)
            for document in cursor
            for entry in entries_of(document)
            if entry_matches(entry, direction, message_type)
        ]
        return Page(items, limit, offset)

    def sessions(self, charge_point_id: str, limit: int, offset: int) -> Page:
        return self._page(
            "sessions",
            {"charge_point_id": charge_point_id},
            [("connected_at", DESCENDING)],
            limit,
            offset,
            "connection_id",
        )

    def id_tags(self, limit: int, offset: int, status: str | None = None) -> Page:
        query = _without_none(status=status)
        return self._page("id_tags", query, [("_id", ASCENDING)], limit, offset, "id_tag")

    def commands(
        self,
        limit: int,
        offset: int,
        charge_point_id: str | None = None,
        status: str | None = None,
    ) -> Page:
        query = _without_none(charge_point_id=charge_point_id, status=status)
        # A password push's new hash stays server-side.
        return self._page(
            "commands",
            query,
            [("created_at", DESCENDING)],
            limit,
            offset,
            "command_id",
            {"new_password_hash": 0},
        )

    def reservations(self, charge_point_id: str, limit: int, offset: int) -> Page:
        return self._page(
            "reservations",
            {"charge_point_id": charge_point_id},
            [("expiry_date", DESCENDING)],
            limit,
            offset,
        )

    def charging_profiles(self, charge_point_id: str, limit: int, offset: int) -> Page:
        return self._page(
            "charging_profiles",
            {"charge_point_id": charge_point_id},
            [("connector_id", ASCENDING), ("stack_level", ASCENDING)],
            limit,
            offset,
        )


def _one_entry_matches(direction: str | None, message_type: str | None) -> Doc:
    """Documents with an entry of this direction and type, the document's own or its
    reply's (a reply is always "out")."""
    own = _without_none(direction=direction, message_type=message_type)
    if direction == "in":
        return own
    replied: Doc = {f"{REPLY}.message_type": message_type} if message_type else {}
    replied.setdefault(REPLY, {"$exists": True})
    return {"$or": [own, replied]}


def _entries_page(
    log: Collection[Doc], query: Doc, order: list[tuple[str, int]], limit: int, offset: int
) -> list[Doc]:
    """Entries offset to offset + limit of the documents `query` finds, each document
    holding one or two. The documents before the page are walked with only what tells
    how many entries each holds, then the page's documents are read whole."""
    skipped_documents = skipped_entries = 0
    if offset:
        sizes = log.find(query, {"_id": 1, f"{REPLY}.direction": 1}).sort(order)
        for document in sizes:
            size = 2 if REPLY in document else 1
            if skipped_entries + size > offset:
                break
            skipped_entries += size
            skipped_documents += 1
    # Each document holds at least one entry: `limit` documents fill the page.
    cursor = log.find(query).sort(order).skip(skipped_documents).limit(limit)
    entries = [entry for document in cursor for entry in entries_of(document)]
    start = offset - skipped_entries  # 1 when the page begins at an exchange's Call
    return [_drop_id(entry) for entry in entries[start : start + limit]]


def _drop_id(doc: Doc) -> Doc:
    doc.pop("_id", None)
    return doc


def _transaction_filter(
    charge_point_id: str | None,
    status: str | None,
    id_tag: str | None,
    since: datetime | None,
    until: datetime | None,
) -> Doc:
    return _without_none(
        charge_point_id=charge_point_id, status=status, id_tag=id_tag
    ) | _time_range("start_timestamp", since, until)
