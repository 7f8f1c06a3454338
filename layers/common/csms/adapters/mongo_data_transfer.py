"""Collections `data_transfer_vendors` (the tenant's handler per vendorId) and
`data_transfers` (the messages that were handled)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.collection import Collection
from pymongo.database import Database

from csms.domain.data_transfer import HandlerMode, VendorHandler

Doc = dict[str, Any]


class MongoDataTransfers:
    def __init__(self, db: Database[Doc]) -> None:
        self._vendors: Collection[Doc] = db["data_transfer_vendors"]
        self._messages: Collection[Doc] = db["data_transfers"]

    def handler(self, vendor_id: str) -> VendorHandler | None:
        doc = self._vendors.find_one({"_id": vendor_id})
        return _handler(doc) if doc else None

    def put_handler(self, handler: VendorHandler) -> None:
        self._vendors.replace_one(
            {"_id": handler.vendor_id},
            {"mode": handler.mode.value, "url": handler.url,
             "timeout_seconds": handler.timeout_seconds, "secret": handler.secret,
             "message_ids": list(handler.message_ids)},
            upsert=True,
        )

    def delete_handler(self, vendor_id: str) -> bool:
        return self._vendors.delete_one({"_id": vendor_id}).deleted_count == 1

    def handlers(self) -> list[VendorHandler]:
        return [_handler(doc) for doc in self._vendors.find({}).sort("_id", ASCENDING)]

    def record(self, charge_point_id: str, entry: dict[str, Any], at: datetime) -> None:
        self._messages.insert_one({**entry, "charge_point_id": charge_point_id,
                                   "received_at": at})

    def messages(self, charge_point_id: str, limit: int, offset: int) -> list[dict[str, Any]]:
        cursor = (self._messages.find({"charge_point_id": charge_point_id}, {"_id": 0})
                  .sort("received_at", DESCENDING).skip(offset).limit(limit))
        return list(cursor)


def _handler(doc: Doc) -> VendorHandler:
    return VendorHandler(
        vendor_id=doc["_id"],
        mode=HandlerMode(doc["mode"]),
        url=doc.get("url"),
        timeout_seconds=doc.get("timeout_seconds") or 5.0,
        secret=doc.get("secret"),
        message_ids=tuple(doc.get("message_ids") or ()),
    )
