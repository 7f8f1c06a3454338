"""The tenant's tariff against a real MongoDB-wire server: exact decimal prices, the cost
put on 2.0.1 transactions, the once-a-minute CostUpdated claim, and the running cost in
the 2.0.1 TransactionEvent service over the real store."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from csms.adapters.mongo import MongoTenantStore
from csms.adapters.mongo_tariffs import MongoTariffs, tariffs_database
from csms.domain.charger_transactions import TransactionEventData
from csms.domain.model import MeterValue
from csms.domain.tariffs import TENANT_DEFAULT, ScopedTariff, Tariff, TariffScope, TimeBasis
from csms.services.tariffs import tariffs_of
from csms.services.transaction_events import TransactionEventService

from tests.fakes.memory import MemoryDirectory

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
CP = "CP-T"


class Records:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict]] = []

    def meter_values(self, tenant_id, values) -> None:
        pass

    def event(self, tenant_id, charge_point_id, kind, data, at) -> None:
        self.events.append((kind, data))


@pytest.fixture
def store(mongo_client, tenant_id):
    tenants = MongoTenantStore(mongo_client)
    yield tenants
    mongo_client.drop_database(tenants.for_tenant(tenant_id).db.name)


@pytest.fixture
def tariffs(mongo_client, tenant_id, store) -> MongoTariffs:
    return MongoTariffs(tariffs_database(mongo_client, tenant_id))


def test_put_get_delete_keep_prices_exact(tariffs):
    assert tariffs.get() is None
    assert tariffs.delete() is False
    tariff = Tariff.of("EUR", "0.3", "1.15", "0.1", T0)
    tariffs.put(tariff)
    got = tariffs.get()
    assert got is not None
    assert (got.currency, got.energy_per_kwh, got.time_per_hour, got.session_fee) == (
        "EUR", Decimal("0.3"), Decimal("1.15"), Decimal("0.1"))
    assert got.updated_at is not None
    tariffs.put(Tariff.of("JPY", 40))  # replaces, one document
    assert tariffs.get() == Tariff.of("JPY", 40)
    assert tariffs.delete() is True
    assert tariffs.get() is None


def meter(wh: int, at: datetime, tx: str) -> MeterValue:
    return MeterValue(CP, 1, at, [{"value": str(wh), "measurand":
                                   "Energy.Active.Import.Register"}], tx)


def event(kind: str, seq_no: int, minutes: int, wh: int, tx: str = "TX-1") -> TransactionEventData:
    at = T0 + timedelta(minutes=minutes)
    return TransactionEventData(CP, tx, kind, seq_no, at, "MeterValuePeriodic", evse_id=1,
                                connector_id=1, meter_values=[meter(wh, at, tx)])


def test_running_and_final_cost_on_the_real_store(store, tenant_id, tariffs):
    assert tariffs_of(store.for_tenant(tenant_id)) is not None  # the bridge finds MongoDB's
    tariffs.put(Tariff.of("EUR", "0.30", "1.20", "0.50"))
    records = Records()
    service = TransactionEventService(store, records, MemoryDirectory())
    assert service.transaction_event(tenant_id, event("Started", 0, 0, 1000), T0).total_cost \
        is None
    running = service.transaction_event(tenant_id, event("Updated", 1, 30, 6000), T0)
    assert (running.total_cost, running.currency) == (Decimal("2.60"), "EUR")
    final = service.transaction_event(tenant_id, event("Ended", 2, 60, 11000), T0)
    assert final.total_cost == Decimal("4.70")
    doc = store.for_tenant(tenant_id).db["transactions"].find_one({"transaction_id": "TX-1"})
    assert (doc["total_cost"], doc["currency"], doc["energy_wh"]) == (4.7, "EUR", 10000)
    [stopped] = [data for kind, data in records.events if kind == "transaction_stopped"]
    assert (stopped["total_cost"], stopped["currency"]) == (4.7, "EUR")


def test_cost_update_claimed_once_a_minute_while_active(store, tenant_id, tariffs):
    service = TransactionEventService(store, Records(), MemoryDirectory())
    service.transaction_event(tenant_id, event("Started", 0, 0, 0), T0)
    minute = timedelta(minutes=1)
    assert tariffs.claim_cost_update(CP, "TX-1", T0, minute) is True
    assert tariffs.claim_cost_update(CP, "TX-1", T0 + timedelta(seconds=30), minute) is False
    assert tariffs.claim_cost_update(CP, "TX-1", T0 + minute, minute) is True
    assert tariffs.claim_cost_update(CP, "NO-SUCH-TX", T0, minute) is False
    service.transaction_event(tenant_id, event("Ended", 1, 5, 100), T0)
    assert tariffs.claim_cost_update(CP, "TX-1", T0 + 10 * minute, minute) is False


# Per-site and per-charger tariffs, and what a transaction keeps of them

SITE_TARIFF = Tariff.of("EUR", "0.40")
OWN_TARIFF = Tariff.of("EUR", "0.50")


def in_site(store, tenant_id, site_id: str, *charge_point_ids: str) -> None:
    from csms.adapters.mongo_sites import MongoSites
    from csms.domain.charging_profiles import RateUnit
    from csms.services.site_limit import Site

    MongoSites(store.for_tenant(tenant_id).db).create(
        Site(site_id, site_id, 32.0, RateUnit.AMPERES, tuple(charge_point_ids)))


def test_each_scope_keeps_its_own_tariff(tariffs):
    site, charger = TariffScope.site("S-1"), TariffScope.charge_point(CP)
    tariffs.put(Tariff.of("EUR", "0.30"))
    tariffs.put(SITE_TARIFF, site)
    tariffs.put(OWN_TARIFF, charger)
    assert (tariffs.get(), tariffs.get(site), tariffs.get(charger)) == (
        Tariff.of("EUR", "0.30"), SITE_TARIFF, OWN_TARIFF)
    assert tariffs.delete(site) is True
    assert tariffs.get(site) is None
    assert tariffs.get(charger) == OWN_TARIFF  # the others stay
    assert tariffs.get(TariffScope.site("S-2")) is None


def test_a_stored_tariff_without_a_time_basis_keeps_pricing_the_session(tariffs, store,
                                                                        tenant_id):
    # As PUT /v1/tariff stored it before the option existed.
    store.for_tenant(tenant_id).db["tariff"].insert_one({
        "_id": "default", "currency": "EUR", "energy_per_kwh": "0", "time_per_hour": "1",
        "session_fee": "0", "updated_at": None})
    assert tariffs.get().time_basis is TimeBasis.SESSION


def test_the_time_basis_is_stored(tariffs):
    tariffs.put(Tariff.of("EUR", time_per_hour="1", time_basis="session"))
    assert tariffs.get().time_basis is TimeBasis.SESSION
    tariffs.put(Tariff.of("EUR", time_per_hour="1"))
    assert tariffs.get().time_basis is TimeBasis.CHARGING


def test_a_charger_in_a_site_is_priced_by_the_sites_tariff(tariffs, store, tenant_id):
    in_site(store, tenant_id, "S-1", CP)
    tariffs.put(Tariff.of("EUR", "0.30"))
    tariffs.put(SITE_TARIFF, TariffScope.site("S-1"))
    assert tariffs.applicable(CP) == ScopedTariff(SITE_TARIFF, TariffScope.site("S-1"))


def test_a_chargers_own_tariff_wins_over_its_sites(tariffs, store, tenant_id):
    in_site(store, tenant_id, "S-1", CP)
    tariffs.put(SITE_TARIFF, TariffScope.site("S-1"))
    tariffs.put(OWN_TARIFF, TariffScope.charge_point(CP))
    assert tariffs.applicable(CP) == ScopedTariff(OWN_TARIFF, TariffScope.charge_point(CP))


def test_a_charger_outside_the_site_gets_the_default(tariffs, store, tenant_id):
    in_site(store, tenant_id, "S-1", "CP-OTHER")
    tariffs.put(Tariff.of("EUR", "0.30"))
    tariffs.put(SITE_TARIFF, TariffScope.site("S-1"))
    assert tariffs.applicable(CP) == ScopedTariff(Tariff.of("EUR", "0.30"), TENANT_DEFAULT)
    tariffs.delete()
    assert tariffs.applicable(CP) is None


def test_a_running_transaction_keeps_the_tariff_it_started_under(store, tenant_id, tariffs):
    tariffs.put(OWN_TARIFF, TariffScope.charge_point(CP))
    service = TransactionEventService(store, Records(), MemoryDirectory())
    service.transaction_event(tenant_id, event("Started", 0, 0, 0), T0)
    tariffs.put(Tariff.of("EUR", "9.99"), TariffScope.charge_point(CP))  # too late for it
    ended = service.transaction_event(tenant_id, event("Ended", 1, 60, 2000), T0)
    assert ended.total_cost == Decimal("1.00")  # 2 kWh x 0.50
    doc = store.for_tenant(tenant_id).db["transactions"].find_one({"transaction_id": "TX-1"})
    assert (doc["tariff"]["scope"], doc["tariff"]["scope_id"], doc["tariff"]["energy_per_kwh"]
            ) == ("charge_point", CP, "0.50")


def test_the_first_pin_wins(tariffs, store, tenant_id):
    TransactionEventService(store, Records(), MemoryDirectory()).transaction_event(
        tenant_id, event("Started", 0, 0, 0), T0)  # pins: no tariff applied
    tariffs.pin(CP, "TX-1", ScopedTariff(OWN_TARIFF, TariffScope.charge_point(CP)))
    pricing = tariffs.pricing(CP, "TX-1")
    assert pricing is not None and pricing.pinned and pricing.tariff is None


def test_time_is_priced_only_while_the_charger_reports_charging(store, tenant_id, tariffs):
    tariffs.put(Tariff.of("EUR", time_per_hour="6.00"))
    service = TransactionEventService(store, Records(), MemoryDirectory())

    def reported(kind: str, seq_no: int, minutes: int, state: str | None):
        return replace(event(kind, seq_no, minutes, 0), charging_state=state)

    service.transaction_event(tenant_id, reported("Started", 0, 0, "Charging"), T0)
    service.transaction_event(tenant_id, reported("Updated", 1, 20, "SuspendedEV"), T0)
    service.transaction_event(tenant_id, reported("Updated", 2, 50, "Charging"), T0)
    ended = service.transaction_event(tenant_id, reported("Ended", 3, 60, None), T0)
    assert ended.total_cost == Decimal("3.00")  # 30 of 60 minutes charging x 6.00 per hour
    assert [c.state for c in tariffs.pricing(CP, "TX-1").charging_states] == [
        "Charging", "SuspendedEV", "Charging"]
