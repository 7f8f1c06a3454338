"""MongoDB adapters against a real MongoDB-wire server (SecantusDB)."""

from datetime import UTC, datetime, timedelta

import pytest
from csms.adapters.mongo import MongoDirectory, MongoTenantStore
from csms.domain.charging_profiles import (
    ChargingProfile,
    Kind,
    ProfileCriteria,
    Purpose,
    RateUnit,
    Schedule,
    SchedulePeriod,
)
from csms.domain.model import (
    AuthorizationStatus,
    ConnectionChanged,
    ConnectionStatus,
    ConnectorStatus,
    ConnectorStatusChanged,
    Heartbeat,
    IdTag,
    MeterValue,
    RegisteredChargePoint,
    SessionChange,
    StartRequest,
    StopRequest,
    Tenant,
    TransactionStatus,
)
from pymongo.errors import DuplicateKeyError

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def start(**overrides):
    values = {"charge_point_id": "CP1", "connector_id": 1, "id_tag": "TAG",
              "meter_start": 100, "timestamp": T0} | overrides
    return StartRequest(**values)


def test_each_tenant_has_its_own_database(mongo_client, tenant_id):
    data = MongoTenantStore(mongo_client).for_tenant(tenant_id)
    assert data.db.name == f"ocpp_tenant_{tenant_id}"


def test_invalid_tenant_ids_are_refused(mongo_client):
    with pytest.raises(ValueError):
        MongoTenantStore(mongo_client).for_tenant("../admin")


def test_migrating_drops_the_message_log_index_no_query_reads(data):
    # Given a tenant database from a version that indexed the message log by message_id
    data.db["ocpp_messages"].create_index("message_id")

    # When its indexes are ensured again (what `csms-admin db migrate` does)
    data.ensure_indexes()

    # Then every insert no longer pays for it; the indexes the log's queries read remain
    indexes = data.db["ocpp_messages"].index_information()
    assert "message_id_1" not in indexes
    assert {"charge_point_id_1_timestamp_-1", "action_1_timestamp_-1", "expire_at_1"} <= set(
        indexes
    )


def test_transaction_ids_are_consecutive_integers_per_tenant(data):
    first = data.transactions.start(start(), "Accepted")
    second = data.transactions.start(start(timestamp=T0 + timedelta(minutes=1)), "Accepted")
    assert (first.transaction_id, second.transaction_id) == (1, 2)


def test_a_repeated_start_returns_the_first_transaction(data):
    first = data.transactions.start(start(), "Accepted")
    again = data.transactions.start(start(), "Accepted")
    assert again.transaction_id == first.transaction_id
    assert data.db["transactions"].count_documents({}) == 1


def test_storage_itself_refuses_a_second_transaction_for_the_same_start(data):
    # The unique index is what holds when two copies race past the lookup.
    data.transactions.start(start(), "Accepted")
    with pytest.raises(DuplicateKeyError):
        data.db["transactions"].insert_one({"_id": 999, "dedup_key": start().dedup_key})


def test_stop_stores_meter_stop_reason_and_energy(data):
    transaction = data.transactions.start(start(), "Accepted")
    data.transactions.stop(StopRequest("CP1", transaction.transaction_id, 5100,
                                       T0 + timedelta(hours=1), "TAG", "Local"))
    stored = data.db["transactions"].find_one({"_id": transaction.transaction_id})
    assert stored["status"] == TransactionStatus.COMPLETED.value
    assert (stored["meter_stop"], stored["energy_wh"], stored["stop_reason"]) == (5100, 5000,
                                                                                  "Local")


def test_a_second_stop_changes_nothing(data):
    transaction = data.transactions.start(start(), "Accepted")
    data.transactions.stop(StopRequest("CP1", transaction.transaction_id, 5100, T0))
    data.transactions.stop(StopRequest("CP1", transaction.transaction_id, 9999, T0))
    assert data.transactions.get(transaction.transaction_id).meter_stop == 5100


def test_stop_of_another_charge_points_transaction_is_not_found(data):
    transaction = data.transactions.start(start(), "Accepted")
    assert data.transactions.stop(StopRequest("CP2", transaction.transaction_id, 1, T0)) is None


def test_active_transaction_of_an_id_tag_is_found(data):
    transaction = data.transactions.start(start(), "Accepted")
    assert data.transactions.active_for_id_tag("TAG").transaction_id == transaction.transaction_id
    assert data.transactions.active_for_id_tag("OTHER") is None


def test_meter_values_stored_twice_are_stored_once(data):
    values = [MeterValue("CP1", 1, T0, [{"value": "1"}], 7)]
    data.meter_values.add(values)
    data.meter_values.add(values)
    assert data.db["meter_values"].count_documents({"transaction_id": 7}) == 1


def status_at(status: str, at: datetime) -> ConnectorStatusChanged:
    return ConnectorStatusChanged("CP1", ConnectorStatus(1, status, "NoError", at))


def test_a_newer_connector_status_wins_over_a_late_older_one(data):
    cps = data.charge_points
    cps.sync([status_at("Charging", T0)])
    cps.sync([status_at("Available", T0 - timedelta(minutes=5))])
    doc = data.db["charge_points"].find_one({"_id": "CP1"})
    assert doc["connectors"]["1"]["status"] == "Charging"
    cps.sync([status_at("Finishing", T0 + timedelta(minutes=5))])
    doc = data.db["charge_points"].find_one({"_id": "CP1"})
    assert doc["connectors"]["1"]["status"] == "Finishing"


def test_within_one_batch_the_newest_of_each_kind_of_change_wins(data):
    beats = [Heartbeat("CP1", T0 + timedelta(seconds=n)) for n in (3, 9, 1)]
    data.charge_points.sync([*beats, status_at("Charging", T0 + timedelta(minutes=1)),
                             status_at("Available", T0)])
    doc = data.db["charge_points"].find_one({"_id": "CP1"})
    assert doc["last_heartbeat"] == T0 + timedelta(seconds=9)
    assert doc["connectors"]["1"]["status"] == "Charging"


class CountingCollection:
    """The real collection, counting the operations of each bulk write."""

    def __init__(self, real) -> None:
        self.real = real
        self.bulk_writes: list[int] = []

    def bulk_write(self, operations, **options):
        self.bulk_writes.append(len(operations))
        return self.real.bulk_write(operations, **options)

    def __getattr__(self, name):
        return getattr(self.real, name)


def test_a_charge_points_heartbeats_in_one_batch_cost_one_update(data, counting):
    beats = [Heartbeat(cp, T0 + timedelta(seconds=n))
             for cp, n in (("CP1", 3), ("CP2", 4), ("CP1", 9), ("CP1", 1), ("CP2", 2))]

    data.charge_points.sync([*beats, status_at("Charging", T0)])

    assert counting.bulk_writes == [3]  # CP1's latest, CP2's latest, the status
    stored = {d["_id"]: d["last_heartbeat"] for d in data.db["charge_points"].find()}
    assert stored == {"CP1": T0 + timedelta(seconds=9), "CP2": T0 + timedelta(seconds=4)}


@pytest.fixture
def counting(data, monkeypatch) -> CountingCollection:
    counting = CountingCollection(data.charge_points._c)
    monkeypatch.setattr(data.charge_points, "_c", counting)
    return counting


def test_a_heartbeat_no_later_than_the_one_stored_costs_no_update(data, counting):
    data.charge_points.sync([Heartbeat("CP1", T0 + timedelta(seconds=1))])

    data.charge_points.sync([Heartbeat("CP1", T0 + timedelta(seconds=1))])
    data.charge_points.sync([Heartbeat("CP1", T0)])

    assert counting.bulk_writes == [1]
    doc = data.db["charge_points"].find_one({"_id": "CP1"})
    assert doc["last_heartbeat"] == T0 + timedelta(seconds=1)


def test_a_later_heartbeat_is_stored(data, counting):
    data.charge_points.sync([Heartbeat("CP1", T0)])

    data.charge_points.sync([Heartbeat("CP1", T0 + timedelta(seconds=1))])

    assert counting.bulk_writes == [1, 1]
    doc = data.db["charge_points"].find_one({"_id": "CP1"})
    assert doc["last_heartbeat"] == T0 + timedelta(seconds=1)


def test_a_forgotten_charge_points_next_heartbeat_is_stored_again(data):
    data.charge_points.sync([Heartbeat("CP1", T0)])
    data.charge_points.forget("CP1")

    data.charge_points.sync([Heartbeat("CP1", T0)])

    assert data.db["charge_points"].find_one({"_id": "CP1"})["last_heartbeat"] == T0


def test_a_connect_and_disconnect_in_one_batch_both_leave_their_times(data):
    data.charge_points.sync([ConnectionChanged("CP1", ConnectionStatus.CONNECTED, T0),
                             ConnectionChanged("CP1", ConnectionStatus.DISCONNECTED,
                                               T0 + timedelta(seconds=5))])
    doc = data.db["charge_points"].find_one({"_id": "CP1"})
    assert (doc["connected_at"], doc["disconnected_at"]) == (T0, T0 + timedelta(seconds=5))


def test_a_status_reported_where_the_stored_one_has_no_time_is_taken(data):
    data.db["charge_points"].insert_one({"_id": "CP1", "connectors": {"1": {"timestamp": None}}})
    data.charge_points.sync([status_at("Charging", T0)])
    doc = data.db["charge_points"].find_one({"_id": "CP1"})
    assert doc["connectors"]["1"]["status"] == "Charging"


def test_a_late_older_connection_change_does_not_undo_a_newer_one(data):
    cps = data.charge_points
    cps.sync([ConnectionChanged("CP1", ConnectionStatus.CONNECTED, T0)])
    cps.sync([ConnectionChanged("CP1", ConnectionStatus.DISCONNECTED, T0 - timedelta(seconds=1))])
    doc = data.db["charge_points"].find_one({"_id": "CP1"})
    assert doc["connection_status"] == ConnectionStatus.CONNECTED.value


def profile(profile_id: int, evse_id: int, purpose: Purpose, stack_level: int = 0
            ) -> ChargingProfile:
    schedule = Schedule(RateUnit.AMPERES, (SchedulePeriod(0, 16.0),))
    return ChargingProfile(profile_id, stack_level, purpose, Kind.ABSOLUTE, evse_id, (schedule,))


def test_charging_profiles_are_kept_by_id_and_cleared_by_criteria(data):
    profiles = data.charging_profiles
    profiles.put("CP1", profile(1, 1, Purpose.TX_DEFAULT), {"id": 1})
    profiles.put("CP1", profile(2, 2, Purpose.TX_DEFAULT, 1), {"id": 2})
    profiles.put("CP1", profile(3, 0, Purpose.CHARGING_STATION_MAX), {"id": 3})
    profiles.put("CP1", profile(1, 2, Purpose.TX_DEFAULT), {"id": 1, "again": True})
    kept = {d["profile_id"]: d for d in data.db["charging_profiles"].find({})}
    assert kept[1]["connector_id"] == 2 and kept[1]["profile"] == {"id": 1, "again": True}
    assert profiles.clear("CP1", ProfileCriteria(evse_id=2, stack_level=1)) == 1
    assert profiles.clear("CP1", ProfileCriteria(purpose=Purpose.CHARGING_STATION_MAX)) == 1
    assert profiles.clear("CP1", ProfileCriteria()) == 1


def test_id_tags_round_trip_with_expiry_and_parent(data):
    tag = IdTag("TAG", AuthorizationStatus.ACCEPTED, T0, "PARENT")
    data.id_tags.put(tag)
    assert data.id_tags.get("TAG") == tag
    assert data.id_tags.get("NONE") is None


def test_sessions_record_connect_and_disconnect(data):
    data.sessions.sync([
        SessionChange("c1", {"charge_point_id": "CP1", "connected_at": T0,
                             "source_ip": "10.1.1.1", "disconnected_at": None}),
        SessionChange("c1", {"disconnected_at": T0 + timedelta(hours=1), "close_code": 1000}),
    ])
    doc = data.db["sessions"].find_one({"_id": "c1"})
    assert (doc["connected_at"], doc["close_code"], doc["source_ip"]) == (T0, 1000, "10.1.1.1")


def test_a_close_applied_before_its_open_loses_nothing(data):
    data.sessions.sync([SessionChange("c2", {"disconnected_at": T0, "close_code": 1006})])
    data.sessions.sync([SessionChange("c2", {"charge_point_id": "CP1", "connected_at": T0})])
    doc = data.db["sessions"].find_one({"_id": "c2"})
    assert (doc["close_code"], doc["charge_point_id"]) == (1006, "CP1")


def test_the_message_log_keeps_every_entry(data):
    data.messages.record([{"message_id": "1", "direction": "in"},
                          {"message_id": "1", "direction": "out"}])
    assert data.db["ocpp_messages"].count_documents({"message_id": "1"}) == 2


def test_directory_registers_tenants_and_charge_points(mongo_client, tenant_id):
    directory = MongoDirectory(mongo_client, database=f"global_{tenant_id}")
    directory.create_tenant(Tenant(tenant_id, "Acme"))
    directory.add_charge_point(RegisteredChargePoint("CP1", tenant_id, "hash"))
    assert directory.get_tenant(tenant_id) == Tenant(tenant_id, "Acme")
    assert directory.get_charge_point("CP1").tenant_id == tenant_id
    assert directory.set_charge_point_enabled("CP1", False)
    assert directory.get_charge_point("CP1").enabled is False
    assert not directory.set_charge_point_enabled("NOPE", False)
    mongo_client.drop_database(f"global_{tenant_id}")
