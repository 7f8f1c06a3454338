"""Reservations (OCPP 2.0.1 block H, and 1.6 where the flows are the same): made through
the tenant API, ended by the charger (ReservationStatusUpdate), by a transaction that
uses them, by cancellation, or by the CSMS once their expiry has passed. Every end but a
cancellation (whose command_completed event says it) is a `reservation_status` event."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from csms.domain.commands import Command, UnknownCommand
from csms.domain.reservations import EvseReservation, ReservationRequest, ReservationState
from csms.ports import Directory, RuntimeRecords, TenantStore
from csms.protocol.timestamps import format_timestamp
from csms.services.commands import CommandService
from csms.services.fleet import NotFound

logger = logging.getLogger(__name__)

Payload = dict[str, Any]
_TENANT_PAGE = 200


def reservation_event(reservation: EvseReservation) -> Payload:
    return {
        "reservation_id": reservation.reservation_id,
        "status": reservation.status.value,
        "evse_id": reservation.evse_id,
        "id_token": reservation.id_tag,
        "expiry_date": format_timestamp(reservation.expiry_date),
        "transaction_id": reservation.transaction_id,
    }


class ReservationService:
    def __init__(
        self,
        store: TenantStore,
        records: RuntimeRecords,
        commands: CommandService | None = None,
    ) -> None:
        self._store = store
        self._records = records
        self._commands = commands

    def end(
        self,
        tenant_id: str,
        charge_point_id: str,
        reservation_id: int,
        status: ReservationState,
        at: datetime,
        transaction_id: int | str | None = None,
    ) -> EvseReservation | None:
        """End an active reservation and publish it; None (and nothing published) when
        it had ended already or was never made here."""
        reservations = self._store.for_tenant(tenant_id).evse_reservations
        ended = reservations.end(charge_point_id, reservation_id, status, at, transaction_id)
        if ended is not None:
            self._records.event(
                tenant_id, charge_point_id, "reservation_status", reservation_event(ended), at
            )
        return ended

    def reserve(
        self,
        tenant_id: str,
        charge_point_id: str,
        id_token: str,
        expires_at: datetime,
        *,
        id_token_type: str = "ISO14443",
        evse_id: int | None = None,
        group_id_token: str | None = None,
        connector_type: str | None = None,
        queue_if_offline: bool = False,
    ) -> Command:
        """ReserveNow in the charger's version, with a reservation id the CSMS picks."""
        commands = self._require_commands()
        version, shapes = commands.shapes_of(charge_point_id)
        if shapes.reserve_now is None:
            raise UnknownCommand("a reservation", version)
        reservations = self._store.for_tenant(tenant_id).evse_reservations
        reservation_id = reservations.next_id(charge_point_id)
        while reservations.get(charge_point_id, reservation_id) is not None:
            # Taken by a raw ReserveNow command: reusing it would replace that one.
            reservation_id = reservations.next_id(charge_point_id)
        request = ReservationRequest(
            reservation_id=reservation_id,
            id_token=id_token,
            expires_at=expires_at,
            id_token_type=id_token_type,
            evse_id=evse_id,
            group_id_token=group_id_token,
            connector_type=connector_type,
        )
        return commands.submit(tenant_id, charge_point_id, "ReserveNow",
                               shapes.reserve_now(request), queue_if_offline)

    def cancel(
        self, tenant_id: str, charge_point_id: str, reservation_id: int,
        queue_if_offline: bool = False,
    ) -> Command:
        reservations = self._store.for_tenant(tenant_id).evse_reservations
        if reservations.get(charge_point_id, reservation_id) is None:
            raise NotFound("no such reservation")
        commands = self._require_commands()
        version, shapes = commands.shapes_of(charge_point_id)
        if shapes.cancel_reservation is None:
            raise UnknownCommand("CancelReservation", version)
        return commands.submit(tenant_id, charge_point_id, "CancelReservation",
                               shapes.cancel_reservation(reservation_id), queue_if_offline)

    def _require_commands(self) -> CommandService:
        if self._commands is None:
            raise RuntimeError("this ReservationService sends no commands")
        return self._commands


class ReservationExpiry:
    """The CSMS's own expiry check, run by the scheduled sweep: a charger that is offline
    when its reservation expires never says so, and the driver's id token must not stay
    reserved in the CSMS's records (nor in the tenant's view) past expiryDateTime."""

    def __init__(
        self,
        directory: Directory,
        store: TenantStore,
        records: RuntimeRecords,
        clock: Callable[[], datetime],
        tenant_ids: Callable[[], Iterator[str]] | None = None,
        batch: int = 1000,
    ) -> None:
        self._directory = directory
        self._store = store
        self._service = ReservationService(store, records)
        self._clock = clock
        self._tenant_ids = tenant_ids or self._all_tenants
        self._batch = batch

    def sweep(self) -> int:
        now = self._clock()
        expired = 0
        for tenant_id in self._tenant_ids():
            try:
                due = self._store.for_tenant(tenant_id).evse_reservations.due(now, self._batch)
                for reservation in due:
                    ended = self._service.end(
                        tenant_id, reservation.charge_point_id, reservation.reservation_id,
                        ReservationState.EXPIRED, now,
                    )
                    expired += ended is not None
            except Exception:
                # One tenant's trouble must not keep the others' reservations alive.
                logger.exception("reservation expiry failed", extra={"tenant_id": tenant_id})
        return expired

    def _all_tenants(self) -> Iterator[str]:
        offset = 0
        while True:
            page = self._directory.list_tenants(_TENANT_PAGE, offset)
            yield from (tenant.tenant_id for tenant in page)
            if len(page) < _TENANT_PAGE:
                return
            offset += _TENANT_PAGE
