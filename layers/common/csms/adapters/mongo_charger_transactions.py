"""OCPP 2.0.1 transactions (charger-assigned string ids) in the tenant's `transactions`
collection, beside 1.6's: the same fields the API lists (charge_point_id, connector_id,
id_tag, id_tag_status, meter_start/stop, energy_wh, status, start/stop timestamps,
stop_reason) plus transaction_id, ocpp_version, evse and the event bookkeeping."""

from __future__ import annotations

from typing import Any

from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from csms.domain.charger_transactions import (
    ChargerTransaction,
    Reading,
    TransactionEventData,
    applied,
)
from csms.domain.model import TransactionStatus

Doc = dict[str, Any]
# The versions whose chargers number their own transactions (1.6's share the collection).
CHARGER_VERSIONS = ["ocpp2.0.1", "ocpp2.1"]


def document_id(charge_point_id: str, transaction_id: str) -> str:
    """Charger-assigned ids are unique per charger only."""
    return f"{charge_point_id}|{transaction_id}"


class MongoChargerTransactions:
    def __init__(self, db: Database[Doc]) -> None:
        self._c: Collection[Doc] = db["transactions"]

    def apply(
        self, event: TransactionEventData, id_token_status: str | None
    ) -> ChargerTransaction | None:
        key = document_id(event.charge_point_id, event.transaction_id)
        # Claim (transactionId, seqNo) atomically: of two copies of an event, one wins.
        try:
            claimed = self._c.update_one(
                {"_id": key, "seq_nos": {"$ne": event.seq_no}},
                {"$push": {"seq_nos": event.seq_no},
                 "$setOnInsert": {"dedup_key": key, "ocpp_version": event.ocpp_version}},
                upsert=True,
            )
        except DuplicateKeyError:
            return None  # the document exists and has this seqNo: a repeat
        if claimed.matched_count == 0 and claimed.upserted_id is None:
            return None
        document = self._c.find_one({"_id": key})
        current = _transaction(document) if document and "started_at" in document else None
        updated = applied(current, event, id_token_status)
        self._c.update_one({"_id": key}, {"$set": _fields(updated)})
        return updated

    def get(self, charge_point_id: str, transaction_id: str) -> ChargerTransaction | None:
        document = self._c.find_one({"_id": document_id(charge_point_id, transaction_id)})
        return _transaction(document) if document and "started_at" in document else None

    def active(
        self,
        *,
        charge_point_id: str | None = None,
        evse_id: int | None = None,
        id_token: str | None = None,
    ) -> list[ChargerTransaction]:
        query: Doc = {
            "ocpp_version": {"$in": CHARGER_VERSIONS}, "status": TransactionStatus.ACTIVE.value,
        }
        criteria = {"charge_point_id": charge_point_id, "evse.id": evse_id, "id_tag": id_token}
        query |= {k: v for k, v in criteria.items() if v is not None}
        return [_transaction(d) for d in self._c.find(query) if "started_at" in d]

    def close(self, transaction: ChargerTransaction) -> bool:
        key = document_id(transaction.charge_point_id, transaction.transaction_id)
        result = self._c.update_one(
            {"_id": key, "status": TransactionStatus.ACTIVE.value},
            {"$set": _fields(transaction)},
        )
        return result.matched_count == 1


def _reading(reading: Reading | None) -> Doc | None:
    return None if reading is None else {"at": reading.at, "wh": reading.wh}


def _from_reading(doc: Doc | None) -> Reading | None:
    return None if not doc else Reading(doc["at"], doc["wh"])


def _fields(t: ChargerTransaction) -> Doc:
    return {
        "transaction_id": t.transaction_id,
        "charge_point_id": t.charge_point_id,
        "connector_id": t.evse_id if t.evse_id is not None else 0,
        "evse": None if t.evse_id is None else {"id": t.evse_id, "connector_id": t.connector_id},
        "id_tag": t.id_token,
        "id_token_type": t.id_token_type,
        "id_tag_status": t.id_token_status,
        "stop_id_tag": t.stop_id_token,
        "meter_start": t.meter_start,
        "meter_stop": t.meter_stop,
        "energy_wh": t.energy_wh,
        "start_timestamp": t.started_at,
        "stop_timestamp": t.ended_at,
        "status": t.status.value,
        "charging_state": t.charging_state,
        "stop_reason": t.stopped_reason,
        "remote_start_id": t.remote_start_id,
        "offline": t.offline,
        "closed_at": t.closed_at,
        # bookkeeping: what the events said, to apply later ones to
        "started_at": t.started_at,
        "last_event_at": t.last_event_at,
        "first_reading": _reading(t.first_reading),
        "last_reading": _reading(t.last_reading),
    }


def _transaction(d: Doc) -> ChargerTransaction:
    evse = d.get("evse") or {}
    return ChargerTransaction(
        charge_point_id=d["charge_point_id"],
        transaction_id=d["transaction_id"],
        started_at=d["started_at"],
        last_event_at=d["last_event_at"],
        status=TransactionStatus(d["status"]),
        evse_id=evse.get("id"),
        connector_id=evse.get("connector_id"),
        id_token=d.get("id_tag"),
        id_token_type=d.get("id_token_type"),
        id_token_status=d.get("id_tag_status"),
        stop_id_token=d.get("stop_id_tag"),
        charging_state=d.get("charging_state"),
        stopped_reason=d.get("stop_reason"),
        ended_at=d.get("stop_timestamp"),
        first_reading=_from_reading(d.get("first_reading")),
        last_reading=_from_reading(d.get("last_reading")),
        remote_start_id=d.get("remote_start_id"),
        offline=bool(d.get("offline")),
        seq_nos=tuple(d.get("seq_nos") or ()),
        closed_at=d.get("closed_at"),
        ocpp_version=d.get("ocpp_version") or "ocpp2.0.1",
    )
