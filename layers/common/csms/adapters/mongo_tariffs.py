"""The tenant's tariff (one `tariff` document in the tenant's database, collection
`tariff`, `_id` "default"), and the cost fields it puts on 2.0.1 transaction documents.

Prices are kept as decimal strings: a float would turn 0.3 into 0.29999..., and
Decimal128 is not on every MongoDB-wire server."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from pymongo.collection import Collection
from pymongo.database import Database

from csms.adapters.mongo_charger_transactions import document_id
from csms.domain.model import TransactionStatus
from csms.domain.tariffs import Tariff

Doc = dict[str, Any]
DEFAULT = "default"  # the tenant default; per-site or per-charger tariffs get other ids


def tariffs_database(client: Any, tenant_id: str) -> Database[Doc]:
    from csms.adapters.mongo import tenant_database_name

    db: Database[Doc] = client[tenant_database_name(tenant_id)]
    return db


class MongoTariffs:
    def __init__(self, db: Database[Doc]) -> None:
        self._c: Collection[Doc] = db["tariff"]
        self._transactions: Collection[Doc] = db["transactions"]

    def get(self) -> Tariff | None:
        doc = self._c.find_one({"_id": DEFAULT})
        if doc is None:
            return None
        return Tariff(
            currency=doc["currency"],
            energy_per_kwh=Decimal(doc["energy_per_kwh"]),
            time_per_hour=Decimal(doc["time_per_hour"]),
            session_fee=Decimal(doc["session_fee"]),
            updated_at=doc.get("updated_at"),
        )

    def put(self, tariff: Tariff) -> None:
        self._c.replace_one(
            {"_id": DEFAULT},
            {
                "currency": tariff.currency,
                "energy_per_kwh": str(tariff.energy_per_kwh),
                "time_per_hour": str(tariff.time_per_hour),
                "session_fee": str(tariff.session_fee),
                "updated_at": tariff.updated_at,
            },
            upsert=True,
        )

    def delete(self) -> bool:
        return self._c.delete_one({"_id": DEFAULT}).deleted_count == 1

    def record_cost(
        self, charge_point_id: str, transaction_id: str, total_cost: Decimal, currency: str
    ) -> None:
        """The cost on the transaction's document: the running cost while it is active,
        the final one once it ended. A number (the API shows it as JSON), exact to the
        minor unit it was rounded to."""
        self._transactions.update_one(
            {"_id": document_id(charge_point_id, transaction_id)},
            {"$set": {"total_cost": float(total_cost), "currency": currency}},
        )

    def claim_cost_update(
        self, charge_point_id: str, transaction_id: str, now: datetime, interval: timedelta
    ) -> bool:
        """True for at most one caller per `interval` per active transaction: one atomic
        conditional update of its `cost_updated_at`, so concurrent workers never both
        push a CostUpdated."""
        result = self._transactions.update_one(
            {
                "_id": document_id(charge_point_id, transaction_id),
                "status": TransactionStatus.ACTIVE.value,
                "$or": [
                    {"cost_updated_at": {"$exists": False}},
                    {"cost_updated_at": None},
                    {"cost_updated_at": {"$lte": now - interval}},
                ],
            },
            {"$set": {"cost_updated_at": now}},
        )
        return result.modified_count == 1
