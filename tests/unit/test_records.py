"""Runtime records: buffered per invocation, decoded by the worker, turned into events
that match their documented schemas."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from csms.domain.model import BootInfo, ConnectionStatus, ConnectorStatus, MeterValue, Tenant
from csms.services.record_applier import PoisonRecord, RecordApplier, decode
from csms.services.records import BufferedRecords, encode

from tests.event_schemas import validate_event
from tests.fakes.memory import MemoryDirectory, MemoryTenantStore

AT = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


class CapturingQueue:
    def __init__(self) -> None:
        self.sent: list[list[dict]] = []

    def send(self, envelopes):
        self.sent.append([json.loads(encode(e)) for e in envelopes])


@pytest.fixture
def queue() -> CapturingQueue:
    return CapturingQueue()


@pytest.fixture
def records(queue) -> BufferedRecords:
    ids = iter(f"env-{n}" for n in range(100))
    return BufferedRecords(queue, new_id=lambda: next(ids))


def a_session(records: BufferedRecords) -> None:
    records.connection("t1", "CP", ConnectionStatus.CONNECTED, AT)
    records.boot("t1", "CP", BootInfo("Acme", "Wallbox", {"firmwareVersion": "1.0"}), AT)
    records.connector_status("t1", "CP", ConnectorStatus(1, "Charging", "NoError", AT))
    records.event("t1", "CP", "transaction_started", {
        "transaction_id": 7, "connector_id": 1, "id_tag": "TAG", "id_tag_status": "Accepted",
        "meter_start": 0, "started_at": "2026-11-22T12:00:00.000Z"}, AT)
    records.meter_values("t1", [MeterValue("CP", 1, AT, [{"value": "10"}], 7)])
    records.event("t1", "CP", "transaction_stopped", {
        "transaction_id": 7, "connector_id": 1, "meter_start": 0, "meter_stop": 10,
        "energy_wh": 10, "reason": None, "stopped_at": "2026-11-22T12:00:00.000Z"}, AT)
    records.event("t1", "CP", "command_completed", {
        "command_id": "c1", "action": "Reset", "status": "completed",
        "response": {"status": "Accepted"}, "error": None}, AT)
    records.connection("t1", "CP", ConnectionStatus.DISCONNECTED, AT)


def test_an_invocations_records_go_out_in_one_envelope_in_order(records, queue):
    a_session(records)
    records.flush()

    assert len(queue.sent) == 1 and len(queue.sent[0]) == 1
    envelope = queue.sent[0][0]
    assert [r["type"] for r in envelope["records"]] == [
        "connection", "boot", "connector_status", "event", "meter_value", "event", "event",
        "connection"]


def test_nothing_is_sent_when_nothing_happened(records, queue):
    records.flush()

    assert queue.sent == []


def test_discarded_records_are_never_sent(records, queue):
    records.heartbeat("t1", "CP", AT)
    records.discard()
    records.flush()

    assert queue.sent == []


def test_records_of_different_charge_points_travel_in_different_envelopes(records, queue):
    records.heartbeat("t1", "CP-A", AT)
    records.heartbeat("t1", "CP-B", AT)
    records.flush()

    assert [e["charge_point_id"] for e in queue.sent[0]] == ["CP-A", "CP-B"]


def test_a_large_invocation_is_split_below_the_sqs_message_size(records, queue):
    big = {"charge_point_id": "CP", "timestamp": AT, "payload": {"x": "y" * 100_000}}
    for _ in range(5):
        records.message("t1", dict(big))
    records.flush()

    envelopes = queue.sent[0]
    assert len(envelopes) > 1
    assert all(len(encode(e)) < 256_000 for e in envelopes)
    assert sum(len(e["records"]) for e in envelopes) == 5


def test_every_event_of_a_session_matches_its_documented_schema(records, queue):
    a_session(records)
    records.flush()
    applier = RecordApplier(MemoryTenantStore(), MemoryDirectory())

    published = applier.events(Tenant("t1", "T"), decode(queue.sent[0][0]))

    assert [e["type"] for _, e in published] == [
        "connected", "boot", "connector_status", "transaction_started", "meter_values",
        "transaction_stopped", "command_completed", "disconnected"]
    for _, event in published:
        validate_event(event)
    topics = {t for t, _ in published}
    assert topics == {"ocpp/status/t1/CP", "ocpp/events/t1/CP/session",
                      "ocpp/events/t1/CP/commands"}


def test_event_ids_are_stable_across_redeliveries(records, queue):
    a_session(records)
    records.flush()
    applier = RecordApplier(MemoryTenantStore(), MemoryDirectory())
    envelope = queue.sent[0][0]

    first = applier.events(Tenant("t1", "T"), decode(envelope))
    again = applier.events(Tenant("t1", "T"), decode(json.loads(json.dumps(envelope))))

    assert first == again


def test_the_tenants_topic_prefix_applies(records, queue):
    records.connection("t1", "CP", ConnectionStatus.CONNECTED, AT)
    records.flush()
    applier = RecordApplier(MemoryTenantStore(), MemoryDirectory())

    [(topic, _)] = applier.events(Tenant("t1", "T", mqtt_topic_prefix="fleet/eu"),
                                  decode(queue.sent[0][0]))

    assert topic == "fleet/eu/status/t1/CP"


def envelope_of(*records: dict) -> dict:
    return {"id": "e", "tenant_id": "t", "charge_point_id": "CP", "records": list(records)}


@pytest.mark.parametrize("envelope", [
    "not an object",
    {"id": "e", "tenant_id": "t"},
    envelope_of({"type": "mystery", "at": "2026-01-01T00:00:00Z"}),
    envelope_of({"type": "heartbeat", "at": "yesterday"}),
    envelope_of({"type": "event", "at": "2026-01-01T00:00:00Z", "data": {"kind": "surprise"}}),
])
def test_an_envelope_that_can_never_be_stored_is_poison(envelope):
    with pytest.raises(PoisonRecord):
        decode(envelope)


def test_a_stored_envelope_stored_again_adds_nothing(records, queue):
    records.message("t1", {"charge_point_id": "CP", "timestamp": AT, "message_id": "m1"})
    records.meter_values("t1", [MeterValue("CP", 1, AT, [{"value": "10"}], 7)])
    records.flush()
    store = MemoryTenantStore()
    applier = RecordApplier(store, MemoryDirectory())
    tenant = Tenant("t1", "T")

    applier.store(tenant, [decode(queue.sent[0][0])])
    applier.store(tenant, [decode(queue.sent[0][0])])

    assert len(store.for_tenant("t1").messages.entries) == 1
    assert len(store.for_tenant("t1").meter_values.values) == 1


def test_a_heartbeat_is_stored_to_the_second(records, queue):
    records.heartbeat("t1", "CP", AT.replace(microsecond=750_000))
    records.flush()

    (change,) = decode(queue.sent[0][0]).changes

    assert change.at == AT



class KeepingQueue:
    def __init__(self) -> None:
        self.sent: list = []

    def send(self, envelopes):
        self.sent.extend(envelopes)


def test_an_envelope_is_sent_as_the_json_its_fields_and_records_encode_to():
    queue = KeepingQueue()
    records = BufferedRecords(queue, new_id=lambda: "env-\u00e9")
    # Odd text and times, as chargers' frames bring them.
    records.message("t1", {"charge_point_id": "CP \u00e9\ud800", "timestamp": AT,
                           "payload": {"quote": '"', "n": 1.5, "at": AT}})
    records.heartbeat("t1", "CP \u00e9\ud800", AT)

    records.flush()

    (envelope,) = queue.sent
    assert encode(envelope) == encode(dict(envelope))  # a plain copy is encoded afresh
