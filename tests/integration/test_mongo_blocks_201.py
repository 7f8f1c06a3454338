"""The OCPP 2.0.1 block stores against a real MongoDB-wire server: local lists, display
messages, diagnostics (customer information assembled whatever the order of its parts),
data transfer handlers and firmware updates."""

from datetime import UTC, datetime, timedelta

import pytest
from csms.domain.data_transfer import HandlerMode, VendorHandler
from csms.domain.model import AuthorizationStatus, IdTag

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


@pytest.fixture
def tenant(data):
    return data


def entry(token: str, status: str | None = "Accepted") -> dict:
    data: dict = {"id_token": token, "id_token_type": "Central"}
    if status:
        data["status"] = status
    return data


def test_a_local_list_takes_full_then_differential_updates(tenant):
    lists = tenant.local_lists
    lists.apply("CP", 1, True, [entry("A.1"), entry("$B")], T0)
    lists.apply("CP", 2, False, [entry("A.1", None), entry("C", "Blocked")], T0)
    lists.reported("CP", 2, T0)
    found = lists.get("CP")
    assert (found.version, found.reported_version, found.in_sync) == (2, 2, True)
    assert sorted(found.entries) == ["Central|$B", "Central|C"]
    assert [(f.charge_point_id, f.entries) for f in lists.all(10, 0)] == [("CP", {})]
    tenant.id_tags.put(IdTag("T", AuthorizationStatus.ACCEPTED, id_token_type="eMAID"))
    assert [t.id_token_type for t in lists.tenant_id_tags()] == ["eMAID"]


def test_display_messages_are_replaced_and_a_report_drops_the_unlisted(tenant):
    messages = tenant.display_messages
    for i in (1, 2):
        messages.put("CP", {"id": i, "priority": "NormalCycle",
                            "message": {"format": "ASCII", "content": str(i)}}, T0, "set")
    messages.put("CP", {"id": 2, "priority": "InFront",
                        "message": {"format": "ASCII", "content": "2!"}}, T0, "reported", 9)
    assert messages.keep_only("CP", 9) == 1
    [kept] = messages.of("CP")
    assert (kept.message_id, kept.source, kept.message["priority"]) == (2, "reported", "InFront")
    assert messages.remove("CP", 2) and not messages.remove("CP", 2)


def test_customer_information_is_assembled_once_whatever_the_order(tenant):
    diagnostics = tenant.diagnostics
    diagnostics.customer_information_requested("CP", {"requestId": 4, "report": True,
                                                      "clear": False}, T0)
    assert diagnostics.customer_information_part("CP", 4, 2, "c", True, T0) is None
    assert diagnostics.customer_information_part("CP", 4, 0, "a", False, T0) is None
    whole = diagnostics.customer_information_part("CP", 4, 1, "b", False, T0)
    assert whole is not None and whole["data"] == "abc"
    # A retried part changes nothing and announces nothing again.
    assert diagnostics.customer_information_part("CP", 4, 1, "b", False, T0) is None
    assert diagnostics.customer_information("CP", 4)["complete"] is True


def test_log_statuses_follow_their_request(tenant):
    diagnostics = tenant.diagnostics
    diagnostics.log_requested("CP", {"requestId": 1, "logType": "SecurityLog",
                                     "log": {"remoteLocation": "https://x"}},
                              {"status": "Accepted"}, T0)
    diagnostics.log_requested("CP", {"requestId": 2, "logType": "DiagnosticsLog",
                                     "log": {"remoteLocation": "https://y"}},
                              {"status": "Accepted"}, T0 + timedelta(minutes=1))
    assert diagnostics.log_status("CP", 1, "Uploaded", T0)["log_type"] == "SecurityLog"
    assert diagnostics.log_status("CP", None, "Idle", T0)["request_id"] == 2  # the latest
    assert diagnostics.log_status("CP", 99, "Uploaded", T0) is None
    assert [log["status"] for log in diagnostics.logs("CP", 10, 0)] == ["Idle", "Uploaded"]


def test_vendor_handlers_and_firmware_updates(tenant):
    transfers = tenant.data_transfers
    transfers.put_handler(VendorHandler("com.acme", HandlerMode.FORWARD, "https://h",
                                        2.0, "s" * 16, ("A",)))
    found = transfers.handler("com.acme")
    assert (found.mode, found.message_ids, found.knows("A"), found.knows("B")) == (
        HandlerMode.FORWARD, ("A",), True, False)
    assert transfers.delete_handler("com.acme") and transfers.handler("com.acme") is None

    firmware = tenant.firmware
    firmware.update_requested("CP", {"request_id": 5, "location": "https://fw",
                                     "retrieve_at": "x", "install_at": None,
                                     "signed": True}, T0)
    assert firmware.update_status("CP", "Downloading", 5, T0)["status"] == "Downloading"
    assert firmware.update_status("CP", "Installed", 6, T0) is None  # another update
    state = firmware.of("CP")
    assert [h["status"] for h in state["update"]["history"]] == ["Downloading"]
    assert state["last_status"]["status"] == "Installed"
    assert [firmware.next_request_id() for _ in range(2)] == [1, 2]
