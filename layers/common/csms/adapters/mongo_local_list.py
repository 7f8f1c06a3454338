"""Collection `local_lists`: one document per charger, its list entries as a list (id
tokens may contain '.' or '$', which field names may not)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.collection import Collection
from pymongo.database import Database

from csms.domain.local_list import LocalList, applied, entry_key
from csms.domain.model import AuthorizationStatus, IdTag

Doc = dict[str, Any]


class MongoLocalLists:
    def __init__(self, db: Database[Doc]) -> None:
        self._c: Collection[Doc] = db["local_lists"]
        self._id_tags: Collection[Doc] = db["id_tags"]

    def get(self, charge_point_id: str) -> LocalList | None:
        doc = self._c.find_one({"_id": charge_point_id})
        return _local_list(doc) if doc else None

    def apply(
        self,
        charge_point_id: str,
        version: int,
        full: bool,
        entries: Sequence[dict[str, Any]],
        at: datetime,
    ) -> None:
        # Read, change, write: the parts of one update reach a charger one at a time
        # (one outstanding command per charger), so their effects never overlap.
        current = self.get(charge_point_id)
        known = current.entries if current is not None else {}
        result = applied(known, full, entries)
        self._c.update_one(
            {"_id": charge_point_id},
            # The charger accepting the update says its list is at this version now.
            {"$set": {"version": version, "entries": list(result.values()), "updated_at": at,
                      "reported_version": version, "reported_at": at}},
            upsert=True,
        )

    def reported(self, charge_point_id: str, version: int, at: datetime) -> None:
        self._c.update_one(
            {"_id": charge_point_id},
            {"$set": {"reported_version": version, "reported_at": at}},
            upsert=True,
        )

    def all(self, limit: int, offset: int) -> list[LocalList]:
        cursor = (
            self._c.find({}, {"entries": 0}).sort("_id", ASCENDING).skip(offset).limit(limit)
        )
        return [_local_list(doc) for doc in cursor]

    def tenant_id_tags(self) -> list[IdTag]:
        return [
            IdTag(
                d["_id"],
                AuthorizationStatus(d["status"]),
                d.get("expiry_date"),
                d.get("parent_id_tag"),
                d.get("id_token_type"),
                d.get("group_id_token"),
            )
            for d in self._id_tags.find({}).sort("_id", ASCENDING)
        ]


def _local_list(doc: Doc) -> LocalList:
    entries = doc.get("entries") or []
    return LocalList(
        charge_point_id=doc["_id"],
        version=doc.get("version", 0),
        entries={entry_key(entry): entry for entry in entries},
        updated_at=doc.get("updated_at"),
        reported_version=doc.get("reported_version"),
        reported_at=doc.get("reported_at"),
    )
