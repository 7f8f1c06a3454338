"""Tariff and cost (OCPP 2.0.1 block I), version-neutral: the tenant's tariff, the running
and final cost of a transaction the charger numbers, and CostUpdated pushed during a
session."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from csms.domain.charger_transactions import STARTED, ChargerTransaction, TransactionEventData
from csms.domain.commands import NotConnected, UnknownCommand
from csms.domain.model import MeterValue
from csms.domain.tariffs import (
    TENANT_DEFAULT,
    ChargingStateChange,
    ScopedTariff,
    Tariff,
    TariffScope,
    TransactionPricing,
    transaction_cost,
)
from csms.ports import RuntimeRecords, TenantData, TenantStore
from csms.services.commands import RequestShapes

logger = logging.getLogger(__name__)

COST_UPDATED = "CostUpdated"
# A charger hears of its running cost at most this often through CostUpdated (between
# those, each TransactionEvent answer carries it anyway).
COST_UPDATE_INTERVAL = timedelta(minutes=1)


class TariffStore(Protocol):
    """The tenant's tariffs (its default, its sites', its chargers'), and the pricing
    fields they put on transactions."""

    def get(self, scope: TariffScope = TENANT_DEFAULT) -> Tariff | None: ...

    def put(self, tariff: Tariff, scope: TariffScope = TENANT_DEFAULT) -> None: ...

    def delete(self, scope: TariffScope = TENANT_DEFAULT) -> bool: ...

    def applicable(self, charge_point_id: str) -> ScopedTariff | None: ...

    def pin(
        self, charge_point_id: str, transaction_id: str, tariff: ScopedTariff | None
    ) -> None: ...

    def record_charging_state(
        self, charge_point_id: str, transaction_id: str, change: ChargingStateChange
    ) -> None: ...

    def pricing(self, charge_point_id: str, transaction_id: str) -> TransactionPricing | None: ...

    def record_cost(
        self, charge_point_id: str, transaction_id: str, total_cost: Decimal, currency: str
    ) -> None: ...

    def claim_cost_update(
        self, charge_point_id: str, transaction_id: str, now: datetime, interval: timedelta
    ) -> bool: ...


class CommandSender(Protocol):
    def submit(
        self,
        tenant_id: str,
        charge_point_id: str,
        action: str,
        payload: dict[str, Any],
        queue_if_offline: bool = False,
    ) -> Any: ...

    def shapes_of(self, charge_point_id: str) -> tuple[str, RequestShapes]: ...


def tariffs_of(data: TenantData) -> TariffStore | None:
    """The tenant's tariff store: `data.tariffs` once the TenantData port has it; until
    then the MongoDB tenant database's (found through its `db`), and None for stores
    without either (the in-memory fakes: no tariff, no cost)."""
    own: TariffStore | None = getattr(data, "tariffs", None)
    if own is not None:
        return own
    db = getattr(data, "db", None)
    if db is None:
        return None
    from csms.adapters.mongo_tariffs import MongoTariffs  # the bridge until the port lands

    return MongoTariffs(db)


def consumed_wh(t: ChargerTransaction) -> int | None:
    """The energy delivered so far: the newest register reading less the first one
    (a running transaction has no meter_stop yet)."""
    if t.first_reading is None or t.last_reading is None:
        return None
    return max(0, t.last_reading.wh - t.first_reading.wh)


def running_cost(
    tariff: Tariff, t: ChargerTransaction, charging_states: Sequence[ChargingStateChange] = ()
) -> Decimal:
    """The cost so far: energy up to the newest reading, time (by the tariff's basis) up
    to the end or the newest event. An ended transaction's running cost is its final
    cost."""
    return transaction_cost(tariff, consumed_wh(t), t.started_at,
                            t.ended_at or t.last_event_at, charging_states)


class TransactionPricer:
    """Prices one tenant's charger transactions by the tariff each started under.

    The tariff is chosen (most specific first: the charger's, its site's, the tenant's)
    and kept on the transaction when its Started event arrives, so a tariff changed or
    removed later never reprices a running session. A transaction without a kept tariff
    (started before they were kept, or its Started came late) gets one when first priced.
    Each transaction's pricing is read at most once per use of the pricer."""

    def __init__(self, store: TariffStore | None) -> None:
        self.store = store
        self._read: dict[tuple[str, str], TransactionPricing | None] = {}

    def observe(self, event: TransactionEventData, t: ChargerTransaction) -> None:
        """Keep what the (first-time) event tells the pricing: the charging state it
        reports, and, for a Started event, the tariff that applies from now on."""
        if self.store is None:
            return
        key = (t.charge_point_id, t.transaction_id)
        if event.charging_state is not None:
            self.store.record_charging_state(
                *key, ChargingStateChange(event.timestamp, event.charging_state))
            self._read.pop(key, None)
        if event.event_type == STARTED:
            self.store.pin(*key, self.store.applicable(t.charge_point_id))
            self._read.pop(key, None)

    def pricing(self, t: ChargerTransaction) -> TransactionPricing | None:
        if self.store is None:
            return None
        key = (t.charge_point_id, t.transaction_id)
        if key not in self._read:
            pricing = self.store.pricing(*key)
            if pricing is not None and not pricing.pinned:
                self.store.pin(*key, self.store.applicable(t.charge_point_id))
                pricing = self.store.pricing(*key)
            self._read[key] = pricing
        return self._read[key]

    def cost(self, t: ChargerTransaction) -> tuple[Decimal, str] | None:
        """The running (or, once ended, final) cost and its currency; None: unpriced."""
        pricing = self.pricing(t)
        if pricing is None or pricing.tariff is None:
            return None
        tariff = pricing.tariff.tariff
        return running_cost(tariff, t, pricing.charging_states), tariff.currency

    def record_final(self, t: ChargerTransaction) -> tuple[Decimal, str] | None:
        """The final cost, kept on the transaction's record; None: unpriced."""
        priced = self.cost(t)
        if priced is not None and self.store is not None:
            self.store.record_cost(t.charge_point_id, t.transaction_id, *priced)
        return priced


class CostUpdates:
    """Pushes CostUpdated (I02) to chargers whose transactions' meter values arrived.

    Called with a tenant's meter values once the event worker stored them. The design
    is bounded by construction:

    - at most one CostUpdated per transaction per COST_UPDATE_INTERVAL, claimed with one
      atomic conditional update on the transaction's document (`cost_updated_at`), so
      workers running side by side never both send one and nothing is kept in memory;
    - one pricing read and one claim per distinct transaction in the batch, each
      priced by the tariff it started under, and only for transactions still active,
      of a charger that is connected (a CostUpdated
      for a session that ended or a charger that is away is worth nothing later: it is
      never queued);
    - the command goes through the command service like any other, so it waits its turn
      behind the charger's outstanding Call and is visible in GET /v1/commands.

    Failures are logged, never raised: the meter values are stored, and the next ones
    try again.
    """

    def __init__(self, store: TenantStore, commands: CommandSender,
                 interval: timedelta = COST_UPDATE_INTERVAL,
                 records: RuntimeRecords | None = None) -> None:
        self._store = store
        self._commands = commands
        self._interval = interval
        # The records its commands leave (sent, failed) are handed on after each run, as
        # the site limit controller does: the worker flushes only for reconnections.
        self._records = records

    def after_stored(
        self, tenant_id: str, meter_values: Sequence[MeterValue], now: datetime
    ) -> list[str]:
        """Push CostUpdated where due; the transaction ids it was sent for."""
        keys = list(dict.fromkeys(
            (v.charge_point_id, v.transaction_id) for v in meter_values
            if v.transaction_id is not None
        ))
        if not keys:
            return []
        data = self._store.for_tenant(tenant_id)
        tariffs = tariffs_of(data)
        if tariffs is None:
            return []
        pricer = TransactionPricer(tariffs)
        sent = []
        for charge_point_id, transaction_id in keys:
            try:
                if self._push(tenant_id, data, tariffs, pricer, charge_point_id,
                              str(transaction_id), now):
                    sent.append(str(transaction_id))
            except Exception:
                logger.exception("CostUpdated failed", extra={
                    "tenant_id": tenant_id, "charge_point_id": charge_point_id,
                    "transaction_id": transaction_id})
        if sent and self._records is not None:
            try:
                self._records.flush()
            except Exception:
                logger.exception("CostUpdated: handing on records failed",
                                 extra={"tenant_id": tenant_id})
        return sent

    def _push(
        self, tenant_id: str, data: TenantData, tariffs: TariffStore,
        pricer: TransactionPricer, charge_point_id: str, transaction_id: str, now: datetime,
    ) -> bool:
        # 1.6 transactions (CSMS-numbered) are not charger transactions: None here.
        transaction = data.charger_transactions.get(charge_point_id, transaction_id)
        if transaction is None or not transaction.active:
            return False
        priced = pricer.cost(transaction)
        if priced is None:
            return False  # it started under no tariff
        if not tariffs.claim_cost_update(charge_point_id, transaction_id, now, self._interval):
            return False
        cost, _ = priced
        _, shapes = self._commands.shapes_of(charge_point_id)
        if shapes.cost_updated is None:
            return False  # a version without CostUpdated
        try:
            self._commands.submit(tenant_id, charge_point_id, COST_UPDATED,
                                  shapes.cost_updated(float(cost), transaction_id))
        except (NotConnected, UnknownCommand):
            return False  # away, or a version without CostUpdated
        return True
