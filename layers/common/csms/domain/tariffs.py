"""Tariffs and what a transaction costs under one (OCPP 2.0.1 block I).

A tariff has three components, each optional (zero): a price per kWh of energy, a price
per hour, and a flat fee per session. The cost is computed exactly (Decimal) and rounded
once, at the end, to the currency's minor unit: rounding each component first would let
the parts disagree with the total by a cent.

The hours priced are, by the tariff's time basis, those the EV was charging (the
charger's reported chargingState was Charging) or the whole session. A transaction whose
charger never reported a charging state (every 1.6 charger, and 2.0.1 chargers that
leave it out) is priced by its whole session: nothing tells its charging hours apart.

A tenant has a default tariff; a site and a charger may have their own. The one that
applies to a transaction is the most specific (the charger's, else its site's, else the
tenant's), chosen when the transaction starts and kept for its whole length.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum

# ISO 4217 codes whose minor unit is not the usual hundredth. Any other well-formed code
# gets two decimals: a code missing here is priced in cents, never refused.
_MINOR_UNIT_EXCEPTIONS = {
    # no minor unit
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0,
    "PYG": 0, "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0,
    "XPF": 0,
    # thousandths
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    # ten-thousandths (units of account)
    "CLF": 4, "UYW": 4,
}
CURRENCY = re.compile(r"^[A-Z]{3}$")

WH_PER_KWH = Decimal(1000)
SECONDS_PER_HOUR = Decimal(3600)


class InvalidTariff(ValueError):
    pass


class TimeBasis(Enum):
    """Which hours the time component prices."""

    CHARGING = "charging"  # only while the EV is charging (chargingState Charging)
    SESSION = "session"  # from the transaction's start to its end, whatever the EV does


def minor_unit(currency: str) -> int:
    """The number of decimals of `currency`'s minor unit (ISO 4217)."""
    if not CURRENCY.match(currency):
        raise InvalidTariff(f"not an ISO 4217 currency code: {currency!r}")
    return _MINOR_UNIT_EXCEPTIONS.get(currency, 2)


def round_to_currency(amount: Decimal, currency: str) -> Decimal:
    """`amount` to the currency's minor unit, halves away from zero (commercial)."""
    return amount.quantize(Decimal(1).scaleb(-minor_unit(currency)), rounding=ROUND_HALF_UP)


def _price(value: Decimal | int | float | str, name: str) -> Decimal:
    # Through str: a float such as 0.3 becomes Decimal("0.3"), not its binary expansion.
    price = value if isinstance(value, Decimal) else Decimal(str(value))
    if not price.is_finite() or price < 0:
        raise InvalidTariff(f"{name} must be a finite number >= 0")
    return price


@dataclass(frozen=True, slots=True)
class Tariff:
    """Prices in `currency` (ISO 4217): per kWh, per hour, and once per session."""

    currency: str
    energy_per_kwh: Decimal = Decimal(0)
    time_per_hour: Decimal = Decimal(0)
    session_fee: Decimal = Decimal(0)
    updated_at: datetime | None = None
    time_basis: TimeBasis = TimeBasis.CHARGING

    @classmethod
    def of(
        cls,
        currency: str,
        energy_per_kwh: Decimal | int | float | str = 0,
        time_per_hour: Decimal | int | float | str = 0,
        session_fee: Decimal | int | float | str = 0,
        updated_at: datetime | None = None,
        time_basis: TimeBasis | str = TimeBasis.CHARGING,
    ) -> Tariff:
        """A checked tariff: a known-shaped currency, prices >= 0, a known time basis."""
        minor_unit(currency)
        try:
            basis = TimeBasis(time_basis)
        except ValueError:
            raise InvalidTariff(f"unknown time basis: {time_basis!r}") from None
        return cls(
            currency=currency,
            energy_per_kwh=_price(energy_per_kwh, "energy_per_kwh"),
            time_per_hour=_price(time_per_hour, "time_per_hour"),
            session_fee=_price(session_fee, "session_fee"),
            updated_at=updated_at,
            time_basis=basis,
        )

    def cost(self, energy_wh: int | float | None, duration: timedelta | None) -> Decimal:
        """What a transaction that delivered `energy_wh` over `duration` costs, rounded
        to the currency's minor unit. Unknown (None) or negative energy and duration
        count as zero: a meter that went backwards must not pay the driver back."""
        wh = Decimal(str(energy_wh)) if energy_wh is not None and energy_wh > 0 else Decimal(0)
        seconds = (
            Decimal(str(duration.total_seconds()))
            if duration is not None and duration > timedelta(0)
            else Decimal(0)
        )
        exact = (
            self.session_fee
            + self.energy_per_kwh * wh / WH_PER_KWH
            + self.time_per_hour * seconds / SECONDS_PER_HOUR
        )
        return round_to_currency(exact, self.currency)


# The 2.0.1 chargingState in which the EV draws energy; the others (EVConnected,
# SuspendedEV, SuspendedEVSE, Idle) are time at the charger without charging.
CHARGING = "Charging"


@dataclass(frozen=True, slots=True)
class ChargingStateChange:
    """The charger reported `state` as the transaction's chargingState at `at`."""

    at: datetime
    state: str


def charging_time(
    changes: Iterable[ChargingStateChange], started_at: datetime, until: datetime
) -> timedelta:
    """How long, between `started_at` and `until`, the last reported state was Charging.

    Each change holds until the next one by timestamp (events may arrive out of order,
    so arrival order means nothing). Time before the first report is not charging: the
    driver pays for no hour the charger did not call charging."""
    ordered = sorted(changes, key=lambda change: change.at)
    total = timedelta(0)
    for index, change in enumerate(ordered):
        if change.state != CHARGING:
            continue
        next_at = ordered[index + 1].at if index + 1 < len(ordered) else until
        begin, end = max(change.at, started_at), min(next_at, until)
        if end > begin:
            total += end - begin
    return total


def priced_duration(
    basis: TimeBasis,
    changes: Sequence[ChargingStateChange],
    started_at: datetime,
    until: datetime,
) -> timedelta:
    """The hours the time component prices: the charging time, or the whole session
    when the tariff says so or the charger never reported a charging state (1.6)."""
    if basis is TimeBasis.SESSION or not changes:
        return until - started_at
    return charging_time(changes, started_at, until)


def transaction_cost(
    tariff: Tariff,
    energy_wh: int | None,
    started_at: datetime,
    until: datetime,
    charging_states: Sequence[ChargingStateChange] = (),
) -> Decimal:
    """The cost of a transaction from its start to `until` (its end, or its latest event
    for the running cost)."""
    duration = priced_duration(tariff.time_basis, charging_states, started_at, until)
    return tariff.cost(energy_wh, duration)


# Where a tariff applies


class ScopeKind(Enum):
    CHARGE_POINT = "charge_point"
    SITE = "site"
    TENANT = "tenant"


@dataclass(frozen=True, slots=True)
class TariffScope:
    """What a tariff is set on: one charger, one site, or the whole tenant (its default)."""

    kind: ScopeKind
    id: str | None = None

    @classmethod
    def charge_point(cls, charge_point_id: str) -> TariffScope:
        return cls(ScopeKind.CHARGE_POINT, charge_point_id)

    @classmethod
    def site(cls, site_id: str) -> TariffScope:
        return cls(ScopeKind.SITE, site_id)


TENANT_DEFAULT = TariffScope(ScopeKind.TENANT)


@dataclass(frozen=True, slots=True)
class ScopedTariff:
    """A tariff and where it was set: what a transaction keeps when it starts."""

    tariff: Tariff
    scope: TariffScope


def scopes_for(charge_point_id: str, site_id: str | None) -> list[TariffScope]:
    """The scopes whose tariff could price a charger's transaction, most specific first:
    its own, its site's (when it is in one), the tenant's default."""
    scopes = [TariffScope.charge_point(charge_point_id)]
    if site_id is not None:
        scopes.append(TariffScope.site(site_id))
    scopes.append(TENANT_DEFAULT)
    return scopes


def most_specific(
    scopes: Sequence[TariffScope], tariffs: Mapping[TariffScope, Tariff]
) -> ScopedTariff | None:
    """The tariff of the first of `scopes` that has one; None: charging is not priced."""
    for scope in scopes:
        tariff = tariffs.get(scope)
        if tariff is not None:
            return ScopedTariff(tariff, scope)
    return None


@dataclass(frozen=True, slots=True)
class TransactionPricing:
    """What prices one transaction: the tariff it started under (None: it started when
    none applied, and stays unpriced) and the charging states its charger reported.
    `pinned` is False for a transaction whose tariff was never chosen (one that started
    before tariffs were kept on transactions): its tariff is chosen when first needed."""

    tariff: ScopedTariff | None = None
    charging_states: tuple[ChargingStateChange, ...] = ()
    pinned: bool = False
