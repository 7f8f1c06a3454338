"""Pure parts of the OCPP 2.0.1 blocks: firmware requests per version, monitors made by
SetVariableMonitoring, report criteria, data transfer endpoints and signatures."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import pytest
from csms.domain.data_transfer import (
    BadEndpoint,
    HandlerMode,
    VendorHandler,
    check_endpoint,
    signature,
)
from csms.domain.firmware import FirmwareImage
from csms.versions.v16 import requests as v16_requests
from csms.versions.v201 import requests as v201_requests
from csms.versions.v201.diagnostics import (
    accepted_monitors,
    asks_for_every_message,
    asks_for_every_monitor,
)

AT = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
SIGNED = FirmwareImage("https://fw/x.bin", AT, signing_certificate="PEM", signature="SIG",
                       retries=2)


def test_a_201_charger_gets_a_signed_image_in_update_firmware():
    action, payload = v201_requests.update_firmware(SIGNED, 9)
    assert action == "UpdateFirmware"
    assert payload == {"requestId": 9, "retries": 2, "firmware": {
        "location": "https://fw/x.bin", "retrieveDateTime": "2026-12-01T03:00:00.000Z",
        "signingCertificate": "PEM", "signature": "SIG"}}
    assert v201_requests.update_summary(payload)["signed"] is True


def test_a_16_charger_gets_a_signed_image_in_the_security_extensions_signed_update():
    action, payload = v16_requests.update_firmware(SIGNED, 9)
    assert action == "SignedUpdateFirmware"
    assert payload == v201_requests.update_firmware(SIGNED, 9)[1]


def test_a_16_charger_gets_an_unsigned_image_in_plain_update_firmware_without_request_id():
    plain = FirmwareImage("ftp://fw/x.bin", AT)
    action, payload = v16_requests.update_firmware(plain, 9)
    assert action == "UpdateFirmware"
    assert payload == {"location": "ftp://fw/x.bin", "retrieveDate": "2026-12-01T03:00:00.000Z"}
    assert v16_requests.update_summary(payload)["request_id"] is None


def test_accepted_monitors_take_the_chargers_ids_and_the_requested_values():
    where = {"component": {"name": "EVSE"}, "variable": {"name": "Power"}}
    request = {"setMonitoringData": [
        {"value": 1.5, "type": "Delta", "severity": 3, **where},
        {"value": 9, "type": "UpperThreshold", "severity": 1, **where}]}
    response = {"setMonitoringResult": [
        {"id": 4, "status": "Accepted", "type": "Delta", "severity": 3, **where},
        {"status": "Rejected", "type": "UpperThreshold", "severity": 1, **where}]}
    assert accepted_monitors(request, response) == [
        {"id": 4, "type": "Delta", "severity": 3, "value": 1.5, "transaction": False, **where}]


def test_only_a_monitoring_report_without_criteria_asks_for_every_monitor():
    assert asks_for_every_monitor({"requestId": 1})
    assert not asks_for_every_monitor({"requestId": 1, "monitoringCriteria": ["DeltaMonitoring"]})


def test_only_a_display_message_request_without_criteria_asks_for_every_message():
    assert asks_for_every_message({"requestId": 1})
    assert not asks_for_every_message({"requestId": 1, "priority": "InFront"})


def test_endpoints_are_https_or_this_machine():
    assert check_endpoint("https://hooks.example.com/dt")
    assert check_endpoint("http://127.0.0.1:8080/dt")
    for bad in ("http://example.com/dt", "ftp://example.com", "https:///nohost", "file:///x"):
        with pytest.raises(BadEndpoint):
            check_endpoint(bad)


def test_the_signature_is_an_hmac_of_the_body_and_message_ids_filter():
    assert signature("k", b"body") == "sha256=" + hmac.new(
        b"k", b"body", hashlib.sha256).hexdigest()
    handler = VendorHandler("v", HandlerMode.STORE, message_ids=("A",))
    assert handler.knows("A") and not handler.knows(None) and not handler.knows("B")
    assert VendorHandler("v", HandlerMode.STORE).knows(None)
