"""OCPP 2.0.1 charger-initiated messages through the message service, in memory."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from csms.domain.commands import Command, CommandStatus
from csms.domain.model import (
    AuthorizationStatus,
    ConcurrentTransactions,
    ConnectionInfo,
    IdTag,
    RegisteredChargePoint,
    Tenant,
)
from csms.protocol.timestamps import format_timestamp
from csms.versions import CentralSystemParts, v16, v201

from .conftest import CP, NOW, TENANT, World

CONNECTION = "conn-201"


@pytest.fixture
def w201(world: World) -> World:
    """The world with a 2.0.1 router beside 1.6's, and CP connected over 2.0.1."""
    parts = CentralSystemParts(
        charging=world.messages._routers[v16.SUBPROTOCOL]._handlers[  # type: ignore[attr-defined]
            "Heartbeat"
        ].__self__._charging,
        directory=world.directory,
        clock=world.clock,
        heartbeat_interval=300,
        store=world.store,
        records=world.records,
    )
    world.messages._routers[v201.SUBPROTOCOL] = v201.plugin().router(parts)  # type: ignore[index]
    world.directory.create_tenant(Tenant(TENANT, TENANT))
    world.directory.add_charge_point(RegisteredChargePoint(CP, TENANT, "x"))
    world.registry.register(ConnectionInfo(CONNECTION, CP, TENANT, v201.SUBPROTOCOL, NOW))
    return world


_ids = iter(range(1, 100000))


def call(w: World, action: str, payload: dict) -> list:
    return w.send([2, f"u{next(_ids)}", action, payload], CONNECTION)


def boot(w: World) -> list:
    return call(w, "BootNotification", {"reason": "PowerUp",
                                        "chargingStation": {"model": "M", "vendorName": "V"}})


def ts(seconds: float = 0) -> str:
    return format_timestamp(NOW + timedelta(seconds=seconds))


def tx_event(event_type: str, seq_no: int, tx: str = "TX-1", seconds: float = 0, **extra) -> dict:
    payload = {"eventType": event_type, "timestamp": ts(seconds), "triggerReason": "Authorized",
               "seqNo": seq_no, "transactionInfo": {"transactionId": tx}}
    payload.update(extra)
    return payload


def energy(wh: float, seconds: float = 0) -> list:
    return [{"timestamp": ts(seconds), "sampledValue": [
        {"value": wh, "measurand": "Energy.Active.Import.Register"}]}]


def set_status(w: World, status: str) -> None:
    w.directory.update_charge_point(CP, {"registration_status": status})


def test_boot_answers_the_registration_status(w201):
    assert boot(w201)[2] == {"currentTime": ts(), "interval": 300, "status": "Accepted"}
    set_status(w201, "Pending")
    reply = boot(w201)[2]
    assert (reply["status"], reply["interval"]) == ("Pending", 60)
    set_status(w201, "Rejected")
    assert boot(w201)[2]["status"] == "Rejected"


def test_pending_charger_gets_security_error_but_may_report(w201):
    set_status(w201, "Pending")
    reply = call(w201, "Heartbeat", {})
    assert reply[0] == 4 and reply[2] == "SecurityError"
    report = call(w201, "NotifyReport", {"requestId": 1, "generatedAt": ts(), "seqNo": 0})
    assert report[0] == 3


def test_an_operators_accepted_counts_from_the_chargers_next_boot(w201):
    set_status(w201, "Pending")
    boot(w201)
    set_status(w201, "Accepted")
    assert call(w201, "Heartbeat", {})[2] == "SecurityError"  # still Pending until it boots
    assert boot(w201)[2]["status"] == "Accepted"
    assert call(w201, "Heartbeat", {})[0] == 3


def test_an_accepted_charger_stays_accepted_until_it_boots_again(w201):
    boot(w201)
    set_status(w201, "Pending")
    assert call(w201, "Heartbeat", {})[0] == 3
    assert boot(w201)[2]["status"] == "Pending"
    assert call(w201, "Heartbeat", {})[2] == "SecurityError"


def test_notify_report_parts_build_the_device_model(w201):
    def part(seq_no: int, name: str, value: str, tbc: bool) -> dict:
        return {"requestId": 7, "generatedAt": ts(), "seqNo": seq_no, "tbc": tbc,
                "reportData": [{"component": {"name": "OCPPCommCtrlr"},
                                "variable": {"name": name},
                                "variableAttribute": [{"value": value}],
                                "variableCharacteristics": {"dataType": "integer",
                                                            "supportsMonitoring": False}}]}
    assert call(w201, "NotifyReport", part(0, "HeartbeatInterval", "300", True))[0] == 3
    assert call(w201, "NotifyReport", part(1, "RetryBackOffWaitMinimum", "5", False))[0] == 3
    stored = {(a.key.variable, a.value) for a in w201.tenant.device_model.of(CP)}
    assert stored == {("HeartbeatInterval", "300"), ("RetryBackOffWaitMinimum", "5")}


def test_authorize_typed_tokens_groups_and_master_pass(w201):
    tags = w201.tenant.id_tags
    tags.put(IdTag("RFID1", AuthorizationStatus.ACCEPTED, NOW + timedelta(days=1),
                   id_token_type="ISO14443", group_id_token="FAMILY"))
    tags.put(IdTag("MASTER", AuthorizationStatus.ACCEPTED, group_id_token="MASTERS"))
    w201.directory.update_tenant(TENANT, {"master_pass_group_id": "MASTERS"})
    info = call(w201, "Authorize", {"idToken": {"idToken": "RFID1", "type": "ISO14443"}})[2]
    assert info["idTokenInfo"] == {"status": "Accepted",
                                   "cacheExpiryDateTime": ts(86400),
                                   "groupIdToken": {"idToken": "FAMILY", "type": "Central"}}
    wrong_type = call(w201, "Authorize", {"idToken": {"idToken": "RFID1", "type": "eMAID"}})
    assert wrong_type[2]["idTokenInfo"]["status"] == "Invalid"
    free = call(w201, "Authorize", {"idToken": {"idToken": "", "type": "NoAuthorization"}})
    assert free[2]["idTokenInfo"]["status"] == "Accepted"
    # A master pass never starts a transaction ...
    start = call(w201, "TransactionEvent", tx_event(
        "Started", 0, "TX-M", idToken={"idToken": "MASTER", "type": "Central"},
        evse={"id": 1, "connectorId": 1}))
    assert start[2]["idTokenInfo"]["status"] == "Invalid"
    # ... but stops anyone's.
    call(w201, "TransactionEvent", tx_event(
        "Started", 0, "TX-A", idToken={"idToken": "RFID1", "type": "ISO14443"},
        evse={"id": 2, "connectorId": 1}))
    stop = call(w201, "TransactionEvent", tx_event(
        "Ended", 1, "TX-A", seconds=60, idToken={"idToken": "MASTER", "type": "Central"}))
    assert stop[2]["idTokenInfo"]["status"] == "Accepted"


def test_a_transaction_from_its_events_retried_and_out_of_order(w201):
    evse = {"id": 1, "connectorId": 1}
    call(w201, "TransactionEvent", tx_event(
        "Updated", 1, seconds=30, meterValue=energy(1500, 30),
        transactionInfo={"transactionId": "TX-1", "chargingState": "Charging"}))
    call(w201, "TransactionEvent", tx_event("Started", 0, evse=evse, meterValue=energy(1000),
                                            offline=True))
    again = tx_event("Ended", 2, seconds=60, meterValue=energy(4000, 60),
                     transactionInfo={"transactionId": "TX-1", "stoppedReason": "EVDisconnected"})
    call(w201, "TransactionEvent", again)
    call(w201, "TransactionEvent", again)  # retried with a new message id
    t = w201.tenant.charger_transactions.get(CP, "TX-1")
    assert t is not None and not t.active
    assert (t.meter_start, t.meter_stop, t.energy_wh) == (1000, 4000, 3000)
    assert (t.evse_id, t.charging_state, t.stopped_reason, t.offline) == (
        1, "Charging", "EVDisconnected", True)
    assert t.seq_nos == (0, 1, 2)


def test_started_on_a_busy_evse_supersedes_the_old_one(w201):
    evse = {"id": 1, "connectorId": 1}
    call(w201, "TransactionEvent", tx_event("Started", 0, "OLD", evse=evse))
    call(w201, "TransactionEvent", tx_event("Started", 0, "NEW", seconds=10, evse=evse))
    old = w201.tenant.charger_transactions.get(CP, "OLD")
    assert old is not None and old.stopped_reason == "Superseded"
    assert w201.tenant.charger_transactions.get(CP, "NEW").active


def test_concurrent_token_is_refused_when_the_tenant_says_so(w201):
    w201.tenant.id_tags.put(IdTag("T1", AuthorizationStatus.ACCEPTED))
    w201.directory.update_tenant(
        TENANT, {"concurrent_transactions": ConcurrentTransactions.REJECT})
    token = {"idToken": "T1", "type": "Central"}
    w201.registry.register(ConnectionInfo("conn-other", "CP-2", TENANT, v201.SUBPROTOCOL, NOW))
    w201.directory.add_charge_point(RegisteredChargePoint("CP-2", TENANT, "x"))
    first = w201.send([2, "o1", "TransactionEvent", tx_event("Started", 0, "A", idToken=token)],
                      "conn-other")
    assert first[2]["idTokenInfo"]["status"] == "Accepted"
    second = call(w201, "TransactionEvent", tx_event("Started", 0, "B", idToken=token))
    assert second[2]["idTokenInfo"]["status"] == "ConcurrentTx"


def test_remote_start_id_is_linked_to_its_command(w201):
    command = Command("cmd-x", CP, "RequestStartTransaction",
                      {"remoteStartId": 42, "idToken": {"idToken": "A", "type": "Central"}},
                      CommandStatus.COMPLETED, NOW, NOW, ocpp_version="ocpp2.0.1")
    w201.tenant.commands.insert(command)
    call(w201, "TransactionEvent", tx_event(
        "Started", 0, "TX-R", transactionInfo={"transactionId": "TX-R", "remoteStartId": 42}))
    assert w201.tenant.commands.transactions["cmd-x"] == "TX-R"


@pytest.mark.parametrize(("action", "payload", "answer"), [
    ("DataTransfer", {"vendorId": "acme"}, {"status": "UnknownVendorId"}),
    # Not a CSR: Rejected (and noted); tests/unit/test_certificates.py signs real ones.
    ("SignCertificate", {"csr": "CSR"}, {"status": "Rejected", "statusInfo": {
        "reasonCode": "InvalidCSR",
        "additionalInfo": "the CSR is not a PEM encoded PKCS#10 request"}}),
    ("SecurityEventNotification", {"type": "X", "timestamp": "2026-01-01T00:00:00Z"}, {}),
    ("GetCertificateStatus", {"ocspRequestData": {
        "hashAlgorithm": "SHA256", "issuerNameHash": "a", "issuerKeyHash": "b",
        "serialNumber": "c", "responderURL": "http://x"}}, None),
    ("NotifyEVChargingSchedule", {"timeBase": "2026-01-01T00:00:00Z", "evseId": 1,
                                  "chargingSchedule": {"id": 1, "chargingRateUnit": "W",
                                                       "chargingSchedulePeriod": [
                                                           {"startPeriod": 0, "limit": 1.0}]}},
     {"status": "Accepted"}),
])
def test_other_messages_are_stored_and_acknowledged(w201, action, payload, answer):
    reply = call(w201, action, payload)
    assert reply[0] == 3
    if answer is not None:
        assert reply[2] == answer
    else:
        assert reply[2]["status"] == "Failed"
    assert w201.tenant.charge_points.notifications


@pytest.mark.parametrize(("frame", "code"), [
    ("not json", "RpcFrameworkError"),
    ('[7, "x", "Heartbeat", {}]', "MessageTypeNotSupported"),
    ('[2, "x", "Heartbeat", {"extra": 1}]', "FormatViolation"),
    ('[2, "x", "Authorize", {}]', "OccurrenceConstraintViolation"),
    ('[2, "x", "Authorize", {"idToken": {"idToken": 5, "type": "Central"}}]',
     "TypeConstraintViolation"),
    ('[2, "x", "Authorize", {"idToken": {"idToken": "a", "type": "Nope"}}]',
     "PropertyConstraintViolation"),
    ('[2, "x", "Frobnicate", {}]', "NotImplemented"),
    ('[2, "x", "Reset", {"type": "Immediate"}]', "NotSupported"),
])
def test_call_errors_use_2_0_1_codes(w201, frame, code):
    reply = w201.send(frame, CONNECTION)
    assert reply[0] == 4 and reply[2] == code, reply


def test_an_internal_failure_is_an_internal_error(w201, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")
    monkeypatch.setattr(w201.tenant.device_model, "put", broken)
    reply = call(w201, "NotifyReport", {"requestId": 1, "generatedAt": ts(), "seqNo": 0})
    assert reply[0] == 4 and reply[2] == "InternalError"


def test_1_6_is_unchanged_beside_2_0_1(w201):
    reply = w201.send(json.dumps([2, "b16", "BootNotification", {
        "chargePointVendor": "V", "chargePointModel": "M"}]))
    assert reply[2]["status"] == "Accepted"
