"""Diagnostics in collections `log_requests`, `variable_monitors` and
`customer_information`; the charger's events are the `event` notifications the event
worker stores (`notifications`), read here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.collection import Collection
from pymongo.database import Database

Doc = dict[str, Any]


def _public(doc: Doc) -> Doc:
    return {k: v for k, v in doc.items() if k != "_id"}


class MongoDiagnostics:
    def __init__(self, db: Database[Doc]) -> None:
        self._logs: Collection[Doc] = db["log_requests"]
        self._monitors: Collection[Doc] = db["variable_monitors"]
        self._customer: Collection[Doc] = db["customer_information"]
        self._notifications: Collection[Doc] = db["notifications"]

    # GetLog and LogStatusNotification

    def log_requested(self, charge_point_id: str, request: dict[str, Any],
                      response: dict[str, Any], at: datetime) -> None:
        self._logs.update_one(
            {"_id": f"{charge_point_id}|{request['requestId']}"},
            {"$set": {
                "charge_point_id": charge_point_id,
                "request_id": request["requestId"],
                "log_type": request["logType"],
                "remote_location": request["log"]["remoteLocation"],
                "filename": response.get("filename"),
                "status": response["status"],
                "requested_at": at,
                "updated_at": at,
            }, "$setOnInsert": {"history": []}},
            upsert=True,
        )

    def log_status(self, charge_point_id: str, request_id: int | None, status: str,
                   at: datetime) -> dict[str, Any] | None:
        # Without a requestId (allowed for Idle), the charger's latest request is meant.
        query: Doc = {"charge_point_id": charge_point_id}
        if request_id is not None:
            query["request_id"] = request_id
        doc = self._logs.find_one_and_update(
            query,
            {"$set": {"status": status, "updated_at": at},
             "$push": {"history": {"status": status, "at": at}}},
            sort=[("requested_at", DESCENDING)],
            return_document=ReturnDocument.AFTER,
        )
        return _public(doc) if doc else None

    def logs(self, charge_point_id: str, limit: int, offset: int) -> list[dict[str, Any]]:
        cursor = (self._logs.find({"charge_point_id": charge_point_id})
                  .sort("requested_at", DESCENDING).skip(offset).limit(limit))
        return [_public(doc) for doc in cursor]

    # Variable monitors

    def put_monitors(self, charge_point_id: str, monitors: Sequence[dict[str, Any]],
                     at: datetime, request_id: int | None = None) -> None:
        for item in monitors:
            self._monitors.replace_one(
                {"_id": f"{charge_point_id}|{item['id']}"},
                {**item, "charge_point_id": charge_point_id, "updated_at": at,
                 "request_id": request_id},
                upsert=True,
            )

    def remove_monitors(self, charge_point_id: str, ids: Sequence[int]) -> int:
        keys = [f"{charge_point_id}|{i}" for i in ids]
        return self._monitors.delete_many({"_id": {"$in": keys}}).deleted_count

    def keep_reported_monitors(self, charge_point_id: str, request_id: int) -> int:
        return self._monitors.delete_many(
            {"charge_point_id": charge_point_id, "request_id": {"$ne": request_id}}
        ).deleted_count

    def monitors(self, charge_point_id: str) -> list[dict[str, Any]]:
        cursor = self._monitors.find({"charge_point_id": charge_point_id}).sort("id", ASCENDING)
        return [_public(doc) for doc in cursor]

    # NotifyEvent, as the event worker stored it

    def charger_events(self, charge_point_id: str, limit: int, offset: int
                       ) -> list[dict[str, Any]]:
        cursor = (self._notifications.find({"charge_point_id": charge_point_id, "kind": "event"})
                  .sort("timestamp", DESCENDING).skip(offset).limit(limit))
        return [{"received_at": d["timestamp"], **d["data"]} for d in cursor]

    # CustomerInformation and NotifyCustomerInformation

    def customer_information_requested(self, charge_point_id: str, request: dict[str, Any],
                                       at: datetime) -> None:
        self._customer.update_one(
            {"_id": f"{charge_point_id}|{request['requestId']}"},
            {"$set": {"charge_point_id": charge_point_id, "request_id": request["requestId"],
                      "request": request, "requested_at": at},
             "$setOnInsert": {"parts": [], "complete": False}},
            upsert=True,
        )

    def customer_information_part(
        self, charge_point_id: str, request_id: int, seq_no: int, data: str, last: bool,
        at: datetime,
    ) -> dict[str, Any] | None:
        """Add one part; the whole, assembled in seqNo order, once every part up to the
        last (tbc false) has come; None before."""
        key = f"{charge_point_id}|{request_id}"
        self._customer.update_one(
            {"_id": key},
            {"$set": {"charge_point_id": charge_point_id, "request_id": request_id,
                      "updated_at": at},
             "$pull": {"parts": {"seq_no": seq_no}}},
            upsert=True,
        )
        part: Doc = {"seq_no": seq_no, "data": data, "last": last}
        doc = self._customer.find_one_and_update(
            {"_id": key}, {"$push": {"parts": part}}, return_document=ReturnDocument.AFTER
        )
        if doc is None:
            return None
        parts = sorted(doc["parts"], key=lambda p: p["seq_no"])
        ends = [p["seq_no"] for p in parts if p["last"]]
        if not ends or [p["seq_no"] for p in parts] != list(range(ends[0] + 1)):
            return None  # the last part or one before it is still on its way
        whole = "".join(p["data"] for p in parts)
        done = self._customer.find_one_and_update(
            {"_id": key, "complete": {"$ne": True}},
            {"$set": {"complete": True, "data": whole, "completed_at": at}},
            return_document=ReturnDocument.AFTER,
        )
        return _public(done) if done else None  # None: a retried last part

    def customer_information(self, charge_point_id: str, request_id: int
                             ) -> dict[str, Any] | None:
        doc = self._customer.find_one({"_id": f"{charge_point_id}|{request_id}"})
        return _public(doc) if doc else None
