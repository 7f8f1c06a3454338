"""Version-neutral charging flows; OCPP version modules translate payloads into these."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from csms.domain.model import (
    AuthorizationStatus,
    BootInfo,
    ConnectorStatus,
    IdTagInfo,
    MeterValue,
    ReservationStatus,
    StartRequest,
    StopRequest,
    Transaction,
    authorize,
)
from csms.ports import RuntimeRecords, TenantData, TenantStore
from csms.protocol.timestamps import format_timestamp

logger = logging.getLogger(__name__)


class ChargingService:
    """What a reply depends on (authorization, transaction ids) is read and written here
    synchronously; runtime state, meter values and events go to `records`."""

    def __init__(self, store: TenantStore, records: RuntimeRecords) -> None:
        self._store = store
        self._records = records

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
        if info.status is AuthorizationStatus.ACCEPTED:
            other = data.transactions.active_for_id_tag(request.id_tag)
            if other is not None and not _same_start(other, request):
                info = IdTagInfo(
                    AuthorizationStatus.CONCURRENT_TX, info.expiry_date, info.parent_id_tag
                )
        transaction = data.transactions.start(request, info.status.value)
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
            data.charge_points.set_current_transaction(
                request.charge_point_id, transaction.connector_id, None
            )
            self._records.event(
                tenant_id,
                request.charge_point_id,
                "transaction_stopped",
                {
                    "transaction_id": transaction.transaction_id,
                    "connector_id": transaction.connector_id,
                    "meter_start": transaction.meter_start,
                    "meter_stop": transaction.meter_stop,
                    "energy_wh": transaction.energy_wh,
                    "reason": transaction.stop_reason,
                    "stopped_at": format_timestamp(request.timestamp),
                },
                now,
            )
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
        self._records.notification(tenant_id, charge_point_id, kind, data, now)


def _same_start(transaction: Transaction, request: StartRequest) -> bool:
    return (
        transaction.charge_point_id == request.charge_point_id
        and transaction.connector_id == request.connector_id
        and transaction.meter_start == request.meter_start
        and transaction.start_timestamp == request.timestamp
    )
