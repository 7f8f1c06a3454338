"""Tariff and cost (2.0.1 block I): the cost function, the running and final cost in
TransactionEvent answers, on the record and in the stop event, and CostUpdated pushes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from csms.domain import events
from csms.domain.charger_transactions import ChargerTransaction, Reading
from csms.domain.commands import NotConnected, UnknownCommand
from csms.domain.model import ConnectionInfo, MeterValue, RegisteredChargePoint, Tenant
from csms.domain.tariffs import InvalidTariff, Tariff, minor_unit, round_to_currency
from csms.protocol.timestamps import format_timestamp
from csms.services.commands import RequestShapes
from csms.services.tariffs import CostUpdates, consumed_wh, running_cost, tariffs_of
from csms.versions import CentralSystemParts, v16, v201

from tests.event_schemas import validate_event
from tests.fakes.memory import MemoryTenantStore
from tests.fakes.tariffs import MemoryTariffs

from .conftest import CP, NOW, TENANT, World

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def eur(energy: str = "0", time: str = "0", fee: str = "0", currency: str = "EUR") -> Tariff:
    return Tariff.of(currency, energy, time, fee)


# The cost function


@pytest.mark.parametrize(
    ("tariff", "wh", "duration", "expected"),
    [
        (eur(energy="0.30"), 10_000, HOUR, "3.00"),
        (eur(energy="0.30"), 0, HOUR, "0.00"),
        (eur(energy="0.30"), 1, HOUR, "0.00"),  # 0.0003 rounds to nothing
        (eur(energy="0.30"), 17, HOUR, "0.01"),  # 0.0051 rounds up
        (eur(energy="0.30"), 16, HOUR, "0.00"),  # 0.0048 rounds... to 0.00
        (eur(energy="0.25"), 20, HOUR, "0.01"),  # exactly 0.005: half up
        (eur(energy="0.3456"), 12_345, HOUR, "4.27"),  # 4.266432
        (eur(time="2.40"), 0, timedelta(minutes=30), "1.20"),
        (eur(time="2.40"), 0, timedelta(seconds=1), "0.00"),  # 0.000667
        (eur(time="2.40"), 0, timedelta(seconds=8), "0.01"),  # 0.005333
        (eur(time="1"), 0, timedelta(hours=25), "25.00"),
        (eur(fee="1.50"), 0, timedelta(0), "1.50"),
        (eur(fee="1.50"), None, None, "1.50"),
        (eur("0.30", "1.20", "0.50"), 22_000, timedelta(minutes=90), "8.90"),
        # Rounded once: three components of 0.004 each make 0.012 -> 0.01, not 0.00.
        (eur("0.004", "0.004", "0.004"), 1000, HOUR, "0.01"),
        (eur(energy="0.30"), -500, HOUR, "0.00"),  # a meter that went backwards
        (eur(time="3"), 0, -HOUR, "0.00"),
        (eur(energy="0.30"), 10_000.5, HOUR, "3.00"),
        (eur(energy="40", currency="JPY"), 7_500, HOUR, "300"),
        (eur(energy="35.5", currency="JPY"), 1_000, HOUR, "36"),  # 35.5 -> 36
        (eur(energy="0.0505", currency="KWD"), 10_000, HOUR, "0.505"),
        (eur(energy="0.12345", currency="KWD"), 1_000, HOUR, "0.123"),
        (eur(energy="0.1", currency="CLF"), 1_234, HOUR, "0.1234"),
        (eur(energy="0.31", currency="XYZ"), 1_000, HOUR, "0.31"),  # unknown: cents
        (eur(), 50_000, HOUR, "0.00"),
    ],
)
def test_cost(tariff: Tariff, wh: Any, duration: Any, expected: str) -> None:
    cost = tariff.cost(wh, duration)
    assert cost == Decimal(expected)
    assert str(cost) == expected  # to the minor unit, no more, no less


@pytest.mark.parametrize(("currency", "decimals"),
                         [("EUR", 2), ("USD", 2), ("JPY", 0), ("KRW", 0), ("BHD", 3),
                          ("CLF", 4), ("SEK", 2)])
def test_minor_units(currency: str, decimals: int) -> None:
    assert minor_unit(currency) == decimals


@pytest.mark.parametrize("currency", ["eur", "EURO", "E1R", "", "€"])
def test_a_currency_must_look_like_iso_4217(currency: str) -> None:
    with pytest.raises(InvalidTariff):
        Tariff.of(currency, "0.3")


@pytest.mark.parametrize("price", ["-0.01", "NaN", "Infinity", -1])
def test_prices_are_finite_and_not_negative(price: Any) -> None:
    with pytest.raises(InvalidTariff):
        Tariff.of("EUR", energy_per_kwh=price)
    with pytest.raises(InvalidTariff):
        Tariff.of("EUR", time_per_hour=price)
    with pytest.raises(InvalidTariff):
        Tariff.of("EUR", session_fee=price)


def test_float_prices_are_taken_as_written() -> None:
    tariff = Tariff.of("EUR", 0.3, 0.1, 0.2)
    assert (tariff.energy_per_kwh, tariff.time_per_hour, tariff.session_fee) == (
        Decimal("0.3"), Decimal("0.1"), Decimal("0.2"))
    assert tariff.cost(1000, HOUR) == Decimal("0.60")


def test_round_half_up_away_from_zero() -> None:
    assert round_to_currency(Decimal("0.125"), "EUR") == Decimal("0.13")
    assert round_to_currency(Decimal("0.5"), "JPY") == Decimal("1")


# Running cost of a charger transaction


def tx(first: int | None = 1000, last: int | None = 5000, minutes: float = 30,
       ended: bool = False) -> ChargerTransaction:
    end = T0 + timedelta(minutes=minutes)
    return ChargerTransaction(
        charge_point_id=CP, transaction_id="TX-1", started_at=T0, last_event_at=end,
        first_reading=None if first is None else Reading(T0, first),
        last_reading=None if last is None else Reading(end, last),
        ended_at=end if ended else None,
    )


def test_running_cost_counts_energy_so_far_and_time_to_the_newest_event() -> None:
    tariff = eur("0.30", "2.00", "1.00")
    assert consumed_wh(tx()) == 4000
    assert running_cost(tariff, tx()) == Decimal("3.20")  # 1.00 + 1.20 + 1.00
    assert running_cost(tariff, tx(first=None)) == Decimal("2.00")  # no energy known yet
    assert running_cost(tariff, tx(ended=True, minutes=60)) == Decimal("4.20")


# Through the 2.0.1 handlers


CONNECTION = "conn-tariff"
EVENTS: list[dict[str, Any]] = []  # the events the w201 world recorded


@pytest.fixture
def w201(world: World) -> World:
    parts = CentralSystemParts(
        charging=world.messages._routers[v16.SUBPROTOCOL]._handlers[  # type: ignore[attr-defined]
            "Heartbeat"
        ].__self__._charging,
        directory=world.directory, clock=world.clock, heartbeat_interval=300,
        store=world.store, records=world.records,
    )
    world.messages._routers[v201.SUBPROTOCOL] = v201.plugin().router(parts)  # type: ignore[index]
    world.directory.create_tenant(Tenant(TENANT, TENANT))
    world.directory.add_charge_point(RegisteredChargePoint(CP, TENANT, "x"))
    world.registry.register(ConnectionInfo(CONNECTION, CP, TENANT, v201.SUBPROTOCOL, NOW))
    recorded = world.records.event

    def spy(tenant_id: str, cp: str, kind: str, data: dict, at: datetime) -> None:
        EVENTS.append({"type": kind, "data": data})
        recorded(tenant_id, cp, kind, data, at)

    EVENTS.clear()
    world.records.event = spy  # type: ignore[method-assign]
    call(world, "BootNotification", {"reason": "PowerUp",
                                     "chargingStation": {"model": "M", "vendorName": "V"}})
    return world


@pytest.fixture
def tariffs(w201: World) -> MemoryTariffs:
    store = MemoryTariffs()
    w201.store.for_tenant(TENANT).tariffs = store  # type: ignore[attr-defined]
    return store


_ids = iter(range(1, 100000))


def call(w: World, action: str, payload: dict) -> list:
    return w.send([2, f"t{next(_ids)}", action, payload], CONNECTION)


def ts(seconds: float) -> str:
    return format_timestamp(NOW + timedelta(seconds=seconds))


def tx_event(event_type: str, seq_no: int, seconds: float, wh: float | None = None,
             **extra: Any) -> dict:
    payload: dict[str, Any] = {
        "eventType": event_type, "timestamp": ts(seconds), "triggerReason": "MeterValuePeriodic",
        "seqNo": seq_no, "transactionInfo": {"transactionId": "TX-1"}, "evse": {"id": 1},
    }
    if wh is not None:
        payload["meterValue"] = [{"timestamp": ts(seconds), "sampledValue": [
            {"value": wh, "measurand": "Energy.Active.Import.Register"}]}]
    payload.update(extra)
    return payload


def test_no_tariff_no_total_cost(w201: World) -> None:
    assert call(w201, "TransactionEvent", tx_event("Started", 0, 0, 1000))[2] == {}
    assert call(w201, "TransactionEvent", tx_event("Updated", 1, 60, 2000))[2] == {}
    assert call(w201, "TransactionEvent", tx_event("Ended", 2, 120, 3000))[2] == {}
    stopped = [e for e in EVENTS if e["type"] == "transaction_stopped"]
    assert stopped and "total_cost" not in stopped[0]["data"]


def test_running_and_final_cost_in_the_answers(w201: World, tariffs: MemoryTariffs) -> None:
    tariffs.tariff = eur("0.30", "1.20", "0.50")
    started = call(w201, "TransactionEvent", tx_event("Started", 0, 0, 1000))
    assert "totalCost" not in started[2]  # only running or final costs
    updated = call(w201, "TransactionEvent", tx_event("Updated", 1, 1800, 6000))
    assert updated[2] == {"totalCost": 2.6}  # 0.50 + 5 kWh * 0.30 + 0.5 h * 1.20
    # A repeat gets the same cost and changes nothing.
    assert call(w201, "TransactionEvent", tx_event("Updated", 1, 1800, 6000))[2] == {
        "totalCost": 2.6}
    ended = call(w201, "TransactionEvent",
                 tx_event("Ended", 2, 3600, 11000, transactionInfo={
                     "transactionId": "TX-1", "stoppedReason": "EVDisconnected"}))
    assert ended[2] == {"totalCost": 4.7}  # 0.50 + 3.00 + 1.20
    assert tariffs.costs[(CP, "TX-1")] == (Decimal("4.70"), "EUR")
    stopped = [e for e in EVENTS if e["type"] == "transaction_stopped"]
    assert (stopped[0]["data"]["total_cost"], stopped[0]["data"]["currency"]) == (4.7, "EUR")
    # As documented in docs/events/transaction_stopped.schema.json.
    validate_event(events.event("e-1", "transaction_stopped", TENANT, CP, ts(3600),
                                stopped[0]["data"]))


def test_the_answer_keeps_id_token_info_beside_the_cost(w201: World,
                                                       tariffs: MemoryTariffs) -> None:
    tariffs.tariff = eur(fee="2")
    call(w201, "TransactionEvent", tx_event("Started", 0, 0, 0))
    answer = call(w201, "TransactionEvent", tx_event(
        "Updated", 1, 10, idToken={"idToken": "NOBODY", "type": "ISO14443"}))[2]
    assert answer["totalCost"] == 2.0
    assert answer["idTokenInfo"]["status"] == "Invalid"


def test_a_superseded_transaction_gets_its_final_cost(w201: World,
                                                     tariffs: MemoryTariffs) -> None:
    tariffs.tariff = eur(energy="1")
    call(w201, "TransactionEvent", tx_event("Started", 0, 0, 0))
    call(w201, "TransactionEvent", tx_event("Updated", 1, 60, 2000))
    call(w201, "TransactionEvent", tx_event(
        "Started", 0, 120, 2000, transactionInfo={"transactionId": "TX-2"}))
    assert tariffs.costs[(CP, "TX-1")] == (Decimal("2.00"), "EUR")


def test_the_tariff_is_chosen_once_when_the_transaction_starts(
        w201: World, tariffs: MemoryTariffs) -> None:
    tariffs.tariff = eur(energy="1")
    call(w201, "TransactionEvent", tx_event("Started", 0, 0, 0))
    call(w201, "TransactionEvent", tx_event("Updated", 1, 30, 500))
    call(w201, "TransactionEvent", tx_event("Ended", 2, 60, 1000))
    assert tariffs.resolutions == 1


def test_a_tariff_changed_during_a_session_does_not_reprice_it(
        w201: World, tariffs: MemoryTariffs) -> None:
    tariffs.tariff = eur(energy="1")
    call(w201, "TransactionEvent", tx_event("Started", 0, 0, 0))
    tariffs.tariff = eur(energy="100")
    assert call(w201, "TransactionEvent", tx_event("Updated", 1, 60, 1000))[2] == {
        "totalCost": 1.0}


def test_a_session_started_without_a_tariff_stays_unpriced(
        w201: World, tariffs: MemoryTariffs) -> None:
    call(w201, "TransactionEvent", tx_event("Started", 0, 0, 0))
    tariffs.tariff = eur(energy="1")
    assert call(w201, "TransactionEvent", tx_event("Ended", 1, 60, 1000))[2] == {}


def test_the_time_component_counts_only_the_reported_charging(
        w201: World, tariffs: MemoryTariffs) -> None:
    tariffs.tariff = eur(time="3.60")  # a cent per 10 s
    info = {"transactionId": "TX-1"}
    call(w201, "TransactionEvent", tx_event(
        "Started", 0, 0, 0, transactionInfo=info | {"chargingState": "Charging"}))
    call(w201, "TransactionEvent", tx_event(
        "Updated", 1, 600, transactionInfo=info | {"chargingState": "SuspendedEV"}))
    call(w201, "TransactionEvent", tx_event(
        "Updated", 2, 1800, transactionInfo=info | {"chargingState": "Charging"}))
    ended = call(w201, "TransactionEvent", tx_event("Ended", 3, 2400, transactionInfo=info))
    assert ended[2] == {"totalCost": 1.2}  # 600 s + 600 s charging, not 2400 s


# CostUpdated


class Commands:
    def __init__(self, refuse: Exception | None = None, version: str = "ocpp2.0.1") -> None:
        self.sent: list[tuple[str, str, str, dict]] = []
        self.refuse = refuse
        self.version = version

    def shapes_of(self, charge_point_id: str) -> tuple[str, RequestShapes]:
        from csms.versions import by_subprotocol, v16, v21, v201

        plugins = by_subprotocol([v16.plugin(), v201.plugin(), v21.plugin()])
        return self.version, plugins[self.version].commands.requests

    def submit(self, tenant_id: str, charge_point_id: str, action: str,
               payload: dict[str, Any], queue_if_offline: bool = False) -> None:
        if self.refuse is not None:
            raise self.refuse
        self.sent.append((tenant_id, charge_point_id, action, payload))


def meter(transaction_id: str | None, cp: str = CP) -> MeterValue:
    return MeterValue(cp, 1, T0, [{"value": "1", "measurand": "Energy.Active.Import.Register"}],
                      transaction_id)


@pytest.fixture
def costing() -> tuple[MemoryTenantStore, MemoryTariffs]:
    store = MemoryTenantStore()
    data = store.for_tenant(TENANT)
    tariffs = MemoryTariffs()
    tariffs.tariff = eur("0.30", "0", "1")
    data.tariffs = tariffs  # type: ignore[attr-defined]
    return store, tariffs


def _put(store: MemoryTenantStore, t: ChargerTransaction) -> None:
    from csms.domain.charger_transactions import TransactionEventData

    event = TransactionEventData(t.charge_point_id, t.transaction_id, "Started", 0,
                                 t.started_at, "Authorized", evse_id=1,
                                 meter_values=[MeterValue(CP, 1, T0, [
                                     {"value": "1000", "measurand":
                                      "Energy.Active.Import.Register"}], t.transaction_id)])
    store.for_tenant(TENANT).charger_transactions.apply(event, None)
    update = TransactionEventData(t.charge_point_id, t.transaction_id, "Updated", 1,
                                  T0 + timedelta(minutes=5), "MeterValuePeriodic",
                                  meter_values=[MeterValue(CP, 1, T0 + timedelta(minutes=5), [
                                      {"value": "11000", "measurand":
                                       "Energy.Active.Import.Register"}], t.transaction_id)])
    store.for_tenant(TENANT).charger_transactions.apply(update, None)


def test_cost_updated_at_most_once_a_minute_per_transaction(costing) -> None:
    store, _ = costing
    _put(store, tx())
    commands = Commands()
    updates = CostUpdates(store, commands)
    assert updates.after_stored(TENANT, [meter("TX-1"), meter("TX-1")], T0) == ["TX-1"]
    assert commands.sent == [(TENANT, CP, "CostUpdated",
                              {"totalCost": 4.0, "transactionId": "TX-1"})]
    assert updates.after_stored(TENANT, [meter("TX-1")], T0 + timedelta(seconds=59)) == []
    assert updates.after_stored(TENANT, [meter("TX-1")], T0 + timedelta(seconds=60)) == [
        "TX-1"]
    assert len(commands.sent) == 2


def test_cost_updated_skips_what_it_cannot_price_or_reach(costing) -> None:
    store, _ = costing
    commands = Commands()
    updates = CostUpdates(store, commands)
    # Unknown transactions (a 1.6 one), meter values outside a transaction.
    assert updates.after_stored(TENANT, [meter("42"), meter(None)], T0) == []
    _put(store, tx())
    assert CostUpdates(store, Commands(NotConnected(CP))).after_stored(
        TENANT, [meter("TX-1")], T0) == []
    assert CostUpdates(store, Commands(UnknownCommand("CostUpdated", "ocpp1.6"))).after_stored(
        TENANT, [meter("TX-1")], T0 + HOUR) == []
    assert commands.sent == []


def test_a_charger_whose_version_has_no_cost_updated_gets_none(costing) -> None:
    store, _ = costing
    _put(store, tx())
    commands = Commands(version="ocpp1.6")
    assert CostUpdates(store, commands).after_stored(TENANT, [meter("TX-1")], T0) == []
    assert commands.sent == []


def test_no_cost_updated_for_a_session_that_started_unpriced(costing) -> None:
    store, tariffs = costing
    tariffs.tariff = None
    _put(store, tx())
    tariffs.pin(CP, "TX-1", None)  # what its Started event kept: no tariff applied
    tariffs.tariff = eur(energy="1")
    commands = Commands()
    assert CostUpdates(store, commands).after_stored(TENANT, [meter("TX-1")], T0) == []
    assert commands.sent == []


def test_cost_updated_failures_are_logged_not_raised(costing) -> None:
    store, _ = costing
    _put(store, tx())
    updates = CostUpdates(store, Commands(RuntimeError("boom")))
    assert updates.after_stored(TENANT, [meter("TX-1")], T0) == []


def test_stores_without_tariffs_price_nothing() -> None:
    assert tariffs_of(MemoryTenantStore().for_tenant(TENANT)) is None


def test_cost_updated_hands_on_the_records_of_its_commands(costing) -> None:
    store, _ = costing
    _put(store, tx())

    class Flushes:
        count = 0

        def flush(self) -> None:
            Flushes.count += 1

    updates = CostUpdates(store, Commands(), records=Flushes())  # type: ignore[arg-type]
    updates.after_stored(TENANT, [meter("TX-1")], T0)
    updates.after_stored(TENANT, [meter("TX-1")], T0)  # nothing sent: nothing to flush
    assert Flushes.count == 1


def test_ocpp21_answers_carry_the_cost_too(w201: World, tariffs: MemoryTariffs) -> None:
    from csms.versions import v21

    parts = CentralSystemParts(
        charging=w201.messages._routers[v16.SUBPROTOCOL]._handlers[  # type: ignore[attr-defined]
            "Heartbeat"
        ].__self__._charging,
        directory=w201.directory, clock=w201.clock, heartbeat_interval=300,
        store=w201.store, records=w201.records,
    )
    w201.messages._routers[v21.SUBPROTOCOL] = v21.plugin().router(parts)  # type: ignore[index]
    w201.registry.register(ConnectionInfo("conn-21", CP, TENANT, v21.SUBPROTOCOL, NOW))
    tariffs.tariff = eur(energy="0.5")

    def call21(payload: dict) -> list:
        return w201.send([2, f"v21-{next(_ids)}", "TransactionEvent", payload], "conn-21")

    call21(tx_event("Started", 0, 0, 0))
    assert call21(tx_event("Updated", 1, 60, 3000))[2] == {"totalCost": 1.5}
