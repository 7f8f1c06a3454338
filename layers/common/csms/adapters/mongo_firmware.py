"""Collections `firmware` (one document per charger: its latest update and publication,
each with the history of its statuses) and `firmware_rollouts`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import DESCENDING, ReturnDocument
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

Doc = dict[str, Any]


def _public(doc: Doc) -> Doc:
    return {k: v for k, v in doc.items() if k != "_id"}


class MongoFirmware:
    def __init__(self, db: Database[Doc]) -> None:
        self._c: Collection[Doc] = db["firmware"]
        self._rollouts: Collection[Doc] = db["firmware_rollouts"]
        self._counters: Collection[Doc] = db["counters"]

    def update_requested(self, charge_point_id: str, summary: dict[str, Any], at: datetime
                         ) -> None:
        # A new update starts a new history: the statuses belong to one request.
        self._c.update_one(
            {"_id": charge_point_id},
            {"$set": {"update": {**summary, "status": "Requested", "requested_at": at,
                                 "updated_at": at, "history": []}}},
            upsert=True,
        )

    def update_status(self, charge_point_id: str, status: str, request_id: int | None,
                      at: datetime) -> dict[str, Any] | None:
        """The status of the charger's current update (the one with `request_id`, when
        the charger names one); None when there is no such update (an Idle charger, an
        update sent around the CSMS)."""
        query: Doc = {"_id": charge_point_id, "update": {"$exists": True}}
        if request_id is not None:
            query["update.request_id"] = request_id
        doc = self._c.find_one_and_update(
            query,
            {"$set": {"update.status": status, "update.updated_at": at},
             "$push": {"update.history": {"status": status, "at": at}}},
            return_document=ReturnDocument.AFTER,
        )
        # Kept in any case: the charger's latest word on its firmware.
        self.last_status(charge_point_id, status, request_id, at)
        return None if doc is None else dict(doc["update"])

    def last_status(self, charge_point_id: str, status: str, request_id: int | None,
                    at: datetime) -> None:
        self._c.update_one(
            {"_id": charge_point_id},
            {"$set": {"last_status": {"status": status, "request_id": request_id, "at": at}}},
            upsert=True,
        )

    def publish_requested(self, charge_point_id: str, request: dict[str, Any], at: datetime
                          ) -> None:
        self._c.update_one(
            {"_id": charge_point_id},
            {"$set": {"publication": {
                "request_id": request["requestId"], "location": request["location"],
                "checksum": request["checksum"], "status": "Requested", "locations": [],
                "requested_at": at, "updated_at": at, "history": []}}},
            upsert=True,
        )

    def publish_status(self, charge_point_id: str, status: str, request_id: int | None,
                       locations: list[str], at: datetime) -> dict[str, Any] | None:
        query: Doc = {"_id": charge_point_id, "publication": {"$exists": True}}
        if request_id is not None:
            query["publication.request_id"] = request_id
        changes: Doc = {"publication.status": status, "publication.updated_at": at}
        if locations:
            changes["publication.locations"] = locations
        doc = self._c.find_one_and_update(
            query,
            {"$set": changes, "$push": {"publication.history": {"status": status, "at": at}}},
            return_document=ReturnDocument.AFTER,
        )
        return dict(doc["publication"]) if doc else None

    def unpublished(self, charge_point_id: str, checksum: str, at: datetime) -> None:
        self._c.update_one(
            {"_id": charge_point_id, "publication.checksum": checksum},
            {"$set": {"publication.status": "Unpublished", "publication.updated_at": at,
                      "publication.locations": []},
             "$push": {"publication.history": {"status": "Unpublished", "at": at}}},
        )

    def of(self, charge_point_id: str) -> dict[str, Any] | None:
        doc = self._c.find_one({"_id": charge_point_id})
        return _public(doc) if doc else None

    def of_many(self, charge_point_ids: list[str]) -> dict[str, dict[str, Any]]:
        return {doc["_id"]: _public(doc)
                for doc in self._c.find({"_id": {"$in": charge_point_ids}})}

    def next_request_id(self) -> int:
        for _ in range(5):
            try:
                counter = self._counters.find_one_and_update(
                    {"_id": "firmware_request_id"}, {"$inc": {"seq": 1}}, upsert=True,
                    return_document=ReturnDocument.AFTER,
                )
            except DuplicateKeyError:
                continue  # a racing first upsert created it: increment that one
            if counter is not None:
                return int(counter["seq"])
        raise RuntimeError("the firmware request id counter could not be incremented")

    def add_rollout(self, rollout: dict[str, Any]) -> None:
        self._rollouts.insert_one({**rollout, "_id": rollout["rollout_id"]})

    def rollout(self, rollout_id: str) -> dict[str, Any] | None:
        doc = self._rollouts.find_one({"_id": rollout_id})
        return _public(doc) if doc else None

    def rollouts(self, limit: int, offset: int) -> list[dict[str, Any]]:
        cursor = (self._rollouts.find({}, {"_id": 0, "chargers": 0})
                  .sort("created_at", DESCENDING).skip(offset).limit(limit))
        return list(cursor)
