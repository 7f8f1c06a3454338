"""The local list's pure parts: entries from id tags, updates applied, differentials, and
SendLocalList split to LocalAuthListCtrlr.ItemsPerMessage and BytesPerMessage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from csms.domain.device_model import VariableAttribute, VariableKey
from csms.domain.local_list import (
    LocalList,
    applied,
    desired_entries,
    difference,
    list_entry,
    next_version,
)
from csms.domain.model import AuthorizationStatus, IdTag
from csms.versions.v201 import requests as v201_requests
from csms.versions.v201.command_effects import SPLITTINGS

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def entry(token: str, status: str | None = "Accepted") -> dict:
    data: dict = {"id_token": token, "id_token_type": "ISO14443"}
    if status is not None:
        data["status"] = status
    return data


def wire(token: str, status: str | None = "Accepted") -> dict:
    """The same entry as 2.0.1 AuthorizationData."""
    data: dict = {"idToken": {"idToken": token, "type": "ISO14443"}}
    if status is not None:
        data["idTokenInfo"] = {"status": status}
    return data


def test_an_expired_tag_is_listed_expired_with_its_group_and_type():
    tag = IdTag("T1", AuthorizationStatus.ACCEPTED, NOW - timedelta(days=1),
                id_token_type="eMAID", group_id_token="G1")
    assert list_entry(tag, NOW) == {"id_token": "T1", "id_token_type": "eMAID",
                                    "status": "Expired", "expires_at": "2025-12-31T00:00:00Z",
                                    "group_id_token": "G1"}


def test_a_tag_without_a_type_is_listed_as_an_rfid_card():
    assert list_entry(IdTag("T2", AuthorizationStatus.BLOCKED), NOW)["id_token_type"] == "ISO14443"


def test_201_words_an_entry_as_authorization_data_and_reads_it_back():
    tag = IdTag("T1", AuthorizationStatus.ACCEPTED, NOW + timedelta(days=1), group_id_token="G1")
    listed = list_entry(tag, NOW)
    data = v201_requests.authorization_data(listed)
    assert data == {"idToken": {"idToken": "T1", "type": "ISO14443"}, "idTokenInfo": {
        "status": "Accepted", "cacheExpiryDateTime": "2026-01-02T00:00:00Z",
        "groupIdToken": {"idToken": "G1", "type": "Central"}}}
    assert v201_requests.list_entry(data) == listed


def test_201_words_a_removal_as_the_id_token_alone():
    assert v201_requests.authorization_data(entry("B", None)) == wire("B", None)


def test_full_replaces_and_differential_adds_changes_and_removes():
    known = desired_entries([IdTag("A", AuthorizationStatus.ACCEPTED),
                             IdTag("B", AuthorizationStatus.ACCEPTED)], NOW)
    assert list(applied(known, True, [entry("C")])) == ["ISO14443|C"]
    changed = applied(known, False, [entry("A", "Blocked"), entry("B", None), entry("C")])
    assert {k: v["status"] for k, v in changed.items()} == {
        "ISO14443|A": "Blocked", "ISO14443|C": "Accepted"}


def test_the_difference_names_what_changed_and_what_went():
    known = {"ISO14443|A": entry("A"), "ISO14443|B": entry("B")}
    desired = {"ISO14443|A": entry("A", "Blocked"), "ISO14443|C": entry("C")}
    assert difference(known, desired) == [entry("A", "Blocked"), entry("C"), entry("B", None)]
    assert difference(known, known) == []


def test_the_next_version_passes_what_the_charger_reported():
    assert next_version(None) == 1
    assert next_version(LocalList("CP", version=3)) == 4
    assert next_version(LocalList("CP", version=3, reported_version=9)) == 10


def lookup_of(**values: str):
    def lookup(key: VariableKey):
        value = values.get(key.variable) if key.component == "LocalAuthListCtrlr" else None
        return None if value is None else VariableAttribute(key, NOW, "Actual", value)
    return lookup


def test_send_local_list_goes_out_in_parts_with_rising_versions():
    split = SPLITTINGS["SendLocalList"].split
    payload = {"versionNumber": 5, "updateType": "Full",
               "localAuthorizationList": [wire(str(i)) for i in range(5)]}
    parts = split(payload, lookup_of(ItemsPerMessage="2"))
    assert [(p["versionNumber"], p["updateType"], len(p["localAuthorizationList"]))
            for p in parts] == [(5, "Full", 2), (6, "Differential", 2), (7, "Differential", 1)]
    assert split(payload, lookup_of()) == [payload]
    by_bytes = split(payload, lookup_of(BytesPerMessage="200"))
    assert len(by_bytes) > 1
    assert sum(len(p["localAuthorizationList"]) for p in by_bytes) == 5
    merge = SPLITTINGS["SendLocalList"].merge
    assert merge([{"status": "Accepted"}, {"status": "Failed"}]) == {"status": "Failed"}


def test_items_per_message_may_be_reported_the_device_model_way():
    split = SPLITTINGS["SendLocalList"].split
    payload = {"versionNumber": 1, "updateType": "Full",
               "localAuthorizationList": [wire(str(i)) for i in range(3)]}

    def lookup(key: VariableKey):
        if (key.component, key.variable, key.variable_instance) == (
                "DeviceModelCtrlr", "ItemsPerMessage", "SendLocalList"):
            return VariableAttribute(key, NOW, "Actual", "2")
        return None

    assert [len(p["localAuthorizationList"]) for p in split(payload, lookup)] == [2, 1]
