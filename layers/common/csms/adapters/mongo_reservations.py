"""Reservations of both versions in collection `reservations` (the same documents as
MongoReservations, keyed `{charge point}|{reservation id}`), with what the 2.0.1 flows and
the CSMS's expiry check need."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from csms.domain.reservations import EvseReservation, ReservationState

Doc = dict[str, Any]


def _key(charge_point_id: str, reservation_id: int) -> str:
    return f"{charge_point_id}|{reservation_id}"


class MongoEvseReservations:
    def __init__(self, db: Database[Doc]) -> None:
        self._c: Collection[Doc] = db["reservations"]
        self._counters: Collection[Doc] = db["counters"]

    def put(self, reservation: EvseReservation) -> None:
        # ReserveNow with a known id replaces that reservation (2.0.1 H01.FR.02).
        document = {
            "reservation_id": reservation.reservation_id,
            "charge_point_id": reservation.charge_point_id,
            "connector_id": reservation.connector_id,
            "evse_id": reservation.evse_id,
            "id_tag": reservation.id_tag,
            "id_token_type": reservation.id_token_type,
            "parent_id_tag": reservation.parent_id_tag,
            "connector_type": reservation.connector_type,
            "expiry_date": reservation.expiry_date,
            "status": reservation.status.value,
            "transaction_id": reservation.transaction_id,
            "ocpp_version": reservation.ocpp_version,
            "ended_at": reservation.ended_at,
        }
        self._c.replace_one(
            {"_id": _key(reservation.charge_point_id, reservation.reservation_id)},
            document,
            upsert=True,
        )

    def get(self, charge_point_id: str, reservation_id: int) -> EvseReservation | None:
        doc = self._c.find_one({"_id": _key(charge_point_id, reservation_id)})
        return _reservation(doc) if doc else None

    def end(
        self,
        charge_point_id: str,
        reservation_id: int,
        status: ReservationState,
        at: datetime,
        transaction_id: int | str | None = None,
    ) -> EvseReservation | None:
        """Active -> `status`; None when it was not active (ended already, unknown)."""
        changes: Doc = {"status": status.value, "ended_at": at}
        if transaction_id is not None:
            changes["transaction_id"] = transaction_id
        doc = self._c.find_one_and_update(
            {"_id": _key(charge_point_id, reservation_id),
             "status": ReservationState.ACTIVE.value},
            {"$set": changes},
            return_document=ReturnDocument.AFTER,
        )
        return _reservation(doc) if doc else None

    def due(self, now: datetime, limit: int) -> list[EvseReservation]:
        cursor = (
            self._c.find({"status": ReservationState.ACTIVE.value, "expiry_date": {"$lte": now}})
            .sort("expiry_date", ASCENDING)
            .limit(limit)
        )
        return [_reservation(doc) for doc in cursor]

    def active(self, charge_point_id: str) -> list[EvseReservation]:
        cursor = self._c.find(
            {"charge_point_id": charge_point_id, "status": ReservationState.ACTIVE.value}
        ).sort("expiry_date", ASCENDING)
        return [_reservation(doc) for doc in cursor]

    def next_id(self, charge_point_id: str) -> int:
        """A reservation id unused at this charger (ids are the CSMS's to choose)."""
        for _ in range(5):
            try:
                counter = self._counters.find_one_and_update(
                    {"_id": f"reservation_id|{charge_point_id}"},
                    {"$inc": {"seq": 1}},
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                )
            except DuplicateKeyError:
                continue  # a racing first upsert created it: increment that one
            if counter is not None:
                return int(counter["seq"])
        raise RuntimeError("the reservation id counter could not be incremented")


def _reservation(doc: Doc) -> EvseReservation:
    evse_id = doc.get("evse_id", doc.get("connector_id"))
    return EvseReservation(
        reservation_id=doc["reservation_id"],
        charge_point_id=doc["charge_point_id"],
        evse_id=evse_id or None,
        id_tag=doc["id_tag"],
        expiry_date=doc["expiry_date"],
        id_token_type=doc.get("id_token_type"),
        parent_id_tag=doc.get("parent_id_tag"),
        connector_type=doc.get("connector_type"),
        status=ReservationState(doc.get("status", ReservationState.ACTIVE.value)),
        transaction_id=doc.get("transaction_id"),
        ocpp_version=doc.get("ocpp_version") or "ocpp1.6",
        ended_at=doc.get("ended_at"),
    )
