"""A tenant's tariff and what a transaction costs under it (OCPP 2.0.1 block I).

A tariff has three components, each optional (zero): a price per kWh of energy, a price
per hour of the transaction's duration, and a flat fee per session. The cost is computed
exactly (Decimal) and rounded once, at the end, to the currency's minor unit: rounding
each component first would let the parts disagree with the total by a cent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

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

    @classmethod
    def of(
        cls,
        currency: str,
        energy_per_kwh: Decimal | int | float | str = 0,
        time_per_hour: Decimal | int | float | str = 0,
        session_fee: Decimal | int | float | str = 0,
        updated_at: datetime | None = None,
    ) -> Tariff:
        """A checked tariff: a known-shaped currency and prices >= 0."""
        minor_unit(currency)
        return cls(
            currency=currency,
            energy_per_kwh=_price(energy_per_kwh, "energy_per_kwh"),
            time_per_hour=_price(time_per_hour, "time_per_hour"),
            session_fee=_price(session_fee, "session_fee"),
            updated_at=updated_at,
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


def transaction_cost(
    tariff: Tariff,
    energy_wh: int | None,
    started_at: datetime,
    until: datetime,
) -> Decimal:
    """The cost of a transaction from its start to `until` (its end, or its latest event
    for the running cost)."""
    return tariff.cost(energy_wh, until - started_at)
