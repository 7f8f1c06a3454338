"""Transactions their chargers never stopped: superseded by a newer start on the same
connector, closed by an operator, and the tenant's ConcurrentTx policy that keeps a dead
charger's open transaction from locking its driver out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from csms.domain.model import (
    AuthorizationStatus,
    ConcurrentTransactions,
    IdTag,
    MeterValue,
    StartRequest,
    StopRequest,
    Tenant,
    TransactionStatus,
)
from csms.services.charging import ChargingService
from csms.services.fleet import Conflict, NotFound
from csms.services.record_applier import RecordApplier, StoreNow
from csms.services.records import BufferedRecords

from tests.event_schemas import validate_event
from tests.fakes.memory import MemoryDirectory, MemoryTenantData, MemoryTenantStore

from .conftest import NOW, TENANT

CP, OTHER_CP = "CP-1", "CP-2"
TAG = "TAG"
STARTED_AT = NOW - timedelta(hours=3)


class Published:
    """An EventPublisher that keeps what it was given."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def publish(self, topic: str, event: dict[str, Any]) -> None:
        self.events.append(event)

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == event_type]


@dataclass
class Charging:
    service: ChargingService
    directory: MemoryDirectory
    data: MemoryTenantData
    published: Published
    records: BufferedRecords

    def start(self, cp: str = CP, connector: int = 1, at: datetime = STARTED_AT,
              meter_start: int = 1000, id_tag: str = TAG):
        request = StartRequest(cp, connector, id_tag, meter_start, at)
        transaction, info = self.service.start_transaction(TENANT, request, NOW)
        self.records.flush()
        return transaction, info.status

    def readings(self, transaction_id: int, *values: tuple[datetime, list[dict[str, Any]]]):
        self.data.meter_values.add(
            [MeterValue(CP, 1, at, sampled, transaction_id) for at, sampled in values]
        )

    def heard_from(self, cp: str, at: datetime) -> None:
        """The charger sent a frame at `at` (what the message log keeps)."""
        self.data.messages.record([{"charge_point_id": cp, "direction": "in", "timestamp": at,
                                    "action": "Heartbeat"}])

    def policy(self, policy: ConcurrentTransactions, window_minutes: int = 60) -> None:
        self.directory.update_tenant(TENANT, {"concurrent_transactions": policy,
                                              "concurrent_tx_window_minutes": window_minutes})

    def close(self, transaction_id: int, **options: Any):
        closed = self.service.close_transaction(TENANT, transaction_id, "alice", NOW, **options)
        self.records.flush()
        return closed

    def current_transaction(self, cp: str = CP, connector: int = 1) -> int | None:
        return self.data.charge_points.state[cp]["connectors"][connector]["transaction_id"]


@pytest.fixture
def charging() -> Charging:
    store, directory, published = MemoryTenantStore(), MemoryDirectory(), Published()
    directory.create_tenant(Tenant(TENANT, "Operator"))
    records = BufferedRecords(StoreNow(RecordApplier(store, directory), published))
    data = store.for_tenant(TENANT)
    data.id_tags.put(IdTag(TAG, AuthorizationStatus.ACCEPTED))
    return Charging(ChargingService(store, records, directory), directory, data, published,
                    records)


def energy(value: str, **fields: str) -> dict[str, str]:
    return {"value": value, "measurand": "Energy.Active.Import.Register"} | fields


# Superseded: a newer start on the same connector closes what is still open there


def test_a_new_start_on_the_connector_closes_the_open_transaction_as_superseded(charging):
    old, _ = charging.start()
    charging.start(at=NOW)
    stopped = charging.data.transactions.get(old.transaction_id)
    assert (stopped.status, stopped.stop_reason) == (TransactionStatus.COMPLETED, "Superseded")
    assert stopped.stop_timestamp == NOW
    assert stopped.closed_at == NOW and stopped.closed_by is None


def test_a_superseded_transaction_stops_at_its_last_energy_register_reading(charging):
    old, _ = charging.start()
    charging.readings(
        old.transaction_id,
        (STARTED_AT + timedelta(hours=1), [energy("3.5", unit="kWh")]),
        (STARTED_AT + timedelta(hours=2), [energy("4.25", unit="kWh"),
                                           {"value": "7000", "measurand": "Power.Active.Import",
                                            "unit": "W"}]),
        # Newer, but only a phase's share and a power reading: not the register's total.
        (STARTED_AT + timedelta(hours=2, minutes=30), [energy("99", unit="kWh", phase="L1"),
                                                       {"value": "7000",
                                                        "measurand": "Power.Active.Import"}]),
    )
    charging.start(at=NOW)
    stopped = charging.data.transactions.get(old.transaction_id)
    assert (stopped.meter_stop, stopped.energy_wh) == (4250, 3250)


def test_a_reading_without_a_measurand_is_the_energy_register_in_wh(charging):
    old, _ = charging.start()
    charging.readings(old.transaction_id, (STARTED_AT + timedelta(hours=1), [{"value": "1800"}]))
    charging.start(at=NOW)
    assert charging.data.transactions.get(old.transaction_id).meter_stop == 1800


def test_a_superseded_transaction_without_readings_has_unknown_meter_stop_and_energy(charging):
    old, _ = charging.start()
    charging.start(at=NOW)
    stopped = charging.data.transactions.get(old.transaction_id)
    assert (stopped.meter_stop, stopped.energy_wh) == (None, None)


def test_superseding_publishes_transaction_stopped_with_reason_superseded(charging):
    old, _ = charging.start()
    new, _ = charging.start(at=NOW)
    [event] = charging.published.of_type("transaction_stopped")
    validate_event(event)
    assert event["charge_point_id"] == CP
    assert event["data"]["reason"] == "Superseded"
    assert (event["data"]["transaction_id"], event["data"]["superseded_by"]) == (
        old.transaction_id, new.transaction_id)
    types = [e["type"] for e in charging.published.events]
    assert types == ["transaction_started", "transaction_stopped", "transaction_started"]


def test_the_connector_points_at_the_new_transaction_after_superseding(charging):
    charging.start()
    new, status = charging.start(at=NOW)
    assert status is AuthorizationStatus.ACCEPTED
    assert charging.current_transaction() == new.transaction_id


def test_a_retried_start_does_not_supersede_its_own_first_copy(charging):
    first, _ = charging.start()
    again, _ = charging.start()
    assert again.transaction_id == first.transaction_id
    assert charging.data.transactions.get(first.transaction_id).status is TransactionStatus.ACTIVE
    assert charging.published.of_type("transaction_stopped") == []


def test_a_late_retry_of_an_old_start_leaves_the_newer_transaction_open(charging):
    charging.start()
    new, _ = charging.start(at=NOW)
    charging.start()  # the first start again, after the second
    assert charging.data.transactions.get(new.transaction_id).status is TransactionStatus.ACTIVE
    assert charging.current_transaction() == new.transaction_id


def test_a_start_on_another_connector_leaves_the_open_transaction_alone(charging):
    old, _ = charging.start(connector=1)
    charging.start(connector=2, at=NOW)
    assert charging.data.transactions.get(old.transaction_id).status is TransactionStatus.ACTIVE


def test_a_late_stop_of_a_superseded_transaction_keeps_the_connectors_new_one(charging):
    old, _ = charging.start()
    new, _ = charging.start(at=NOW)
    charging.service.stop_transaction(
        TENANT, StopRequest(CP, old.transaction_id, 5000, STARTED_AT + timedelta(hours=1)), [],
        NOW)
    assert charging.current_transaction() == new.transaction_id


# The ConcurrentTx policy


def test_by_default_an_accepted_tag_is_accepted_while_charging_at_another_charger(charging):
    charging.start(cp=OTHER_CP)
    charging.heard_from(OTHER_CP, NOW)
    _, status = charging.start(at=NOW)
    assert status is AuthorizationStatus.ACCEPTED


def test_allow_never_answers_concurrent_tx(charging):
    charging.policy(ConcurrentTransactions.ALLOW)
    charging.start(cp=OTHER_CP)
    charging.heard_from(OTHER_CP, NOW - timedelta(seconds=5))
    _, status = charging.start(at=NOW)
    assert status is AuthorizationStatus.ACCEPTED


def test_reject_answers_concurrent_tx_while_the_other_charger_was_heard_from_lately(charging):
    charging.policy(ConcurrentTransactions.REJECT, window_minutes=60)
    charging.start(cp=OTHER_CP)
    charging.heard_from(OTHER_CP, NOW - timedelta(minutes=59))
    _, status = charging.start(at=NOW)
    assert status is AuthorizationStatus.CONCURRENT_TX


def test_reject_accepts_when_the_other_charger_has_been_silent_past_the_window(charging):
    charging.policy(ConcurrentTransactions.REJECT, window_minutes=60)
    charging.start(cp=OTHER_CP)
    charging.heard_from(OTHER_CP, NOW - timedelta(minutes=61))
    _, status = charging.start(at=NOW)
    assert status is AuthorizationStatus.ACCEPTED


def test_reject_ignores_what_the_central_system_sent_to_the_other_charger(charging):
    charging.policy(ConcurrentTransactions.REJECT)
    charging.start(cp=OTHER_CP)
    charging.data.messages.record([{"charge_point_id": OTHER_CP, "direction": "out",
                                    "timestamp": NOW}])
    _, status = charging.start(at=NOW)
    assert status is AuthorizationStatus.ACCEPTED


def test_reject_does_not_count_the_same_chargers_other_connector(charging):
    charging.policy(ConcurrentTransactions.REJECT)
    charging.start(connector=2)
    charging.heard_from(CP, NOW)
    _, status = charging.start(connector=1, at=NOW)
    assert status is AuthorizationStatus.ACCEPTED


def test_reject_leaves_a_retried_start_accepted(charging):
    charging.policy(ConcurrentTransactions.REJECT)
    charging.heard_from(CP, NOW)
    charging.start()
    _, status = charging.start()
    assert status is AuthorizationStatus.ACCEPTED


def test_reject_leaves_other_statuses_alone(charging):
    charging.policy(ConcurrentTransactions.REJECT)
    charging.data.id_tags.put(IdTag("BLOCKED", AuthorizationStatus.BLOCKED))
    charging.start(cp=OTHER_CP, id_tag="BLOCKED")
    charging.heard_from(OTHER_CP, NOW)
    _, status = charging.start(at=NOW, id_tag="BLOCKED")
    assert status is AuthorizationStatus.BLOCKED


# An operator closes a stuck transaction


def test_closing_records_who_closed_it_and_when(charging):
    old, _ = charging.start()
    closed = charging.close(old.transaction_id)
    stored = charging.data.transactions.get(old.transaction_id)
    assert stored == closed
    assert (stored.status, stored.stop_reason) == (TransactionStatus.COMPLETED,
                                                   "ClosedByOperator")
    assert (stored.closed_by, stored.closed_at, stored.stop_timestamp) == ("alice", NOW, NOW)


def test_closing_takes_the_given_meter_stop_and_reason(charging):
    old, _ = charging.start(meter_start=1000)
    closed = charging.close(old.transaction_id, meter_stop=6000, reason="ChargerRemoved")
    assert (closed.meter_stop, closed.energy_wh, closed.stop_reason) == (6000, 5000,
                                                                         "ChargerRemoved")


def test_closing_without_meter_stop_takes_the_last_energy_register_reading(charging):
    old, _ = charging.start()
    charging.readings(old.transaction_id, (NOW - timedelta(hours=1), [energy("2500")]))
    assert charging.close(old.transaction_id).meter_stop == 2500


def test_closing_clears_the_connectors_current_transaction(charging):
    old, _ = charging.start()
    charging.close(old.transaction_id)
    assert charging.current_transaction() is None


def test_closing_publishes_transaction_stopped_with_the_reason_and_who(charging):
    old, _ = charging.start()
    charging.close(old.transaction_id, reason="Stuck")
    [event] = charging.published.of_type("transaction_stopped")
    validate_event(event)
    assert (event["data"]["transaction_id"], event["data"]["reason"],
            event["data"]["closed_by"]) == (old.transaction_id, "Stuck", "alice")


def test_closing_a_stopped_transaction_is_a_conflict(charging):
    old, _ = charging.start()
    charging.service.stop_transaction(TENANT, StopRequest(CP, old.transaction_id, 2000, NOW),
                                      [], NOW)
    with pytest.raises(Conflict):
        charging.close(old.transaction_id)


def test_closing_an_unknown_transaction_is_not_found(charging):
    with pytest.raises(NotFound):
        charging.close(999)


def test_allow_does_not_read_the_tags_open_transactions_at_a_start(charging, monkeypatch):
    # Given a tenant that allows concurrency and a tag open at another charger (a fleet
    # card can be open at thousands: reading them all on every start was O(n) per start)
    charging.policy(ConcurrentTransactions.ALLOW)
    charging.start(cp=OTHER_CP)
    looked_up: list[dict[str, Any]] = []
    active = charging.data.transactions.active

    def watched(**criteria: Any):
        looked_up.append(criteria)
        return active(**criteria)

    monkeypatch.setattr(charging.data.transactions, "active", watched)
    # When the tag starts again elsewhere
    charging.start(at=NOW)
    # Then no lookup by tag was made (only the connector's own, for superseding)
    assert [c for c in looked_up if c.get("id_tag") is not None] == []
