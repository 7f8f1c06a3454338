"""Every charger-initiated OCPP 1.6 message gets its spec reply and leaves its trace."""

from datetime import timedelta

from csms.domain.model import AuthorizationStatus, IdTag, TransactionStatus

from .conftest import CP, NOW

START = {"connectorId": 1, "idTag": "TAG", "meterStart": 1000,
         "timestamp": "2026-11-22T11:00:00.000Z"}


def accept(world, tag="TAG", **kw):
    world.tenant.id_tags.put(IdTag(tag, AuthorizationStatus.ACCEPTED, **kw))


def test_boot_notification_is_accepted_with_the_heartbeat_interval(world):
    reply = world.call("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M",
                                            "firmwareVersion": "1.2"})
    assert reply == [3, "m1", {"status": "Accepted", "currentTime": "2026-11-22T12:00:00.000Z",
                               "interval": 300}]
    boot = world.tenant.charge_points.state[CP]["boot"]
    assert boot.charge_point_vendor == "V" and boot.details == {"firmwareVersion": "1.2"}


def test_heartbeat_returns_current_time_and_records_it(world):
    assert world.call("Heartbeat", {})[2] == {"currentTime": "2026-11-22T12:00:00.000Z"}
    assert world.tenant.charge_points.state[CP]["last_heartbeat"] == NOW


def test_status_notification_records_the_connector_status(world):
    reply = world.call("StatusNotification", {"connectorId": 2, "errorCode": "NoError",
                                              "status": "Charging"})
    assert reply == [3, "m1", {}]
    status = world.tenant.charge_points.state[CP]["connectors"][2]["status"]
    assert (status.status, status.error_code) == ("Charging", "NoError")


def test_an_older_status_does_not_overwrite_a_newer_one(world):
    world.call("StatusNotification", {"connectorId": 1, "errorCode": "NoError",
                                      "status": "Charging", "timestamp": "2026-11-22T11:00:00Z"},
               "a")
    world.call("StatusNotification", {"connectorId": 1, "errorCode": "NoError",
                                      "status": "Available", "timestamp": "2026-11-22T10:00:00Z"},
               "b")
    assert world.tenant.charge_points.state[CP]["connectors"][1]["status"].status == "Charging"


def test_authorize_accepts_a_known_tag(world):
    accept(world)
    assert world.call("Authorize", {"idTag": "TAG"})[2] == {"idTagInfo": {"status": "Accepted"}}


def test_authorize_reports_a_blocked_tag(world):
    world.tenant.id_tags.put(IdTag("TAG", AuthorizationStatus.BLOCKED))
    assert world.call("Authorize", {"idTag": "TAG"})[2]["idTagInfo"]["status"] == "Blocked"


def test_authorize_reports_an_expired_tag_with_its_expiry(world):
    accept(world, expiry_date=NOW - timedelta(days=1))
    info = world.call("Authorize", {"idTag": "TAG"})[2]["idTagInfo"]
    assert info == {"status": "Expired", "expiryDate": "2026-11-21T12:00:00.000Z"}


def test_authorize_reports_an_unknown_tag_as_invalid(world):
    assert world.call("Authorize", {"idTag": "NOPE"})[2]["idTagInfo"]["status"] == "Invalid"


def test_authorize_returns_the_parent_id_tag(world):
    accept(world, parent_id_tag="FLEET")
    assert world.call("Authorize", {"idTag": "TAG"})[2]["idTagInfo"]["parentIdTag"] == "FLEET"


def test_start_transaction_creates_a_transaction_and_returns_its_id(world):
    accept(world)
    reply = world.call("StartTransaction", START)
    assert reply[2] == {"transactionId": 1, "idTagInfo": {"status": "Accepted"}}
    transaction = world.tenant.transactions.get(1)
    assert (transaction.meter_start, transaction.status) == (1000, TransactionStatus.ACTIVE)
    assert world.tenant.charge_points.state[CP]["connectors"][1]["transaction_id"] == 1


def test_a_retried_start_transaction_with_a_new_message_id_creates_no_second_one(world):
    accept(world)
    first = world.call("StartTransaction", START, "m1")
    second = world.call("StartTransaction", START, "m2")
    assert first[2]["transactionId"] == second[2]["transactionId"]
    assert len(world.tenant.transactions.by_id) == 1


def test_a_tag_already_charging_at_another_connector_is_accepted_by_default(world):
    # ConcurrentTx is a tenant's choice (test_stale_transactions.py), off by default.
    accept(world)
    world.call("StartTransaction", START, "m1")
    other = dict(START, connectorId=2, timestamp="2026-11-22T11:30:00Z")
    assert world.call("StartTransaction", other, "m2")[2]["idTagInfo"]["status"] == "Accepted"


def test_start_with_an_unknown_tag_still_gets_a_transaction_id_and_invalid(world):
    reply = world.call("StartTransaction", START)
    assert reply[2]["idTagInfo"]["status"] == "Invalid"
    assert isinstance(reply[2]["transactionId"], int)


def test_stop_transaction_stores_meter_stop_reason_and_energy(world):
    accept(world)
    transaction_id = world.call("StartTransaction", START, "m1")[2]["transactionId"]
    reply = world.call("StopTransaction", {
        "transactionId": transaction_id, "meterStop": 8500, "idTag": "TAG",
        "timestamp": "2026-11-22T11:45:00Z", "reason": "EVDisconnected",
        "transactionData": [{"timestamp": "2026-11-22T11:30:00Z",
                             "sampledValue": [{"value": "4000"}]}],
    }, "m2")
    assert reply[2] == {"idTagInfo": {"status": "Accepted"}}
    transaction = world.tenant.transactions.get(transaction_id)
    assert transaction.energy_wh == 7500
    assert (transaction.status, transaction.stop_reason) == (TransactionStatus.COMPLETED,
                                                             "EVDisconnected")
    assert [v.transaction_id for v in world.tenant.meter_values.values] == [transaction_id]
    assert world.tenant.charge_points.state[CP]["connectors"][1]["transaction_id"] is None


def test_stop_without_id_tag_answers_an_empty_payload(world):
    accept(world)
    transaction_id = world.call("StartTransaction", START, "m1")[2]["transactionId"]
    reply = world.call("StopTransaction", {"transactionId": transaction_id, "meterStop": 1000,
                                           "timestamp": "2026-11-22T11:45:00Z"}, "m2")
    assert reply == [3, "m2", {}]
    assert world.tenant.transactions.get(transaction_id).stop_reason == "Local"


def test_stop_of_an_unknown_transaction_is_still_answered(world):
    reply = world.call("StopTransaction", {"transactionId": 99, "meterStop": 1,
                                           "timestamp": "2026-11-22T11:45:00Z"})
    assert reply == [3, "m1", {}]


def test_meter_values_are_stored_per_sample_time(world):
    reply = world.call("MeterValues", {"connectorId": 1, "transactionId": 5, "meterValue": [
        {"timestamp": "2026-11-22T11:00:00Z", "sampledValue": [{"value": "10"}]},
        {"timestamp": "2026-11-22T11:01:00Z", "sampledValue": [{"value": "20"}]},
    ]})
    assert reply == [3, "m1", {}]
    assert [v.sampled_values[0]["value"] for v in world.tenant.meter_values.values] == ["10", "20"]


def test_data_transfer_to_an_unknown_vendor_is_unknown_vendor_id(world):
    reply = world.call("DataTransfer", {"vendorId": "com.example", "data": "x"})
    assert reply[2] == {"status": "UnknownVendorId"}


def test_sign_certificate_is_accepted_and_the_csr_kept_or_rejected_when_bad(world):
    from tests.unit.test_certificates import csr_pem

    assert world.call("SignCertificate", {"csr": csr_pem(CP)})[2] == {"status": "Accepted"}
    assert world.tenant.charge_points.notifications[0][1] == "certificate_signing_request"
    assert world.call("SignCertificate", {"csr": "-----BEGIN CSR-----"}, "b")[2] == {
        "status": "Rejected"}
    assert world.tenant.charge_points.notifications[1][1] == "certificate_signing_rejected"


def test_status_notifications_of_firmware_diagnostics_logs_and_security_are_recorded(world):
    world.call("FirmwareStatusNotification", {"status": "Downloading"}, "a")
    world.call("DiagnosticsStatusNotification", {"status": "Uploaded"}, "b")
    world.call("LogStatusNotification", {"status": "Uploading", "requestId": 3}, "c")
    world.call("SignedFirmwareStatusNotification", {"status": "Installed", "requestId": 4}, "d")
    reply = world.call("SecurityEventNotification", {"type": "FirmwareUpdated",
                                                      "timestamp": "2026-11-22T11:00:00Z"}, "e")
    assert reply == [3, "e", {}]
    kinds = [kind for _, kind, _ in world.tenant.charge_points.notifications]
    assert kinds == ["firmware_status", "diagnostics_status", "log_status", "firmware_status",
                     "security_event"]
