"""Collection `display_messages`: one document per (charger, message id)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.collection import Collection
from pymongo.database import Database

from csms.domain.display_messages import DisplayMessage

Doc = dict[str, Any]


class MongoDisplayMessages:
    def __init__(self, db: Database[Doc]) -> None:
        self._c: Collection[Doc] = db["display_messages"]

    def put(
        self,
        charge_point_id: str,
        message: dict[str, Any],
        at: datetime,
        source: str,
        request_id: int | None = None,
    ) -> None:
        # A message with a known id replaces the old one (O01: ids are the CSMS's to pick).
        self._c.replace_one(
            {"_id": f"{charge_point_id}|{message['id']}"},
            {
                "charge_point_id": charge_point_id,
                "message_id": message["id"],
                "message": message,
                "updated_at": at,
                "source": source,
                "request_id": request_id,
            },
            upsert=True,
        )

    def remove(self, charge_point_id: str, message_id: int) -> bool:
        found = self._c.delete_one({"_id": f"{charge_point_id}|{message_id}"})
        return found.deleted_count == 1

    def keep_only(self, charge_point_id: str, request_id: int) -> int:
        found = self._c.delete_many(
            {"charge_point_id": charge_point_id, "request_id": {"$ne": request_id}}
        )
        return found.deleted_count

    def of(self, charge_point_id: str) -> list[DisplayMessage]:
        cursor = self._c.find({"charge_point_id": charge_point_id}).sort("message_id", ASCENDING)
        return [
            DisplayMessage(
                d["charge_point_id"], d["message_id"], d["message"], d["updated_at"],
                d.get("source", "set"), d.get("request_id"),
            )
            for d in cursor
        ]
