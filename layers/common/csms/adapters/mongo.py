"""MongoDB / Amazon DocumentDB persistence: a global database and one per tenant.

Only features DocumentDB supports are used: plain CRUD, find_one_and_update, unique and
TTL indexes, no transactions, no $lookup on the hot path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, MongoClient, ReplaceOne, ReturnDocument, UpdateOne
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import BulkWriteError, DuplicateKeyError

from csms.adapters.mongo_charger_transactions import MongoChargerTransactions
from csms.adapters.mongo_data_transfer import MongoDataTransfers
from csms.adapters.mongo_diagnostics import MongoDiagnostics
from csms.adapters.mongo_display_messages import MongoDisplayMessages
from csms.adapters.mongo_firmware import MongoFirmware
from csms.adapters.mongo_local_list import MongoLocalLists
from csms.adapters.mongo_reservations import MongoEvseReservations
from csms.adapters.mongo_sites import MongoSites
from csms.domain.charging_profiles import ChargingProfile, ProfileCriteria
from csms.domain.commands import FINAL_STATUSES, Command, CommandStatus
from csms.domain.device_model import ACTUAL, VariableAttribute, VariableKey
from csms.domain.model import (
    AuthorizationStatus,
    Booted,
    ConcurrentTransactions,
    ConnectionChanged,
    ConnectionStatus,
    ConnectorStatusChanged,
    Heartbeat,
    IdTag,
    MeterValue,
    Notified,
    RegisteredChargePoint,
    Reservation,
    ReservationStatus,
    SessionChange,
    StartRequest,
    StateChange,
    StopRequest,
    Tenant,
    Transaction,
    TransactionStatus,
)

GLOBAL_DB = "ocpp_global"
TENANT_DB_PREFIX = "ocpp_tenant_"
TENANT_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
_DUPLICATE_KEY = 11000

Doc = dict[str, Any]


def connect(uri: str) -> MongoClient[Doc]:
    # retryWrites off: DocumentDB does not support retryable writes.
    return MongoClient(
        uri,
        tz_aware=True,
        retryWrites=False,
        serverSelectionTimeoutMS=3000,
        connectTimeoutMS=2000,
    )


def tenant_database_name(tenant_id: str) -> str:
    if not TENANT_ID.match(tenant_id):
        raise ValueError("tenant ids are 1-40 characters: a-z, 0-9, '-' and '_'")
    return TENANT_DB_PREFIX + tenant_id


class MongoDirectory:
    def __init__(self, client: MongoClient[Doc], database: str = GLOBAL_DB) -> None:
        db = client[database]
        self._tenants: Collection[Doc] = db["tenants"]
        self._charge_points: Collection[Doc] = db["charge_points"]

    def ensure_indexes(self) -> None:
        self._charge_points.create_index([("tenant_id", ASCENDING)])

    def create_tenant(self, tenant: Tenant) -> None:
        tenant_database_name(tenant.tenant_id)  # validates the id
        document = asdict(tenant)
        document["_id"] = document.pop("tenant_id")
        self._tenants.insert_one(document)

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        doc = self._tenants.find_one({"_id": tenant_id})
        return _tenant(doc) if doc else None

    def list_tenants(self, limit: int, offset: int) -> list[Tenant]:
        cursor = self._tenants.find({}).sort("_id", ASCENDING).skip(offset).limit(limit)
        return [_tenant(doc) for doc in cursor]

    def update_tenant(self, tenant_id: str, changes: dict[str, Any]) -> Tenant | None:
        doc = self._tenants.find_one_and_update(
            {"_id": tenant_id}, {"$set": changes}, return_document=ReturnDocument.AFTER
        )
        return _tenant(doc) if doc else None

    def tenant_ids(self) -> list[str]:
        return [doc["_id"] for doc in self._tenants.find({}, {"_id": 1})]

    def add_charge_point(self, charge_point: RegisteredChargePoint) -> None:
        self._charge_points.insert_one(
            {
                "_id": charge_point.charge_point_id,
                "tenant_id": charge_point.tenant_id,
                "password_hash": charge_point.password_hash,
                "enabled": charge_point.enabled,
                "description": charge_point.description,
            }
        )

    def get_charge_point(self, charge_point_id: str) -> RegisteredChargePoint | None:
        doc = self._charge_points.find_one({"_id": charge_point_id})
        return _registered(doc) if doc else None

    def list_charge_points(
        self, tenant_id: str, limit: int, offset: int, enabled: bool | None = None
    ) -> list[RegisteredChargePoint]:
        query: Doc = {"tenant_id": tenant_id}
        if enabled is not None:
            query["enabled"] = enabled
        cursor = self._charge_points.find(query).sort("_id", ASCENDING).skip(offset).limit(limit)
        return [_registered(doc) for doc in cursor]

    def count_charge_points(self, tenant_id: str) -> int:
        return self._charge_points.count_documents({"tenant_id": tenant_id})

    def update_charge_point(
        self, charge_point_id: str, changes: dict[str, Any]
    ) -> RegisteredChargePoint | None:
        doc = self._charge_points.find_one_and_update(
            {"_id": charge_point_id}, {"$set": changes}, return_document=ReturnDocument.AFTER
        )
        return _registered(doc) if doc else None

    def delete_charge_point(self, charge_point_id: str) -> bool:
        return self._charge_points.delete_one({"_id": charge_point_id}).deleted_count == 1

    def set_charge_point_enabled(self, charge_point_id: str, enabled: bool) -> bool:
        result = self._charge_points.update_one(
            {"_id": charge_point_id}, {"$set": {"enabled": enabled}}
        )
        return result.matched_count == 1

    def set_charge_point_password(self, charge_point_id: str, password_hash: str) -> bool:
        result = self._charge_points.update_one(
            {"_id": charge_point_id}, {"$set": {"password_hash": password_hash}}
        )
        return result.matched_count == 1


def _tenant(doc: Doc) -> Tenant:
    fields = {k: v for k, v in doc.items() if k in Tenant.__dataclass_fields__}
    if "concurrent_transactions" in fields:
        fields["concurrent_transactions"] = ConcurrentTransactions(
            fields["concurrent_transactions"]
        )
    return Tenant(tenant_id=doc["_id"], **fields)


def _registered(doc: Doc) -> RegisteredChargePoint:
    return RegisteredChargePoint(
        doc["_id"],
        doc["tenant_id"],
        doc["password_hash"],
        doc.get("enabled", True),
        doc.get("description"),
        doc.get("ocpp_version"),
        doc.get("registration_status") or "Accepted",
        doc.get("boot_status"),
    )


class MongoChargePointState:
    # Entries are ~150 bytes; when full, the memo starts over (an update more each).
    _MAX_HEARTBEATS_REMEMBERED = 100_000

    def __init__(self, db: Database[Doc]) -> None:
        self._c: Collection[Doc] = db["charge_points"]
        self._history: Collection[Doc] = db["notifications"]
        self._messages: Collection[Doc] = db["ocpp_messages"]
        # Each charge point's latest Heartbeat time this process has stored. A Heartbeat
        # only raises its times ($max), so one not after it changes nothing: skipped, it
        # costs no update (Heartbeats are stored to the second, so a charger heartbeating
        # several times a second updates its state once a second, not once per batch).
        self._heartbeat_stored: dict[str, datetime] = {}

    def _set(self, charge_point_id: str, fields: Doc) -> None:
        self._c.update_one({"_id": charge_point_id}, {"$set": fields}, upsert=True)

    def set_current_transaction(
        self, charge_point_id: str, connector_id: int, transaction_id: int | None
    ) -> None:
        self._set(charge_point_id, {f"connectors.{connector_id}.transaction_id": transaction_id})

    def clear_current_transaction(
        self, charge_point_id: str, connector_id: int, transaction_id: int
    ) -> None:
        field = f"connectors.{connector_id}.transaction_id"
        self._c.update_one({"_id": charge_point_id, field: transaction_id}, {"$set": {field: None}})

    def heard_from_since(self, charge_point_id: str, since: datetime) -> bool:
        # The message log knows every frame the charger sent (heartbeats are optional in
        # OCPP-J, so last_heartbeat alone would not do); one indexed lookup, made only
        # when another charge point's transaction is in question.
        found = self._messages.find_one(
            {"charge_point_id": charge_point_id, "timestamp": {"$gte": since}, "direction": "in"},
            {"_id": 1},
        )
        return found is not None

    def record_configuration(
        self, charge_point_id: str, keys: Sequence[dict[str, Any]], unknown: Sequence[str]
    ) -> None:
        # Keys are stored as a list: configuration key names may contain '.' or '$'.
        configuration = [
            {"key": k["key"], "value": k.get("value"), "readonly": k["readonly"]} for k in keys
        ]
        self._set(
            charge_point_id,
            {"configuration": configuration, "unknown_configuration_keys": list(unknown)},
        )

    def set_configuration_value(self, charge_point_id: str, key: str, value: str) -> None:
        updated = self._c.update_one(
            {"_id": charge_point_id, "configuration.key": key},
            {"$set": {"configuration.$.value": value}},
        )
        if updated.matched_count == 0:
            self._c.update_one(
                {"_id": charge_point_id},
                {"$push": {"configuration": {"key": key, "value": value, "readonly": False}}},
                upsert=True,
            )

    def record_command_effect(self, charge_point_id: str, field: str, value: Any) -> None:
        self._set(charge_point_id, {field: value})

    def forget(self, charge_point_id: str) -> None:
        self._heartbeat_stored.pop(charge_point_id, None)
        self._c.delete_one({"_id": charge_point_id})

    def sync(self, changes: Sequence[StateChange]) -> None:
        updates: list[UpdateOne] = []
        history: list[Doc] = []
        heartbeats: dict[int, Heartbeat] = {}  # by their update's index
        for change in _latest_heartbeats(changes):
            if isinstance(change, Heartbeat):
                stored = self._heartbeat_stored.get(change.charge_point_id)
                if stored is not None and change.at <= stored:
                    continue
                heartbeats[len(updates)] = change
            updates.append(_state_update(change))
            if isinstance(change, Notified):
                history.append(
                    {
                        "_id": change.record_id,
                        "charge_point_id": change.charge_point_id,
                        "kind": change.kind,
                        "data": change.data,
                        "timestamp": change.at,
                    }
                )
        if updates:
            try:
                # Unordered: every update carries its own "not older" condition.
                self._c.bulk_write(updates, ordered=False)
            except BulkWriteError as exc:
                # Duplicate key: an upsert whose condition failed, as the stored state
                # is newer. Anything else is a real failure.
                errors = exc.details["writeErrors"]
                if any(e.get("code") != _DUPLICATE_KEY for e in errors):
                    raise
                for error in errors:  # a Heartbeat's upsert raced another's insert
                    heartbeats.pop(error.get("index", -1), None)
            self._remember_heartbeats(heartbeats.values())
        _insert_new(self._history, history)

    def _remember_heartbeats(self, stored: Iterable[Heartbeat]) -> None:
        for heartbeat in stored:
            if len(self._heartbeat_stored) >= self._MAX_HEARTBEATS_REMEMBERED:
                self._heartbeat_stored.clear()
            self._heartbeat_stored[heartbeat.charge_point_id] = heartbeat.at


def _latest_heartbeats(changes: Sequence[StateChange]) -> list[StateChange]:
    """The changes with each charge point's Heartbeats reduced to its latest: a Heartbeat
    only raises two times ($max), so the latest alone leaves the same state, for one
    update instead of several (a charger heartbeating faster than the worker's batches)."""
    latest: dict[str, Heartbeat] = {}
    for change in changes:
        if isinstance(change, Heartbeat):
            known = latest.get(change.charge_point_id)
            if known is None or change.at > known.at:
                latest[change.charge_point_id] = change
    kept: list[StateChange] = []
    for change in changes:
        if not isinstance(change, Heartbeat):
            kept.append(change)
        elif latest.get(change.charge_point_id) is change:
            kept.append(change)
            del latest[change.charge_point_id]  # once, even if the same change came twice
    return kept


def _newer(charge_point_id: str, field: str, at: datetime) -> Doc:
    """Matches the charge point unless `field` holds a time after `at` (a missing or null
    field matches too). One `$not` rather than an `$or` of the three cases: a MongoDB-wire
    server may plan a top-level `$or` as a collection scan, even beside `_id` (SecantusDB
    did: 58 ms against 1.5 ms per update among 5,000 chargers)."""
    return {"_id": charge_point_id, field: {"$not": {"$gt": at}}}


def _state_update(change: StateChange) -> UpdateOne:
    cp = change.charge_point_id
    if isinstance(change, Heartbeat):
        return UpdateOne(
            {"_id": cp}, {"$max": {"last_heartbeat": change.at, "last_seen": change.at}},
            upsert=True,
        )
    if isinstance(change, Booted):
        return UpdateOne(
            _newer(cp, "booted_at", change.at),
            {"$set": {"boot": asdict(change.boot), "booted_at": change.at},
             "$max": {"last_seen": change.at}},
            upsert=True,
        )
    if isinstance(change, ConnectorStatusChanged):
        status = change.status
        field = f"connectors.{status.connector_id}"
        document = asdict(status)
        del document["connector_id"]
        return UpdateOne(
            _newer(cp, f"{field}.timestamp", status.timestamp),
            {"$set": {f"{field}.{key}": value for key, value in document.items()}},
            upsert=True,
        )
    if isinstance(change, ConnectionChanged):
        moment = (
            "connected_at" if change.status is ConnectionStatus.CONNECTED else "disconnected_at"
        )
        return UpdateOne(
            _newer(cp, "connection_changed_at", change.at),
            {"$set": {"connection_status": change.status.value, moment: change.at,
                      "connection_changed_at": change.at}},
            upsert=True,
        )
    return UpdateOne(
        _newer(cp, f"notifications.{change.kind}.at", change.at),
        {"$set": {f"notifications.{change.kind}": {"data": change.data, "at": change.at}}},
        upsert=True,
    )


class MongoTransactions:
    def __init__(self, db: Database[Doc]) -> None:
        self._c: Collection[Doc] = db["transactions"]
        self._counters: Collection[Doc] = db["counters"]

    def _next_id(self) -> int:
        # A new tenant's first ids race to create the counter: the losers of the upsert
        # get DuplicateKeyError (MongoDB) or no document (some wire servers); the counter
        # exists by then, so trying again increments it.
        for _ in range(5):
            try:
                counter = self._counters.find_one_and_update(
                    {"_id": "transaction_id"},
                    {"$inc": {"seq": 1}},
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                )
            except DuplicateKeyError:
                continue
            if counter is not None:
                return int(counter["seq"])
        raise RuntimeError("the transaction id counter could not be incremented")

    def start(self, request: StartRequest, id_tag_status: str) -> Transaction:
        existing = self._c.find_one({"dedup_key": request.dedup_key})
        if existing is not None:
            return _transaction(existing)
        transaction = Transaction(
            transaction_id=self._next_id(),
            charge_point_id=request.charge_point_id,
            connector_id=request.connector_id,
            id_tag=request.id_tag,
            meter_start=request.meter_start,
            start_timestamp=request.timestamp,
            id_tag_status=AuthorizationStatus(id_tag_status),
            reservation_id=request.reservation_id,
        )
        document = _transaction_document(transaction) | {"dedup_key": request.dedup_key}
        try:
            self._c.insert_one(document)
        except DuplicateKeyError:
            # A concurrent copy of the same StartTransaction won: answer with its id.
            winner = self._c.find_one({"dedup_key": request.dedup_key})
            if winner is None:
                raise
            return _transaction(winner)
        return transaction

    def stop(self, request: StopRequest) -> Transaction | None:
        document = self._c.find_one(
            {"_id": request.transaction_id, "charge_point_id": request.charge_point_id}
        )
        if document is None:
            return None
        transaction = _transaction(document)
        if transaction.status is TransactionStatus.COMPLETED:
            return transaction  # already stopped: a late retry changes nothing
        transaction.status = TransactionStatus.COMPLETED
        transaction.meter_stop = request.meter_stop
        transaction.stop_timestamp = request.timestamp
        transaction.stop_reason = request.reason
        transaction.stop_id_tag = request.id_tag
        self._c.update_one(
            {"_id": transaction.transaction_id, "status": TransactionStatus.ACTIVE.value},
            {"$set": _transaction_document(transaction)},
        )
        return transaction

    def get(self, transaction_id: int) -> Transaction | None:
        document = self._c.find_one({"_id": transaction_id})
        return _transaction(document) if document else None

    def active_for_id_tag(self, id_tag: str) -> Transaction | None:
        document = self._c.find_one(
            {"id_tag": id_tag, "status": TransactionStatus.ACTIVE.value},
            sort=[("start_timestamp", DESCENDING)],
        )
        return _transaction(document) if document else None

    def active(
        self,
        *,
        id_tag: str | None = None,
        charge_point_id: str | None = None,
        connector_id: int | None = None,
    ) -> list[Transaction]:
        query: Doc = {"status": TransactionStatus.ACTIVE.value}
        criteria = {"id_tag": id_tag, "charge_point_id": charge_point_id,
                    "connector_id": connector_id}
        query |= {k: v for k, v in criteria.items() if v is not None}
        cursor = self._c.find(query).sort([("start_timestamp", DESCENDING), ("_id", DESCENDING)])
        return [_transaction(document) for document in cursor]

    def close(self, transaction: Transaction) -> bool:
        result = self._c.update_one(
            {"_id": transaction.transaction_id, "status": TransactionStatus.ACTIVE.value},
            {"$set": _transaction_document(transaction)},
        )
        return result.matched_count == 1


def _transaction_document(t: Transaction) -> Doc:
    return {
        "_id": t.transaction_id,
        "charge_point_id": t.charge_point_id,
        "connector_id": t.connector_id,
        "id_tag": t.id_tag,
        "id_tag_status": t.id_tag_status.value,
        "meter_start": t.meter_start,
        "start_timestamp": t.start_timestamp,
        "status": t.status.value,
        "meter_stop": t.meter_stop,
        "stop_timestamp": t.stop_timestamp,
        "stop_reason": t.stop_reason,
        "stop_id_tag": t.stop_id_tag,
        "energy_wh": t.energy_wh,
        "reservation_id": t.reservation_id,
        "closed_at": t.closed_at,
        "closed_by": t.closed_by,
    }


def _transaction(d: Doc) -> Transaction:
    return Transaction(
        transaction_id=d["_id"],
        charge_point_id=d["charge_point_id"],
        connector_id=d["connector_id"],
        id_tag=d["id_tag"],
        meter_start=d["meter_start"],
        start_timestamp=d["start_timestamp"],
        id_tag_status=AuthorizationStatus(d["id_tag_status"]),
        status=TransactionStatus(d["status"]),
        meter_stop=d.get("meter_stop"),
        stop_timestamp=d.get("stop_timestamp"),
        stop_reason=d.get("stop_reason"),
        stop_id_tag=d.get("stop_id_tag"),
        reservation_id=d.get("reservation_id"),
        closed_at=d.get("closed_at"),
        closed_by=d.get("closed_by"),
    )


class MongoIdTags:
    def __init__(self, db: Database[Doc]) -> None:
        self._c: Collection[Doc] = db["id_tags"]

    def get(self, id_tag: str) -> IdTag | None:
        d = self._c.find_one({"_id": id_tag})
        if d is None:
            return None
        return IdTag(
            d["_id"],
            AuthorizationStatus(d["status"]),
            d.get("expiry_date"),
            d.get("parent_id_tag"),
            d.get("id_token_type"),
            d.get("group_id_token"),
        )

    def put(self, id_tag: IdTag) -> None:
        self._c.replace_one(
            {"_id": id_tag.id_tag},
            {
                "status": id_tag.status.value,
                "expiry_date": id_tag.expiry_date,
                "parent_id_tag": id_tag.parent_id_tag,
                "id_token_type": id_tag.id_token_type,
                "group_id_token": id_tag.group_id_token,
            },
            upsert=True,
        )

    def delete(self, id_tag: str) -> bool:
        return self._c.delete_one({"_id": id_tag}).deleted_count == 1


class MongoMeterValues:
    def __init__(self, db: Database[Doc]) -> None:
        self._c: Collection[Doc] = db["meter_values"]

    def add(self, values: Sequence[MeterValue], keep_for: timedelta | None = None) -> None:
        if not values:
            return
        documents = []
        for i, v in enumerate(values):
            document: Doc = {
                # The same reading (charger, connector, time, transaction) stored twice is
                # one reading: a deterministic _id turns a retried MeterValues into a no-op.
                "_id": f"{v.charge_point_id}|{v.connector_id}|{v.transaction_id}|"
                f"{v.timestamp.isoformat()}|{i}",
                "charge_point_id": v.charge_point_id,
                "connector_id": v.connector_id,
                "transaction_id": v.transaction_id,
                "timestamp": v.timestamp,
                "sampled_value": v.sampled_values,
            }
            if keep_for is not None:
                document["expire_at"] = v.timestamp + keep_for
            documents.append(document)
        _insert_new(self._c, documents)

    def latest(self, transaction_id: int, limit: int) -> list[MeterValue]:
        cursor = (
            self._c.find({"transaction_id": transaction_id})
            .sort("timestamp", DESCENDING)
            .limit(limit)
        )
        return [
            MeterValue(
                d["charge_point_id"],
                d["connector_id"],
                d["timestamp"],
                d["sampled_value"],
                d["transaction_id"],
            )
            for d in cursor
        ]


def _insert_new(collection: Collection[Doc], documents: list[Doc]) -> None:
    """Insert, skipping documents whose _id is stored already (a redelivered batch)."""
    if not documents:
        return
    try:
        collection.insert_many(documents, ordered=False)
    except BulkWriteError as exc:
        if any(e.get("code") != _DUPLICATE_KEY for e in exc.details.get("writeErrors", [])):
            raise


class MongoSessions:
    def __init__(self, db: Database[Doc]) -> None:
        self._c: Collection[Doc] = db["sessions"]

    def sync(self, changes: Sequence[SessionChange]) -> None:
        if changes:
            self._c.bulk_write(
                [
                    UpdateOne({"_id": c.connection_id}, {"$set": c.fields}, upsert=True)
                    for c in changes
                ],
                ordered=True,
            )


class MongoMessageLog:
    def __init__(self, db: Database[Doc]) -> None:
        self._c: Collection[Doc] = db["ocpp_messages"]

    def record(self, entries: Sequence[dict[str, Any]]) -> None:
        # insert_many mutates its documents (adds a missing _id); hand it copies.
        _insert_new(self._c, [dict(e) for e in entries])


class MongoReservations:
    def __init__(self, db: Database[Doc]) -> None:
        self._c: Collection[Doc] = db["reservations"]

    def put(self, reservation: Reservation) -> None:
        document = asdict(reservation)
        document["status"] = reservation.status.value
        key = f"{reservation.charge_point_id}|{reservation.reservation_id}"
        # ReserveNow with a known id replaces that reservation (OCPP 1.6, 5.13).
        self._c.replace_one({"_id": key}, document, upsert=True)

    def set_status(
        self,
        charge_point_id: str,
        reservation_id: int,
        status: ReservationStatus,
        transaction_id: int | None = None,
    ) -> bool:
        changes: Doc = {"status": status.value}
        if transaction_id is not None:
            changes["transaction_id"] = transaction_id
        result = self._c.update_one(
            {"_id": f"{charge_point_id}|{reservation_id}"}, {"$set": changes}
        )
        return result.matched_count == 1


class MongoChargingProfiles:
    def __init__(self, db: Database[Doc]) -> None:
        self._c: Collection[Doc] = db["charging_profiles"]

    def put(self, charge_point_id: str, profile: ChargingProfile, as_sent: dict[str, Any]
            ) -> None:
        # A profile with the same id replaces the old one (1.6 3.13.2, 2.0.1 K01.FR.05).
        self._c.replace_one(
            {"charge_point_id": charge_point_id, "profile_id": profile.profile_id},
            {
                "charge_point_id": charge_point_id,
                # 1.6 connector n is EVSE n: one field for both versions' profiles.
                "connector_id": profile.evse_id,
                "profile_id": profile.profile_id,
                "purpose": profile.purpose.value,
                "stack_level": profile.stack_level,
                "profile": as_sent,
            },
            upsert=True,
        )

    def clear(self, charge_point_id: str, criteria: ProfileCriteria) -> int:
        query: Doc = {"charge_point_id": charge_point_id}
        for field, wanted in (
            ("profile_id", criteria.profile_id),
            ("connector_id", criteria.evse_id),
            ("purpose", criteria.purpose.value if criteria.purpose else None),
            ("stack_level", criteria.stack_level),
        ):
            if wanted is not None:
                query[field] = wanted
        return self._c.delete_many(query).deleted_count


class MongoCommandLog:
    def __init__(self, db: Database[Doc]) -> None:
        self._c: Collection[Doc] = db["commands"]

    def insert(self, command: Command) -> None:
        document = asdict(command)
        document["_id"] = document.pop("command_id")
        document["status"] = command.status.value
        self._c.insert_one(document)

    def get(self, command_id: str) -> Command | None:
        doc = self._c.find_one({"_id": command_id})
        return command_from_document(doc) if doc else None

    def mark_sent(self, command_id: str, at: datetime, expires_at: datetime) -> bool:
        result = self._c.update_one(
            {"_id": command_id, "status": CommandStatus.QUEUED.value},
            {"$set": {"status": CommandStatus.SENT.value, "sent_at": at, "expires_at": expires_at}},
        )
        return result.matched_count == 1

    def finish(
        self,
        command_id: str,
        status: CommandStatus,
        at: datetime,
        response: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
    ) -> bool:
        # Conditional on a non-final status: of two racing outcomes, the first one wins.
        result = self._c.update_one(
            {"_id": command_id, "status": {"$nin": [s.value for s in FINAL_STATUSES]}},
            {
                "$set": {
                    "status": status.value,
                    "completed_at": at,
                    "response": response,
                    "error": error,
                }
            },
        )
        return result.matched_count == 1

    def overdue(self, now: datetime, limit: int) -> list[Command]:
        waiting = [CommandStatus.QUEUED.value, CommandStatus.SENT.value]
        cursor = (
            self._c.find({"status": {"$in": waiting}, "expires_at": {"$lte": now}})
            .sort("expires_at", ASCENDING)
            .limit(limit)
        )
        return [command_from_document(doc) for doc in cursor]

    def queued_charge_points(self, limit: int) -> list[str]:
        found = self._c.distinct("charge_point_id", {"status": CommandStatus.QUEUED.value})
        return sorted(found)[:limit]

    def find_by_request(
        self, charge_point_id: str, action: str, field: str, value: Any
    ) -> Command | None:
        doc = self._c.find_one(
            {"charge_point_id": charge_point_id, "action": action, f"request.{field}": value},
            sort=[("created_at", DESCENDING)],
        )
        return command_from_document(doc) if doc else None

    def set_transaction(self, command_id: str, transaction_id: int | str) -> None:
        self._c.update_one({"_id": command_id}, {"$set": {"transaction_id": transaction_id}})


def command_from_document(doc: Doc) -> Command:
    fields = {k: v for k, v in doc.items() if k in Command.__dataclass_fields__}
    fields["status"] = CommandStatus(doc["status"])
    return Command(command_id=doc["_id"], **fields)


class MongoDeviceModel:
    """Collection `device_model`: one document per (charge point, variable, attribute)."""

    def __init__(self, db: Database[Doc]) -> None:
        self._c: Collection[Doc] = db["device_model"]

    def put(self, charge_point_id: str, attributes: Sequence[VariableAttribute]) -> None:
        if not attributes:
            return
        self._c.bulk_write(
            [
                ReplaceOne(
                    {"_id": _attribute_id(charge_point_id, a.key, a.attribute_type)},
                    _attribute_document(charge_point_id, a),
                    upsert=True,
                )
                for a in attributes
            ],
            ordered=False,
        )

    def of(self, charge_point_id: str) -> list[VariableAttribute]:
        cursor = self._c.find({"charge_point_id": charge_point_id}).sort("_id", ASCENDING)
        return [_attribute(doc) for doc in cursor]

    def get(
        self, charge_point_id: str, key: VariableKey, attribute_type: str = ACTUAL
    ) -> VariableAttribute | None:
        doc = self._c.find_one({"_id": _attribute_id(charge_point_id, key, attribute_type)})
        return _attribute(doc) if doc else None


def _attribute_id(charge_point_id: str, key: VariableKey, attribute_type: str) -> str:
    return f"{charge_point_id}|{key.path}|{attribute_type}"


def _attribute_document(charge_point_id: str, a: VariableAttribute) -> Doc:
    return {
        "charge_point_id": charge_point_id,
        "path": a.key.path,
        "key": asdict(a.key),
        "attribute_type": a.attribute_type,
        "value": a.value,
        "mutability": a.mutability,
        "persistent": a.persistent,
        "constant": a.constant,
        "characteristics": a.characteristics,
        "updated_at": a.updated_at,
    }


def _attribute(doc: Doc) -> VariableAttribute:
    return VariableAttribute(
        key=VariableKey(**doc["key"]),
        updated_at=doc["updated_at"],
        attribute_type=doc["attribute_type"],
        value=doc.get("value"),
        mutability=doc.get("mutability"),
        persistent=doc.get("persistent"),
        constant=doc.get("constant"),
        characteristics=doc.get("characteristics") or {},
    )


# Indexes earlier versions made that no query reads any more; each one costs every
# insert into its collection (the message log takes two documents per OCPP Call), so
# `csms-admin db migrate` drops them. message_id alone: the log is read by charge point,
# action or time, and a Call's answer is found beside it (same charge point and time).
_OBSOLETE_INDEXES = {"ocpp_messages": ("message_id_1",)}


class MongoTenantData:
    def __init__(self, db: Database[Doc]) -> None:
        self.db = db
        self.charge_points = MongoChargePointState(db)
        self.transactions = MongoTransactions(db)
        self.id_tags = MongoIdTags(db)
        self.meter_values = MongoMeterValues(db)
        self.sessions = MongoSessions(db)
        self.messages = MongoMessageLog(db)
        self.commands = MongoCommandLog(db)
        self.reservations = MongoReservations(db)
        self.charging_profiles = MongoChargingProfiles(db)
        self.device_model = MongoDeviceModel(db)
        self.charger_transactions = MongoChargerTransactions(db)
        self.local_lists = MongoLocalLists(db)
        self.evse_reservations = MongoEvseReservations(db)
        self.display_messages = MongoDisplayMessages(db)
        self.diagnostics = MongoDiagnostics(db)
        self.data_transfers = MongoDataTransfers(db)
        self.firmware = MongoFirmware(db)

    def ensure_indexes(self) -> None:
        """Idempotent; run when a tenant is created and by `csms-admin db migrate`."""
        db = self.db
        for collection, names in _OBSOLETE_INDEXES.items():
            existing = db[collection].index_information()
            for name in names:
                if name in existing:
                    db[collection].drop_index(name)
        db["transactions"].create_index("dedup_key", unique=True)
        db["transactions"].create_index(
            [("charge_point_id", ASCENDING), ("start_timestamp", DESCENDING)]
        )
        db["transactions"].create_index([("status", ASCENDING), ("start_timestamp", DESCENDING)])
        db["transactions"].create_index([("id_tag", ASCENDING), ("status", ASCENDING)])
        # A StartTransaction looks for what is still open on its connector.
        db["transactions"].create_index(
            [("charge_point_id", ASCENDING), ("status", ASCENDING), ("connector_id", ASCENDING)]
        )
        db["meter_values"].create_index([("transaction_id", ASCENDING), ("timestamp", ASCENDING)])
        db["meter_values"].create_index([("charge_point_id", ASCENDING), ("timestamp", DESCENDING)])
        db["sessions"].create_index([("charge_point_id", ASCENDING), ("connected_at", DESCENDING)])
        db["ocpp_messages"].create_index(
            [("charge_point_id", ASCENDING), ("timestamp", DESCENDING)]
        )
        # Retention: each document carries its own expiry (the tenant's retention when it
        # was written), so changing a tenant's retention needs no index change.
        db["ocpp_messages"].create_index("expire_at", expireAfterSeconds=0)
        db["meter_values"].create_index("expire_at", expireAfterSeconds=0)
        db["ocpp_messages"].create_index([("action", ASCENDING), ("timestamp", DESCENDING)])
        db["notifications"].create_index(
            [("charge_point_id", ASCENDING), ("timestamp", DESCENDING)]
        )
        db["commands"].create_index([("charge_point_id", ASCENDING), ("created_at", DESCENDING)])
        db["device_model"].create_index([("charge_point_id", ASCENDING), ("path", ASCENDING)])
        db["firmware_rollouts"].create_index([("created_at", DESCENDING)])
        db["data_transfers"].create_index(
            [("charge_point_id", ASCENDING), ("received_at", DESCENDING)]
        )
        db["log_requests"].create_index(
            [("charge_point_id", ASCENDING), ("requested_at", DESCENDING)]
        )
        db["variable_monitors"].create_index([("charge_point_id", ASCENDING), ("id", ASCENDING)])
        MongoSites(db).ensure_indexes()
        db["notifications"].create_index(
            [("charge_point_id", ASCENDING), ("kind", ASCENDING), ("timestamp", DESCENDING)]
        )
        db["display_messages"].create_index(
            [("charge_point_id", ASCENDING), ("message_id", ASCENDING)]
        )
        # The sweep looks for commands still waiting past their deadline.
        db["commands"].create_index([("status", ASCENDING), ("expires_at", ASCENDING)])
        db["charging_profiles"].create_index(
            [("charge_point_id", ASCENDING), ("profile_id", ASCENDING)], unique=True
        )
        db["reservations"].create_index([("charge_point_id", ASCENDING), ("status", ASCENDING)])
        # The CSMS's expiry check looks for active reservations past their expiry.
        db["reservations"].create_index([("status", ASCENDING), ("expiry_date", ASCENDING)])


class MongoTenantStore:
    def __init__(self, client: MongoClient[Doc]) -> None:
        self._client = client
        self._tenants: dict[str, MongoTenantData] = {}

    def for_tenant(self, tenant_id: str) -> MongoTenantData:
        data = self._tenants.get(tenant_id)
        if data is None:
            data = MongoTenantData(self._client[tenant_database_name(tenant_id)])
            self._tenants[tenant_id] = data
        return data
