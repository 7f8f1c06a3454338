"""What closing stale transactions needs from MongoDB, against a real MongoDB-wire server:
open transactions by connector and id tag, conditional closing, a transaction's newest
readings, whether a charger was heard from lately, and the tenant's ConcurrentTx policy."""

from datetime import UTC, datetime, timedelta

import pytest
from csms.adapters.mongo import MongoDirectory
from csms.domain.model import (
    ConcurrentTransactions,
    MeterValue,
    StartRequest,
    StopRequest,
    Tenant,
    TransactionStatus,
)
from csms_local import admin as admin_cli

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


@pytest.fixture
def directory(mongo_client, tenant_id):
    database = f"global_{tenant_id}"
    yield MongoDirectory(mongo_client, database=database)
    mongo_client.drop_database(database)


def started(data, minutes: int = 0, **overrides):
    values = {"charge_point_id": "CP1", "connector_id": 1, "id_tag": "TAG",
              "meter_start": 100, "timestamp": T0 + timedelta(minutes=minutes)} | overrides
    return data.transactions.start(StartRequest(**values), "Accepted")


def test_open_transactions_of_a_connector_are_found_newest_first(data):
    older, newer = started(data), started(data, minutes=5)
    started(data, minutes=6, connector_id=2)
    started(data, minutes=7, charge_point_id="CP2")
    found = data.transactions.active(charge_point_id="CP1", connector_id=1)
    assert [t.transaction_id for t in found] == [newer.transaction_id, older.transaction_id]


def test_open_transactions_of_an_id_tag_leave_out_stopped_ones(data):
    stopped = started(data)
    data.transactions.stop(StopRequest("CP1", stopped.transaction_id, 200, T0))
    still_open = started(data, minutes=5, charge_point_id="CP2")
    started(data, minutes=6, id_tag="OTHER")
    assert [t.transaction_id for t in data.transactions.active(id_tag="TAG")] == [
        still_open.transaction_id]


def test_closing_stores_the_stop_and_who_closed_it(data):
    transaction = started(data)
    closed = transaction.closed(2500, T0 + timedelta(hours=1), "ClosedByOperator",
                                closed_at=T0 + timedelta(hours=2), closed_by="alice")
    assert data.transactions.close(closed) is True
    assert data.transactions.get(transaction.transaction_id) == closed
    stored = data.db["transactions"].find_one({"_id": transaction.transaction_id})
    assert (stored["status"], stored["energy_wh"], stored["closed_by"]) == (
        TransactionStatus.COMPLETED.value, 2400, "alice")


def test_closing_a_transaction_stopped_meanwhile_changes_nothing(data):
    transaction = started(data)
    data.transactions.stop(StopRequest("CP1", transaction.transaction_id, 900, T0, None, "Local"))
    closed = transaction.closed(None, T0, "Superseded", closed_at=T0)
    assert data.transactions.close(closed) is False
    stored = data.transactions.get(transaction.transaction_id)
    assert (stored.stop_reason, stored.meter_stop) == ("Local", 900)


def test_a_transactions_newest_readings_come_newest_first(data):
    data.meter_values.add([MeterValue("CP1", 1, T0 + timedelta(minutes=m), [{"value": str(m)}], 7)
                           for m in (1, 3, 2)] + [MeterValue("CP1", 1, T0, [{"value": "x"}], 8)])
    latest = data.meter_values.latest(7, 2)
    assert [v.sampled_values for v in latest] == [[{"value": "3"}], [{"value": "2"}]]
    assert latest[0] == MeterValue("CP1", 1, T0 + timedelta(minutes=3), [{"value": "3"}], 7)


def heard(data, cp: str, at: datetime, direction: str = "in") -> None:
    data.messages.record([{"charge_point_id": cp, "direction": direction, "timestamp": at,
                           "action": "Heartbeat"}])


def test_a_charger_that_sent_something_since_was_heard_from(data):
    heard(data, "CP1", T0)
    assert data.charge_points.heard_from_since("CP1", T0) is True


def test_a_charger_silent_since_was_not_heard_from(data):
    heard(data, "CP1", T0 - timedelta(seconds=1))
    heard(data, "CP2", T0 + timedelta(minutes=5))
    assert data.charge_points.heard_from_since("CP1", T0) is False


def test_frames_sent_to_a_charger_do_not_count_as_hearing_from_it(data):
    heard(data, "CP1", T0, direction="out")
    assert data.charge_points.heard_from_since("CP1", T0) is False


def current(data, connector: str = "1"):
    return data.db["charge_points"].find_one({"_id": "CP1"})["connectors"][connector][
        "transaction_id"]


def test_clearing_the_current_transaction_clears_only_that_transaction(data):
    data.charge_points.set_current_transaction("CP1", 1, 5)
    data.charge_points.clear_current_transaction("CP1", 1, 4)
    assert current(data) == 5
    data.charge_points.clear_current_transaction("CP1", 1, 5)
    assert current(data) is None


def test_a_tenants_concurrent_transaction_policy_round_trips(directory, tenant_id):
    directory.create_tenant(Tenant(tenant_id, "Op"))
    assert directory.get_tenant(tenant_id).concurrent_transactions is ConcurrentTransactions.ALLOW
    directory.update_tenant(tenant_id, {"concurrent_transactions": ConcurrentTransactions.REJECT,
                                        "concurrent_tx_window_minutes": 15})
    tenant = directory.get_tenant(tenant_id)
    assert tenant.concurrent_transactions is ConcurrentTransactions.REJECT
    assert tenant.concurrent_tx_window_minutes == 15
    assert tenant.rejects_concurrent_transactions


def test_a_tenant_stored_before_the_policy_existed_allows_concurrent_transactions(
    directory, mongo_client, tenant_id
):
    mongo_client[f"global_{tenant_id}"]["tenants"].insert_one({"_id": tenant_id, "name": "Old"})
    tenant = directory.get_tenant(tenant_id)
    assert tenant.concurrent_transactions is ConcurrentTransactions.ALLOW
    assert tenant.concurrent_tx_window_minutes == 60


def test_csms_admin_creates_a_tenant_with_a_concurrent_transaction_policy(
    monkeypatch, mongodb_uri, mongo_client, tenant_id
):
    monkeypatch.setenv("MONGODB_URI", mongodb_uri)
    admin_cli.run(["tenant", "create", "--id", tenant_id, "--name", "Strict",
                   "--concurrent-transactions", "reject", "--concurrent-tx-window-minutes", "5"])
    tenant = MongoDirectory(mongo_client).get_tenant(tenant_id)
    assert (tenant.concurrent_transactions, tenant.concurrent_tx_window_minutes) == (
        ConcurrentTransactions.REJECT, 5)
