"""Version-neutral charging flows; OCPP version modules translate payloads into these."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from csms.domain.model import (
    CLOSED_BY_OPERATOR,
    SUPERSEDED,
    AuthorizationStatus,
    BootInfo,
    ConnectorStatus,
    IdTagInfo,
    MeterValue,
    ReservationStatus,
    StartRequest,
    StopRequest,
    Tenant,
    Transaction,
    authorize,
    energy_register_wh,
)
from csms.ports import Directory, RuntimeRecords, TenantData, TenantStore
from csms.protocol.timestamps import format_timestamp
from csms.services.fleet import Conflict, NotFound
from csms.services.storable import storable

logger = logging.getLogger(__name__)

# How many of a transaction's newest readings are searched for its last energy register.
_READINGS_SEARCHED = 50


class ChargingService:
    """What a reply depends on (authorization, transaction ids) is read and written here
    synchronously; runtime state, meter values and events go to `records`.

    `directory` supplies tenant settings (the ConcurrentTx policy); without one, every
    tenant has the defaults."""

    def __init__(
        self, store: TenantStore, records: RuntimeRecords, directory: Directory | None = None
    ) -> None:
        self._store = store
        self._records = records
        self._directory = directory

    def _tenant(self, tenant_id: str) -> TenantData:
        return self._store.for_tenant(tenant_id)

    def boot(self, tenant_id: str, charge_point_id: str, boot: BootInfo, now: datetime) -> None:
        self._records.boot(tenant_id, charge_point_id, boot, now)

    def heartbeat(self, tenant_id: str, charge_point_id: str, now: datetime) -> None:
        self._records.heartbeat(tenant_id, charge_point_id, now)

    def connector_status(
        self, tenant_id: str, charge_point_id: str, status: ConnectorStatus
    ) -> None:
        self._records.connector_status(tenant_id, charge_point_id, status)

    def authorize(self, tenant_id: str, id_tag: str, now: datetime) -> IdTagInfo:
        return authorize(self._tenant(tenant_id).id_tags.get(id_tag), now)

    def start_transaction(
        self, tenant_id: str, request: StartRequest, now: datetime
    ) -> tuple[Transaction, IdTagInfo]:
        data = self._tenant(tenant_id)
        info = authorize(data.id_tags.get(request.id_tag), now)
        if info.status is AuthorizationStatus.ACCEPTED and self._concurrent(
            tenant_id, data, request, now
        ):
            info = IdTagInfo(
                AuthorizationStatus.CONCURRENT_TX, info.expiry_date, info.parent_id_tag
            )
        transaction = data.transactions.start(request, info.status.value)
        self._supersede(tenant_id, data, transaction, now)
        if transaction.active:  # a late retry of a start since stopped points nowhere
            data.charge_points.set_current_transaction(
                request.charge_point_id, request.connector_id, transaction.transaction_id
            )
        if request.reservation_id is not None:
            # The charger honoured a reservation made by ReserveNow: it is used up now.
            data.reservations.set_status(
                request.charge_point_id,
                request.reservation_id,
                ReservationStatus.USED,
                transaction.transaction_id,
            )
        self._records.event(
            tenant_id,
            request.charge_point_id,
            "transaction_started",
            {
                "transaction_id": transaction.transaction_id,
                "connector_id": transaction.connector_id,
                "id_tag": transaction.id_tag,
                "id_tag_status": info.status.value,
                "meter_start": transaction.meter_start,
                "started_at": format_timestamp(transaction.start_timestamp),
            },
            now,
        )
        return transaction, info

    def stop_transaction(
        self,
        tenant_id: str,
        request: StopRequest,
        transaction_data: Sequence[MeterValue],
        now: datetime,
    ) -> IdTagInfo | None:
        data = self._tenant(tenant_id)
        transaction = data.transactions.stop(request)
        if transaction is None:
            # The charger must still get its answer (it would retry forever otherwise).
            logger.warning(
                "StopTransaction for unknown transaction",
                extra={"transaction_id": request.transaction_id},
            )
        else:
            data.charge_points.clear_current_transaction(
                request.charge_point_id, transaction.connector_id, transaction.transaction_id
            )
            self._stopped(tenant_id, transaction, now)
        if transaction_data:
            self._records.meter_values(tenant_id, transaction_data)
        if request.id_tag is None:
            return None
        return authorize(data.id_tags.get(request.id_tag), now)

    def meter_values(self, tenant_id: str, values: Sequence[MeterValue]) -> None:
        self._records.meter_values(tenant_id, values)

    def notification(
        self, tenant_id: str, charge_point_id: str, kind: str, data: dict[str, Any], now: datetime
    ) -> None:
        # Whatever the charger put in it (a lone surrogate, a 70-bit integer) must not
        # keep the record out of the store.
        self._records.notification(tenant_id, charge_point_id, kind, storable(data)[0], now)

    def close_transaction(
        self,
        tenant_id: str,
        transaction_id: int,
        closed_by: str,
        now: datetime,
        meter_stop: int | None = None,
        reason: str | None = None,
    ) -> Transaction:
        """An operator stops a transaction its charger never stopped. Without a
        `meter_stop`, the last energy register reading stands in, if there is one."""
        data = self._tenant(tenant_id)
        transaction = data.transactions.get(transaction_id)
        if transaction is None:
            raise NotFound("no such transaction")
        if not transaction.active:
            raise Conflict("the transaction is stopped already")
        if meter_stop is None:
            meter_stop = self._last_register_wh(data, transaction)
        closed = transaction.closed(
            meter_stop, now, reason or CLOSED_BY_OPERATOR, closed_at=now, closed_by=closed_by
        )
        if not data.transactions.close(closed):
            raise Conflict("the transaction is stopped already")  # stopped meanwhile
        data.charge_points.clear_current_transaction(
            transaction.charge_point_id, transaction.connector_id, transaction_id
        )
        self._stopped(tenant_id, closed, now)
        return closed

    def _concurrent(
        self, tenant_id: str, data: TenantData, request: StartRequest, now: datetime
    ) -> bool:
        """Whether the id tag is busy elsewhere, as the tenant's policy counts it: only an
        open transaction at another charge point heard from within the window."""
        # The policy first: a tag shared by a fleet (one card on thousands of chargers)
        # has as many open transactions, and a tenant that allows that (the default)
        # needs none of them.
        tenant = self._settings(tenant_id)
        if not tenant.rejects_concurrent_transactions:
            return False
        elsewhere = {
            t.charge_point_id
            for t in data.transactions.active(id_tag=request.id_tag)
            if t.charge_point_id != request.charge_point_id
        }
        if not elsewhere:
            return False
        since = now - timedelta(minutes=tenant.concurrent_tx_window_minutes)
        return any(data.charge_points.heard_from_since(cp, since) for cp in sorted(elsewhere))

    def _settings(self, tenant_id: str) -> Tenant:
        tenant = self._directory.get_tenant(tenant_id) if self._directory else None
        return tenant or Tenant(tenant_id, tenant_id)

    def _supersede(
        self, tenant_id: str, data: TenantData, started: Transaction, now: datetime
    ) -> None:
        """A charger that lost power never stopped its transaction: a newer start on the
        same connector is the sign, so what is still open there is closed as Superseded.
        Only older transactions (lower ids): a retried start finds its own first copy,
        and a late copy of an old start must not close the newer one."""
        still_open = data.transactions.active(
            charge_point_id=started.charge_point_id, connector_id=started.connector_id
        )
        for old in still_open:
            if old.transaction_id >= started.transaction_id:
                continue
            closed = old.closed(
                self._last_register_wh(data, old), started.start_timestamp, SUPERSEDED,
                closed_at=now,
            )
            if data.transactions.close(closed):
                self._stopped(tenant_id, closed, now, superseded_by=started.transaction_id)

    def _last_register_wh(self, data: TenantData, transaction: Transaction) -> int | None:
        readings = data.meter_values.latest(transaction.transaction_id, _READINGS_SEARCHED)
        return energy_register_wh(readings)

    def _stopped(
        self, tenant_id: str, transaction: Transaction, now: datetime, **extra: Any
    ) -> None:
        data: dict[str, Any] = {
            "transaction_id": transaction.transaction_id,
            "connector_id": transaction.connector_id,
            "meter_start": transaction.meter_start,
            "meter_stop": transaction.meter_stop,
            "energy_wh": transaction.energy_wh,
            "reason": transaction.stop_reason,
            "stopped_at": format_timestamp(transaction.stop_timestamp or now),
        }
        if transaction.closed_by is not None:
            data["closed_by"] = transaction.closed_by
        self._records.event(
            tenant_id, transaction.charge_point_id, "transaction_stopped", data | extra, now
        )
