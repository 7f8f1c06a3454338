"""Tariffs in the tenant's database (collection `tariff`), and the pricing fields they put
on 2.0.1 transaction documents.

One document per scope: `_id` "default" for the tenant's default (the id it always had),
"site:<site id>" and "charge_point:<charge point id>" for the others. Prices are kept as
decimal strings: a float would turn 0.3 into 0.29999..., and Decimal128 is not on every
MongoDB-wire server.

A tariff document without `time_basis` was set before the option existed, when time was
priced by the whole session: it is read as "session", so its prices mean what they meant.

On a transaction document: `tariff` (a snapshot of the tariff it started under, with its
`scope` and `scope_id`; null: it started unpriced; absent: not chosen yet), set once,
atomically, so two events racing never pin two tariffs; `charging_states` (each reported
chargingState with its timestamp); and the cost fields.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from pymongo.collection import Collection
from pymongo.database import Database

from csms.adapters.mongo_charger_transactions import document_id
from csms.adapters.mongo_sites import MongoSites
from csms.domain.model import TransactionStatus
from csms.domain.tariffs import (
    TENANT_DEFAULT,
    ChargingStateChange,
    ScopedTariff,
    ScopeKind,
    Tariff,
    TariffScope,
    TimeBasis,
    TransactionPricing,
    most_specific,
    scopes_for,
)

Doc = dict[str, Any]
DEFAULT = "default"  # the tenant default's _id
# What a tariff stored before `time_basis` existed priced: the whole session.
LEGACY_TIME_BASIS = TimeBasis.SESSION


def tariffs_database(client: Any, tenant_id: str) -> Database[Doc]:
    from csms.adapters.mongo import tenant_database_name

    db: Database[Doc] = client[tenant_database_name(tenant_id)]
    return db


def scope_key(scope: TariffScope) -> str:
    if scope.kind is ScopeKind.TENANT:
        return DEFAULT
    return f"{scope.kind.value}:{scope.id}"


def _tariff_fields(tariff: Tariff) -> Doc:
    return {
        "currency": tariff.currency,
        "energy_per_kwh": str(tariff.energy_per_kwh),
        "time_per_hour": str(tariff.time_per_hour),
        "session_fee": str(tariff.session_fee),
        "time_basis": tariff.time_basis.value,
        "updated_at": tariff.updated_at,
    }


def _tariff(doc: Doc) -> Tariff:
    return Tariff(
        currency=doc["currency"],
        energy_per_kwh=Decimal(doc["energy_per_kwh"]),
        time_per_hour=Decimal(doc["time_per_hour"]),
        session_fee=Decimal(doc["session_fee"]),
        updated_at=doc.get("updated_at"),
        time_basis=TimeBasis(doc.get("time_basis") or LEGACY_TIME_BASIS.value),
    )


def _scope(doc: Doc) -> TariffScope:
    return TariffScope(ScopeKind(doc["scope"]), doc.get("scope_id"))


def _snapshot(scoped: ScopedTariff | None) -> Doc | None:
    if scoped is None:
        return None
    return _tariff_fields(scoped.tariff) | {
        "scope": scoped.scope.kind.value, "scope_id": scoped.scope.id,
    }


class MongoTariffs:
    def __init__(self, db: Database[Doc]) -> None:
        self._c: Collection[Doc] = db["tariff"]
        self._transactions: Collection[Doc] = db["transactions"]
        self._sites = MongoSites(db)

    # The tenant API's side

    def get(self, scope: TariffScope = TENANT_DEFAULT) -> Tariff | None:
        doc = self._c.find_one({"_id": scope_key(scope)})
        return None if doc is None else _tariff(doc)

    def put(self, tariff: Tariff, scope: TariffScope = TENANT_DEFAULT) -> None:
        self._c.replace_one(
            {"_id": scope_key(scope)},
            _tariff_fields(tariff) | {"scope": scope.kind.value, "scope_id": scope.id},
            upsert=True,
        )

    def delete(self, scope: TariffScope = TENANT_DEFAULT) -> bool:
        return self._c.delete_one({"_id": scope_key(scope)}).deleted_count == 1

    # The transactions' side

    def applicable(self, charge_point_id: str) -> ScopedTariff | None:
        """The tariff that would price a transaction starting on the charger now."""
        site = self._sites.site_of(charge_point_id)
        scopes = scopes_for(charge_point_id, None if site is None else site.site_id)
        by_key = {scope_key(scope): scope for scope in scopes}
        found = {
            by_key[doc["_id"]]: _tariff(doc)
            for doc in self._c.find({"_id": {"$in": list(by_key)}})
        }
        return most_specific(scopes, found)

    def pin(self, charge_point_id: str, transaction_id: str, tariff: ScopedTariff | None) -> None:
        """Keep `tariff` (None: unpriced) on the transaction, unless one was kept before:
        the first pin wins, later changes to tariffs never reprice it."""
        self._transactions.update_one(
            {"_id": document_id(charge_point_id, transaction_id),
             "tariff": {"$exists": False}},
            {"$set": {"tariff": _snapshot(tariff)}},
        )

    def record_charging_state(
        self, charge_point_id: str, transaction_id: str, change: ChargingStateChange
    ) -> None:
        self._transactions.update_one(
            {"_id": document_id(charge_point_id, transaction_id)},
            {"$push": {"charging_states": {"at": change.at, "state": change.state}}},
        )

    def pricing(self, charge_point_id: str, transaction_id: str) -> TransactionPricing | None:
        doc = self._transactions.find_one(
            {"_id": document_id(charge_point_id, transaction_id)},
            {"tariff": 1, "charging_states": 1},
        )
        if doc is None:
            return None
        snapshot = doc.get("tariff")
        return TransactionPricing(
            tariff=None if not snapshot else ScopedTariff(_tariff(snapshot), _scope(snapshot)),
            charging_states=tuple(
                ChargingStateChange(entry["at"], entry["state"])
                for entry in doc.get("charging_states") or ()
            ),
            pinned="tariff" in doc,
        )

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
