"""Which tariff prices a transaction (the charger's, else its site's, else the tenant's),
and which hours its time component prices (only while charging, unless the tariff
prices the whole session)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from csms.domain.tariffs import (
    TENANT_DEFAULT,
    ChargingStateChange,
    InvalidTariff,
    ScopedTariff,
    Tariff,
    TariffScope,
    TimeBasis,
    charging_time,
    most_specific,
    priced_duration,
    scopes_for,
    transaction_cost,
)

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
CHARGER = TariffScope.charge_point("CP-1")
SITE = TariffScope.site("SITE-1")
DEFAULT_TARIFF = Tariff.of("EUR", energy_per_kwh="0.30")
SITE_TARIFF = Tariff.of("EUR", energy_per_kwh="0.40")
CHARGER_TARIFF = Tariff.of("EUR", energy_per_kwh="0.50")


def state(minutes: float, name: str) -> ChargingStateChange:
    return ChargingStateChange(T0 + minutes * MINUTE, name)


def until(minutes: float) -> datetime:
    return T0 + minutes * MINUTE


# Resolution: most specific first


def test_a_charger_in_a_site_looks_at_its_own_then_the_sites_then_the_default() -> None:
    assert scopes_for("CP-1", "SITE-1") == [CHARGER, SITE, TENANT_DEFAULT]


def test_a_charger_in_no_site_looks_at_its_own_then_the_default() -> None:
    assert scopes_for("CP-1", None) == [CHARGER, TENANT_DEFAULT]


def test_the_chargers_own_tariff_wins_over_its_sites_and_the_default() -> None:
    tariffs = {CHARGER: CHARGER_TARIFF, SITE: SITE_TARIFF, TENANT_DEFAULT: DEFAULT_TARIFF}
    assert most_specific(scopes_for("CP-1", "SITE-1"), tariffs) == ScopedTariff(
        CHARGER_TARIFF, CHARGER)


def test_the_sites_tariff_wins_over_the_default() -> None:
    tariffs = {SITE: SITE_TARIFF, TENANT_DEFAULT: DEFAULT_TARIFF}
    assert most_specific(scopes_for("CP-1", "SITE-1"), tariffs) == ScopedTariff(
        SITE_TARIFF, SITE)


def test_the_default_prices_what_has_no_tariff_of_its_own() -> None:
    tariffs = {TENANT_DEFAULT: DEFAULT_TARIFF}
    assert most_specific(scopes_for("CP-1", "SITE-1"), tariffs) == ScopedTariff(
        DEFAULT_TARIFF, TENANT_DEFAULT)


def test_another_sites_tariff_never_applies() -> None:
    tariffs = {TariffScope.site("SITE-2"): SITE_TARIFF}
    assert most_specific(scopes_for("CP-1", "SITE-1"), tariffs) is None


def test_no_tariff_anywhere_leaves_charging_unpriced() -> None:
    assert most_specific(scopes_for("CP-1", "SITE-1"), {}) is None


# Charging time


def test_charging_time_counts_only_charging_periods() -> None:
    changes = [state(0, "Charging"), state(10, "SuspendedEV"), state(30, "Charging")]
    assert charging_time(changes, T0, until(40)) == 20 * MINUTE


def test_each_non_charging_state_stops_the_clock() -> None:
    for paused in ("SuspendedEV", "SuspendedEVSE", "EVConnected", "Idle"):
        changes = [state(0, "Charging"), state(5, paused)]
        assert charging_time(changes, T0, until(60)) == 5 * MINUTE, paused


def test_states_arriving_out_of_order_count_by_their_timestamps() -> None:
    changes = [state(30, "Charging"), state(10, "SuspendedEV"), state(0, "Charging")]
    assert charging_time(changes, T0, until(40)) == 20 * MINUTE


def test_time_before_the_first_reported_state_is_not_charging() -> None:
    assert charging_time([state(15, "Charging")], T0, until(20)) == 5 * MINUTE


def test_a_repeated_charging_report_does_not_count_twice() -> None:
    changes = [state(0, "Charging"), state(5, "Charging")]
    assert charging_time(changes, T0, until(10)) == 10 * MINUTE


def test_charging_time_stops_at_the_end_of_the_transaction() -> None:
    changes = [state(0, "Charging"), state(50, "EVConnected")]
    assert charging_time(changes, T0, until(30)) == 30 * MINUTE


def test_the_session_basis_prices_the_whole_session() -> None:
    changes = [state(0, "Charging"), state(10, "SuspendedEV")]
    assert priced_duration(TimeBasis.SESSION, changes, T0, until(60)) == 60 * MINUTE


def test_a_charger_that_never_reports_a_state_is_priced_by_its_session() -> None:
    # Every 1.6 charger, and 2.0.1 chargers that leave chargingState out.
    assert priced_duration(TimeBasis.CHARGING, [], T0, until(60)) == 60 * MINUTE


def test_the_cost_of_a_session_with_a_suspended_period() -> None:
    tariff = Tariff.of("EUR", time_per_hour="6.00", session_fee="1.00")
    changes = [state(0, "Charging"), state(20, "SuspendedEV"), state(50, "Charging")]
    # 1.00 + (20 + 10) minutes x 6.00 per hour
    assert transaction_cost(tariff, None, T0, until(60), changes) == Decimal("4.00")


# The option


def test_new_tariffs_price_charging_time() -> None:
    assert Tariff.of("EUR").time_basis is TimeBasis.CHARGING


def test_the_time_basis_is_one_of_charging_or_session() -> None:
    assert Tariff.of("EUR", time_basis="session").time_basis is TimeBasis.SESSION
    with pytest.raises(InvalidTariff):
        Tariff.of("EUR", time_basis="parking")
