"""The tenant's tariff against a real MongoDB-wire server: exact decimal prices, the cost
put on 2.0.1 transactions, the once-a-minute CostUpdated claim, and the running cost in
the 2.0.1 TransactionEvent service over the real store."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from csms.adapters.mongo import MongoTenantStore
from csms.adapters.mongo_tariffs import MongoTariffs, tariffs_database
from csms.domain.charger_transactions import TransactionEventData
from csms.domain.model import MeterValue
from csms.domain.tariffs import Tariff
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
