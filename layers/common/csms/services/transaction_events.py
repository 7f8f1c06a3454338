"""OCPP 2.0.1 authorization and transactions (part 2, C and E), version-neutral below
the plug-in: typed id tokens, the master pass, and transactions the charger numbers."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from csms.domain.charger_transactions import (
    ENDED,
    STARTED,
    UPDATED,
    ChargerTransaction,
    TransactionEventData,
)
from csms.domain.commands import AskedFor
from csms.domain.id_tokens import IdToken, IdTokenInfo, may_start, token_info
from csms.domain.model import SUPERSEDED, AuthorizationStatus, Tenant
from csms.ports import Directory, RuntimeRecords, TenantData, TenantStore
from csms.protocol.timestamps import format_timestamp
from csms.services.tariffs import TransactionPricer, tariffs_of

logger = logging.getLogger(__name__)

@dataclass(frozen=True, slots=True)
class TransactionEventAnswer:
    """What a TransactionEventResponse carries: idTokenInfo when the event had an
    idToken, totalCost (with its currency) for Updated and Ended events when the tenant
    has a tariff."""

    id_token_info: IdTokenInfo | None = None
    total_cost: Decimal | None = None
    currency: str | None = None


class TransactionEventService:
    def __init__(self, store: TenantStore, records: RuntimeRecords, directory: Directory,
                 remote_start: AskedFor | None = None) -> None:
        self._store = store
        self._records = records
        self._directory = directory
        # The command whose request id a transaction's remote start id echoes
        # (RequestStartTransaction's remoteStartId in 2.0.1); None: not linked.
        self._remote_start = remote_start

    def authorize(self, tenant_id: str, token: IdToken, now: datetime) -> IdTokenInfo:
        """Authorize answers a master pass Accepted, with its group: the charger learns
        from the group that it may only stop transactions with it."""
        data = self._store.for_tenant(tenant_id)
        master_pass_group = self._tenant(tenant_id).master_pass_group_id
        return token_info(token, data.id_tags.get(token.id_token), now, master_pass_group)

    def transaction_event(
        self, tenant_id: str, event: TransactionEventData, now: datetime
    ) -> TransactionEventAnswer:
        """Apply the event once; what to answer: the idTokenInfo when it carries an
        idToken, the running (Updated) or final (Ended) cost under the tariff the
        transaction started with."""
        data = self._store.for_tenant(tenant_id)
        costing = TransactionPricer(tariffs_of(data))
        info = self._token_info(tenant_id, data, event, now)
        status = None if info is None else info.status.value
        transaction = data.charger_transactions.apply(event, status)
        if event.meter_values:
            self._records.meter_values(tenant_id, event.meter_values)
        if transaction is None:
            # A repeated (transactionId, seqNo): nothing changes, and it gets the same
            # cost as the transaction now stands.
            known = data.charger_transactions.get(event.charge_point_id, event.transaction_id)
            return self._answer(info, event, known, costing)
        # I: the tariff it starts under, and its charging states (time basis).
        costing.observe(event, transaction)
        if event.event_type == STARTED:
            self._supersede(tenant_id, data, transaction, now, costing)
            self._started(tenant_id, transaction, info, now)
        if event.remote_start_id is not None and self._remote_start is not None:
            self._link_remote_start(data, event, self._remote_start)
        if event.event_type == ENDED:
            self._stopped(tenant_id, transaction, now, costing)
        return self._answer(info, event, transaction, costing)

    def _answer(
        self, info: IdTokenInfo | None, event: TransactionEventData,
        transaction: ChargerTransaction | None, costing: TransactionPricer,
    ) -> TransactionEventAnswer:
        # E/I: totalCost only once the transaction ended, or as its running cost.
        if event.event_type not in (UPDATED, ENDED) or transaction is None:
            return TransactionEventAnswer(info)
        priced = costing.cost(transaction)
        if priced is None:
            return TransactionEventAnswer(info)
        return TransactionEventAnswer(info, *priced)

    def _token_info(
        self, tenant_id: str, data: TenantData, event: TransactionEventData, now: datetime
    ) -> IdTokenInfo | None:
        if event.id_token is None or event.id_token_type is None:
            return None
        tenant = self._tenant(tenant_id)
        token = IdToken(event.id_token, event.id_token_type)
        info = token_info(token, data.id_tags.get(event.id_token), now, tenant.master_pass_group_id)
        known = data.charger_transactions.get(event.charge_point_id, event.transaction_id)
        starting = event.event_type == STARTED or known is None or known.id_token is None
        if not starting:
            # Stopping (or presenting again): the master pass stops any transaction.
            return info
        info = may_start(info)
        if info.status is AuthorizationStatus.ACCEPTED and self._concurrent(
            tenant, data, event, now
        ):
            info = IdTokenInfo(AuthorizationStatus.CONCURRENT_TX, info.cache_expiry,
                               info.group_id_token)
        return info

    def _concurrent(
        self, tenant: Tenant, data: TenantData, event: TransactionEventData, now: datetime
    ) -> bool:
        """The tenant's concurrent-transactions policy, as for 1.6 (both versions' open
        transactions count)."""
        if not tenant.rejects_concurrent_transactions or event.id_token is None:
            return False
        elsewhere = {
            t.charge_point_id for t in data.transactions.active(id_tag=event.id_token)
        } | {t.charge_point_id for t in data.charger_transactions.active(id_token=event.id_token)}
        elsewhere.discard(event.charge_point_id)
        since = now - timedelta(minutes=tenant.concurrent_tx_window_minutes)
        return any(data.charge_points.heard_from_since(cp, since) for cp in sorted(elsewhere))

    def _supersede(
        self, tenant_id: str, data: TenantData, started: ChargerTransaction, now: datetime,
        costing: TransactionPricer,
    ) -> None:
        """A Started on an EVSE that still has an older open transaction: the charger lost
        that one (power cut), so it is closed as Superseded."""
        if started.evse_id is None:
            return
        for old in data.charger_transactions.active(
            charge_point_id=started.charge_point_id, evse_id=started.evse_id
        ):
            if old.transaction_id == started.transaction_id or old.started_at > started.started_at:
                continue
            closed = old.closed(SUPERSEDED, started.started_at)
            if data.charger_transactions.close(closed):
                self._stopped(tenant_id, closed, now, costing,
                              superseded_by=started.transaction_id)

    def _link_remote_start(self, data: TenantData, event: TransactionEventData,
                           by: AskedFor) -> None:
        command = data.commands.find_by_request(
            event.charge_point_id, by.action, by.echoed_field, event.remote_start_id
        )
        if command is None:
            logger.info("remoteStartId matches no command",
                        extra={"remote_start_id": event.remote_start_id})
            return
        data.commands.set_transaction(command.command_id, event.transaction_id)

    def _started(
        self, tenant_id: str, t: ChargerTransaction, info: IdTokenInfo | None, now: datetime
    ) -> None:
        self._records.event(
            tenant_id,
            t.charge_point_id,
            "transaction_started",
            {
                "transaction_id": t.transaction_id,
                "connector_id": t.evse_id or 0,
                "evse": _evse(t),
                "id_tag": t.id_token,
                "id_tag_status": None if info is None else info.status.value,
                "meter_start": t.meter_start,
                "started_at": format_timestamp(t.started_at),
                "ocpp_version": t.ocpp_version,
            },
            now,
        )

    def _stopped(
        self, tenant_id: str, t: ChargerTransaction, now: datetime, costing: TransactionPricer,
        **extra: Any,
    ) -> None:
        data: dict[str, Any] = {
            "transaction_id": t.transaction_id,
            "connector_id": t.evse_id or 0,
            "evse": _evse(t),
            "meter_start": t.meter_start,
            "meter_stop": t.meter_stop,
            "energy_wh": t.energy_wh,
            "reason": t.stopped_reason,
            "stopped_at": format_timestamp(t.ended_at or now),
            "ocpp_version": t.ocpp_version,
        }
        # The final cost, on the record and in the event: what the Ended answer says.
        priced = costing.record_final(t)
        if priced is not None:
            data |= {"total_cost": float(priced[0]), "currency": priced[1]}
        self._records.event(tenant_id, t.charge_point_id, "transaction_stopped",
                            data | extra, now)

    def _tenant(self, tenant_id: str) -> Tenant:
        return self._directory.get_tenant(tenant_id) or Tenant(tenant_id, tenant_id)


def _evse(t: ChargerTransaction) -> dict[str, Any] | None:
    if t.evse_id is None:
        return None
    return {"id": t.evse_id, "connector_id": t.connector_id}

