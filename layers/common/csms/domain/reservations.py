"""Reservations of either OCPP version as the CSMS keeps them (block H in 2.0.1): made
when a charger accepts ReserveNow, ended by use, cancellation, the charger's
ReservationStatusUpdate or the CSMS's own expiry check. 1.6's Reservation (domain.model)
is the same record with a connector instead of an EVSE; both live in one collection."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class ReservationState(StrEnum):
    ACTIVE = "Active"
    USED = "Used"
    CANCELLED = "Cancelled"
    # 2.0.1 ReservationUpdateStatusEnumType, and what the CSMS sets past expiryDateTime.
    EXPIRED = "Expired"
    REMOVED = "Removed"


@dataclass(frozen=True, slots=True)
class ReservationRequest:
    """A reservation the CSMS asks a charger for, before any version words it."""

    reservation_id: int
    id_token: str
    expires_at: datetime
    id_token_type: str = "ISO14443"
    # None: the charger as a whole.
    evse_id: int | None = None
    group_id_token: str | None = None
    connector_type: str | None = None


@dataclass(frozen=True, slots=True)
class EvseReservation:
    reservation_id: int
    charge_point_id: str
    # None: the station as a whole (ReserveNow without evseId). `connector_id` mirrors
    # it (0 for none) so 1.6 reservations and these sort and list alike.
    evse_id: int | None
    id_tag: str
    expiry_date: datetime
    id_token_type: str | None = None
    parent_id_tag: str | None = None  # groupIdToken
    connector_type: str | None = None
    status: ReservationState = ReservationState.ACTIVE
    transaction_id: int | str | None = None
    ocpp_version: str = "ocpp2.0.1"
    ended_at: datetime | None = None

    @property
    def connector_id(self) -> int:
        return self.evse_id or 0
