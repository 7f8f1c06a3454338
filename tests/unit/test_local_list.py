"""The local list's pure parts: entries from id tags, updates applied, differentials, and
SendLocalList split to LocalAuthListCtrlr.ItemsPerMessage and BytesPerMessage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from csms.domain.device_model import VariableAttribute, VariableKey
from csms.domain.local_list import (
    LocalList,
    applied,
    authorization_data,
    desired_entries,
    difference,
    next_version,
)
from csms.domain.model import AuthorizationStatus, IdTag
from csms.versions.v201.command_effects import SPLITTINGS

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def entry(token: str, status: str | None = "Accepted") -> dict:
    data: dict = {"idToken": {"idToken": token, "type": "ISO14443"}}
    if status is not None:
        data["idTokenInfo"] = {"status": status}
    return data


def test_an_expired_tag_is_listed_expired_with_its_group_and_type():
    tag = IdTag("T1", AuthorizationStatus.ACCEPTED, NOW - timedelta(days=1),
                id_token_type="eMAID", group_id_token="G1")
    data = authorization_data(tag, NOW)
    assert data["idToken"] == {"idToken": "T1", "type": "eMAID"}
    assert data["idTokenInfo"]["status"] == "Expired"
    assert data["idTokenInfo"]["groupIdToken"] == {"idToken": "G1", "type": "Central"}
    assert authorization_data(IdTag("T2", AuthorizationStatus.BLOCKED), NOW)["idToken"][
        "type"] == "ISO14443"


def test_full_replaces_and_differential_adds_changes_and_removes():
    known = desired_entries([IdTag("A", AuthorizationStatus.ACCEPTED),
                             IdTag("B", AuthorizationStatus.ACCEPTED)], NOW)
    assert list(applied(known, True, [entry("C")])) == ["ISO14443|C"]
    changed = applied(known, False, [entry("A", "Blocked"), entry("B", None), entry("C")])
    assert {k: v["idTokenInfo"]["status"] for k, v in changed.items()} == {
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
               "localAuthorizationList": [entry(str(i)) for i in range(5)]}
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
               "localAuthorizationList": [entry(str(i)) for i in range(3)]}

    def lookup(key: VariableKey):
        if (key.component, key.variable, key.variable_instance) == (
                "DeviceModelCtrlr", "ItemsPerMessage", "SendLocalList"):
            return VariableAttribute(key, NOW, "Actual", "2")
        return None

    assert [len(p["localAuthorizationList"]) for p in split(payload, lookup)] == [2, 1]
