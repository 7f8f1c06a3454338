"""An in-memory TariffStore (services/tariffs.py) for unit tests: tariffs by scope, a
charger-to-site map standing in for site membership, and each transaction's pricing."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal

from csms.domain.tariffs import (
    TENANT_DEFAULT,
    ChargingStateChange,
    ScopedTariff,
    Tariff,
    TariffScope,
    TransactionPricing,
    most_specific,
    scopes_for,
)

Key = tuple[str, str]


@dataclass
class MemoryTariffs:
    by_scope: dict[TariffScope, Tariff] = field(default_factory=dict)
    site_of: dict[str, str] = field(default_factory=dict)  # charge point id -> site id
    pricings: dict[Key, TransactionPricing] = field(default_factory=dict)
    costs: dict[Key, tuple[Decimal, str]] = field(default_factory=dict)
    claimed: dict[Key, datetime] = field(default_factory=dict)
    resolutions: int = 0  # how often a tariff was chosen for a transaction

    @property
    def tariff(self) -> Tariff | None:
        """The tenant's default, the one most tests set."""
        return self.by_scope.get(TENANT_DEFAULT)

    @tariff.setter
    def tariff(self, tariff: Tariff | None) -> None:
        if tariff is None:
            self.by_scope.pop(TENANT_DEFAULT, None)
        else:
            self.by_scope[TENANT_DEFAULT] = tariff

    def get(self, scope: TariffScope = TENANT_DEFAULT) -> Tariff | None:
        return self.by_scope.get(scope)

    def put(self, tariff: Tariff, scope: TariffScope = TENANT_DEFAULT) -> None:
        self.by_scope[scope] = tariff

    def delete(self, scope: TariffScope = TENANT_DEFAULT) -> bool:
        return self.by_scope.pop(scope, None) is not None

    def applicable(self, charge_point_id: str) -> ScopedTariff | None:
        self.resolutions += 1
        scopes = scopes_for(charge_point_id, self.site_of.get(charge_point_id))
        return most_specific(scopes, self.by_scope)

    def pin(self, charge_point_id: str, transaction_id: str, tariff: ScopedTariff | None) -> None:
        current = self.pricings.get((charge_point_id, transaction_id), TransactionPricing())
        if not current.pinned:
            self.pricings[(charge_point_id, transaction_id)] = replace(
                current, tariff=tariff, pinned=True)

    def record_charging_state(self, charge_point_id: str, transaction_id: str,
                              change: ChargingStateChange) -> None:
        current = self.pricings.get((charge_point_id, transaction_id), TransactionPricing())
        self.pricings[(charge_point_id, transaction_id)] = replace(
            current, charging_states=(*current.charging_states, change))

    def pricing(self, charge_point_id: str, transaction_id: str) -> TransactionPricing | None:
        # Like the transaction's document, there is one for any transaction seen.
        return self.pricings.get((charge_point_id, transaction_id), TransactionPricing())

    def record_cost(self, charge_point_id: str, transaction_id: str, total_cost: Decimal,
                    currency: str) -> None:
        self.costs[(charge_point_id, transaction_id)] = (total_cost, currency)

    def claim_cost_update(self, charge_point_id: str, transaction_id: str, now: datetime,
                          interval: timedelta) -> bool:
        last = self.claimed.get((charge_point_id, transaction_id))
        if last is not None and last > now - interval:
            return False
        self.claimed[(charge_point_id, transaction_id)] = now
        return True
