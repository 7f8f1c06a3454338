"""What an accepted command changes in the tenant's records (OCPP 2.0.1 responses), how
GetVariables and SetVariables go out in parts when the charger takes fewer items per
message, and how a new Basic auth password is set (SecurityCtrlr.BasicAuthPassword)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from csms.domain.charging_profiles import ProfileCriteria, Purpose
from csms.domain.device_model import ACTUAL, VariableAttribute, VariableKey
from csms.domain.reservations import EvseReservation, ReservationState
from csms.ports import TenantData
from csms.protocol.timestamps import parse_timestamp
from csms.services.commands import (
    CommandEffect,
    PasswordChange,
    Splitting,
    VariableLookup,
)
from csms.versions.v201.certificates import installed_by_type
from csms.versions.v201.charging_profiles import parse_set_request
from csms.versions.v201.diagnostics import accepted_monitors
from csms.versions.v201.requests import list_entry, update_summary

Payload = dict[str, Any]

# OCPP 2.0.1 part 2, appendix 3 (DeviceModelCtrlr): how many items one GetVariables or
# SetVariables request may carry.
DEVICE_MODEL_CTRLR = "DeviceModelCtrlr"
ITEMS_PER_MESSAGE = "ItemsPerMessage"
# SecurityCtrlr.BasicAuthPassword (WriteOnly): the password of security profiles 1, 2.
SECURITY_CTRLR = "SecurityCtrlr"
BASIC_AUTH_PASSWORD = "BasicAuthPassword"
HIDDEN = "***"
# A SetVariableResult with one of these took the value (RebootRequired: from the reboot).
_VALUE_TAKEN = frozenset({"Accepted", "RebootRequired"})


def key_of(component: Payload, variable: Payload) -> VariableKey:
    """The domain key of a ComponentType and a VariableType."""
    evse = component.get("evse") or {}
    return VariableKey(
        component=component["name"],
        variable=variable["name"],
        component_instance=component.get("instance"),
        evse_id=evse.get("id"),
        connector_id=evse.get("connectorId"),
        variable_instance=variable.get("instance"),
    )


def _is_password(key: VariableKey) -> bool:
    return key.component == SECURITY_CTRLR and key.variable == BASIC_AUTH_PASSWORD


def _known(data: TenantData, cp: str, key: VariableKey, attribute_type: str) -> Any:
    return data.device_model.get(cp, key, attribute_type)


def _store_value(
    data: TenantData, cp: str, key: VariableKey, attribute_type: str, value: str | None
) -> None:
    """The new value of one attribute, keeping what the last report said about it."""
    known = _known(data, cp, key, attribute_type)
    now = datetime.now(UTC)
    if known is None:
        attribute = VariableAttribute(key, now, attribute_type, value)
    else:
        attribute = VariableAttribute(
            key,
            now,
            attribute_type,
            value,
            known.mutability,
            known.persistent,
            known.constant,
            known.characteristics,
        )
    data.device_model.put(cp, [attribute])


def _get_variables(data: TenantData, cp: str, _: Payload, response: Payload) -> None:
    for result in response.get("getVariableResult", []):
        if result.get("attributeStatus") != "Accepted":
            continue
        key = key_of(result["component"], result["variable"])
        if _is_password(key):
            continue  # WriteOnly: a charger that answers anyway is not stored
        attribute_type = result.get("attributeType", ACTUAL)
        _store_value(data, cp, key, attribute_type, result.get("attributeValue"))


def _set_variables(data: TenantData, cp: str, request: Payload, response: Payload) -> None:
    asked = {
        (key_of(item["component"], item["variable"]), item.get("attributeType", ACTUAL)):
            item["attributeValue"]
        for item in request.get("setVariableData", [])
    }
    for result in response.get("setVariableResult", []):
        if result.get("attributeStatus") not in _VALUE_TAKEN:
            continue
        key = key_of(result["component"], result["variable"])
        attribute_type = result.get("attributeType", ACTUAL)
        value = asked.get((key, attribute_type))
        if value is None or _is_password(key):
            continue
        _store_value(data, cp, key, attribute_type, value)


def _recorded(name: str, *fields: str) -> CommandEffect:
    """An effect keeping the request (or some of its fields) on the charge point."""

    def effect(data: TenantData, cp: str, request: Payload, response: Payload) -> None:
        kept = {f: request[f] for f in fields if f in request} if fields else request
        data.charge_points.record_command_effect(cp, name, kept)

    return effect


def _field(name: str, field: str) -> CommandEffect:
    """An effect keeping one field of the request on the charge point."""

    def effect(data: TenantData, cp: str, request: Payload, response: Payload) -> None:
        data.charge_points.record_command_effect(cp, name, request[field])

    return effect


def _change_availability(data: TenantData, cp: str, request: Payload, _: Payload) -> None:
    evse = request.get("evse") or {}
    where = f"{evse.get('id', 0)}" + (
        f".{evse['connectorId']}" if "connectorId" in evse else ""
    )
    data.charge_points.record_command_effect(
        cp, f"availability.{where}", request["operationalStatus"]
    )


def _reset(data: TenantData, cp: str, request: Payload, _: Payload) -> None:
    data.charge_points.record_command_effect(cp, "last_reset", request["type"])


def _request_start(data: TenantData, cp: str, request: Payload, response: Payload) -> None:
    data.charge_points.record_command_effect(
        cp,
        "remote_start",
        {
            "remoteStartId": request["remoteStartId"],
            "idToken": request["idToken"],
            "evseId": request.get("evseId"),
            "transactionId": response.get("transactionId"),
        },
    )


def _request_stop(data: TenantData, cp: str, request: Payload, _: Payload) -> None:
    data.charge_points.record_command_effect(cp, "remote_stop", request["transactionId"])


def _transaction_status(data: TenantData, cp: str, request: Payload, response: Payload) -> None:
    data.charge_points.record_command_effect(
        cp, "transaction_status", {**response, "transactionId": request.get("transactionId")}
    )


def _answer(name: str) -> CommandEffect:
    """An effect keeping the charger's response on the charge point."""

    def effect(data: TenantData, cp: str, request: Payload, response: Payload) -> None:
        data.charge_points.record_command_effect(cp, name, response)

    return effect


def _installed_certificates(data: TenantData, cp: str, request: Payload, response: Payload
                            ) -> None:
    by_type = installed_by_type(request, response)
    if request.get("certificateType"):
        # Only the types asked for were reported: the others stay as last known.
        for certificate_type, certificates in by_type.items():
            data.charge_points.record_command_effect(
                cp, f"installed_certificates.{certificate_type}", certificates
            )
    else:
        data.charge_points.record_command_effect(cp, "installed_certificates", by_type)


# K: what the charger accepted is kept as the profiles it holds (the site limit
# controller's TxProfiles too).


def _set_charging_profile(data: TenantData, cp: str, request: Payload, _: Payload) -> None:
    data.charging_profiles.put(cp, parse_set_request(request), request["chargingProfile"])


def _clear_charging_profile(data: TenantData, cp: str, request: Payload, _: Payload) -> None:
    criteria = request.get("chargingProfileCriteria") or {}
    purpose = criteria.get("chargingProfilePurpose")
    data.charging_profiles.clear(cp, ProfileCriteria(
        profile_id=request.get("chargingProfileId"),
        evse_id=criteria.get("evseId"),
        purpose=Purpose(purpose) if purpose else None,
        stack_level=criteria.get("stackLevel"),
    ))


def _report_requested(data: TenantData, cp: str, request: Payload, _: Payload) -> None:
    # The report itself arrives as NotifyReport messages carrying this requestId.
    data.charge_points.record_command_effect(cp, "report_requested", request)


def _delete_certificate(data: TenantData, cp: str, request: Payload, _: Payload) -> None:
    data.charge_points.record_command_effect(
        cp, "certificate_deleted", request["certificateHashData"]
    )


def _install_certificate(data: TenantData, cp: str, request: Payload, _: Payload) -> None:
    # The certificate itself is public; what is kept is which kind was installed.
    data.charge_points.record_command_effect(
        cp, f"certificate_installed.{request['certificateType']}", request["certificate"]
    )


# D: local authorization list. Each accepted part of a SendLocalList changes the list the
# CSMS keeps of the charger (so a failed later part leaves the earlier ones counted).


def _send_local_list(data: TenantData, cp: str, request: Payload, _: Payload) -> None:
    data.local_lists.apply(
        cp,
        request["versionNumber"],
        request["updateType"] == "Full",
        [list_entry(data) for data in request.get("localAuthorizationList", [])],
        datetime.now(UTC),
    )
    data.charge_points.record_command_effect(cp, "local_list_version", request["versionNumber"])


def _get_local_list_version(data: TenantData, cp: str, _: Payload, response: Payload) -> None:
    data.local_lists.reported(cp, response["versionNumber"], datetime.now(UTC))
    data.charge_points.record_command_effect(cp, "local_list_version", response["versionNumber"])


# H: reservations. ReserveNow accepted makes one (the CSMS ends it at its expiry if the
# charger does not say so first); CancelReservation accepted ends it.


def _reserve_now(data: TenantData, cp: str, request: Payload, _: Payload) -> None:
    group = request.get("groupIdToken")
    data.evse_reservations.put(
        EvseReservation(
            reservation_id=request["id"],
            charge_point_id=cp,
            evse_id=request.get("evseId"),
            id_tag=request["idToken"]["idToken"],
            id_token_type=request["idToken"]["type"],
            expiry_date=parse_timestamp(request["expiryDateTime"]),
            parent_id_tag=None if group is None else group["idToken"],
            connector_type=request.get("connectorType"),
        )
    )


def _cancel_reservation(data: TenantData, cp: str, request: Payload, _: Payload) -> None:
    data.evse_reservations.end(
        cp, request["reservationId"], ReservationState.CANCELLED, datetime.now(UTC)
    )


# O: display messages. What the charger accepted to show is kept until it is cleared or
# a complete report (NotifyDisplayMessages) no longer lists it.


def _set_display_message(data: TenantData, cp: str, request: Payload, _: Payload) -> None:
    data.display_messages.put(cp, request["message"], datetime.now(UTC), "set")


def _clear_display_message(data: TenantData, cp: str, request: Payload, _: Payload) -> None:
    data.display_messages.remove(cp, request["id"])


# N: diagnostics. The log upload and the customer information report follow as the
# charger's own messages (LogStatusNotification, NotifyCustomerInformation).


def _get_log(data: TenantData, cp: str, request: Payload, response: Payload) -> None:
    data.diagnostics.log_requested(cp, request, response, datetime.now(UTC))


def _set_variable_monitoring(data: TenantData, cp: str, request: Payload,
                             response: Payload) -> None:
    data.diagnostics.put_monitors(cp, accepted_monitors(request, response), datetime.now(UTC))


def _clear_variable_monitoring(data: TenantData, cp: str, _: Payload, response: Payload
                               ) -> None:
    # NotFound: the charger has no such monitor either, so it is gone all the same.
    gone = [r["id"] for r in response.get("clearMonitoringResult", [])
            if r.get("status") in ("Accepted", "NotFound")]
    data.diagnostics.remove_monitors(cp, gone)


def _customer_information(data: TenantData, cp: str, request: Payload, _: Payload) -> None:
    data.diagnostics.customer_information_requested(cp, request, datetime.now(UTC))


# L: firmware. The progress arrives as FirmwareStatusNotification and
# PublishFirmwareStatusNotification carrying the requestId.


def _update_firmware(data: TenantData, cp: str, request: Payload, _: Payload) -> None:
    data.firmware.update_requested(cp, update_summary(request), datetime.now(UTC))


def _publish_firmware(data: TenantData, cp: str, request: Payload, _: Payload) -> None:
    data.firmware.publish_requested(cp, request, datetime.now(UTC))


def _unpublish_firmware(data: TenantData, cp: str, request: Payload, _: Payload) -> None:
    data.firmware.unpublished(cp, request["checksum"], datetime.now(UTC))


EFFECTS: dict[str, CommandEffect] = {
    "GetVariables": _get_variables,
    "SetVariables": _set_variables,
    "GetBaseReport": _report_requested,
    "GetReport": _report_requested,
    "Reset": _reset,
    "RequestStartTransaction": _request_start,
    "RequestStopTransaction": _request_stop,
    "UnlockConnector": _recorded("unlocked_connector", "evseId", "connectorId"),
    "TriggerMessage": _recorded("triggered_message"),
    "ChangeAvailability": _change_availability,
    "ClearCache": _recorded("cache_cleared"),
    "GetTransactionStatus": _transaction_status,
    "SetNetworkProfile": _recorded("network_profile", "configurationSlot"),
    "InstallCertificate": _install_certificate,
    "GetInstalledCertificateIds": _installed_certificates,
    "SetChargingProfile": _set_charging_profile,
    "ClearChargingProfile": _clear_charging_profile,
    "DeleteCertificate": _delete_certificate,
    "SendLocalList": _send_local_list,
    "GetLocalListVersion": _get_local_list_version,
    "ReserveNow": _reserve_now,
    "CancelReservation": _cancel_reservation,
    "SetDisplayMessage": _set_display_message,
    "ClearDisplayMessage": _clear_display_message,
    # The messages arrive as NotifyDisplayMessages carrying this requestId.
    "GetDisplayMessages": _recorded("display_messages_requested"),
    "GetLog": _get_log,
    "SetVariableMonitoring": _set_variable_monitoring,
    "ClearVariableMonitoring": _clear_variable_monitoring,
    "SetMonitoringBase": _field("monitoring_base", "monitoringBase"),
    "SetMonitoringLevel": _field("monitoring_level", "severity"),
    # The monitors arrive as NotifyMonitoringReport messages carrying this requestId.
    "GetMonitoringReport": _recorded("monitoring_report_requested"),
    "CustomerInformation": _customer_information,
    "UpdateFirmware": _update_firmware,
    "PublishFirmware": _publish_firmware,
    # Runs once "Unpublished" counts as agreeing (AGREEING_STATUSES).
    "UnpublishFirmware": _unpublish_firmware,
}


# Splitting GetVariables and SetVariables (B06, B05: the CSMS sends no more items than
# ItemsPerMessage allows).


def _items_per_message(lookup: VariableLookup, action: str) -> int | None:
    for key in (
        VariableKey(DEVICE_MODEL_CTRLR, ITEMS_PER_MESSAGE, variable_instance=action),
        VariableKey(DEVICE_MODEL_CTRLR, f"{ITEMS_PER_MESSAGE}{action}"),
    ):
        attribute = lookup(key)
        if attribute is not None and attribute.value is not None:
            try:
                limit = int(attribute.value)
            except ValueError:
                continue
            return limit if limit > 0 else None
    return None


def _splitting(action: str, items: str, results: str) -> Splitting:
    def split(payload: Payload, lookup: VariableLookup) -> list[Payload]:
        limit = _items_per_message(lookup, action)
        listed = payload[items]
        if limit is None or len(listed) <= limit:
            return [payload]
        return [
            {**payload, items: listed[start : start + limit]}
            for start in range(0, len(listed), limit)
        ]

    def merge(responses: list[Payload]) -> Payload:
        return {results: [result for r in responses for result in r.get(results, [])]}

    return Splitting(split, merge)


# D01: LocalAuthListCtrlr.ItemsPerMessage caps the entries of one SendLocalList, and
# BytesPerMessage its size. A larger update goes out as its first part (Full or
# Differential as asked) followed by Differential parts. Each part carries a version one
# above the previous: a differential update names the version after it, and a charger
# may answer VersionMismatch to one that does not move its list forward.
LOCAL_AUTH_LIST_CTRLR = "LocalAuthListCtrlr"
LOCAL_LIST_ENTRIES = "localAuthorizationList"


def _local_list_limit(lookup: VariableLookup, variable: str) -> int | None:
    attribute = lookup(VariableKey(LOCAL_AUTH_LIST_CTRLR, variable))
    if attribute is None or attribute.value is None:
        return None
    try:
        limit = int(attribute.value)
    except ValueError:
        return None
    return limit if limit > 0 else None


def _size(payload: Payload) -> int:
    return len(json.dumps(payload, separators=(",", ":")).encode())


def _split_local_list(payload: Payload, lookup: VariableLookup) -> list[Payload]:
    # LocalAuthListCtrlr.ItemsPerMessage is the 2.0.1 name; some stations report it the
    # way they report the other limits (DeviceModelCtrlr.ItemsPerMessage[SendLocalList],
    # ItemsPerMessageSendLocalList).
    items = _local_list_limit(lookup, ITEMS_PER_MESSAGE) or _items_per_message(
        lookup, "SendLocalList"
    )
    max_bytes = _local_list_limit(lookup, "BytesPerMessage")
    entries = payload.get(LOCAL_LIST_ENTRIES, [])
    groups: list[list[Payload]] = [[]]
    for entry in entries:
        group = groups[-1]
        candidate = {**payload, LOCAL_LIST_ENTRIES: [*group, entry]}
        full = items is not None and len(group) >= items
        too_big = max_bytes is not None and group and _size(candidate) > max_bytes
        if full or too_big:
            groups.append([entry])
        else:
            group.append(entry)
    if len(groups) == 1:
        return [payload]
    version = payload["versionNumber"]
    return [
        {
            "versionNumber": version + index,
            "updateType": payload["updateType"] if index == 0 else "Differential",
            LOCAL_LIST_ENTRIES: group,
        }
        for index, group in enumerate(groups)
    ]


def _merge_local_list(responses: list[Payload]) -> Payload:
    # The first part that refused (Failed, VersionMismatch) speaks for the whole.
    return next(
        (dict(r) for r in responses if r.get("status") != "Accepted"), {"status": "Accepted"}
    )


SPLITTINGS: dict[str, Splitting] = {
    "GetVariables": _splitting("GetVariables", "getVariableData", "getVariableResult"),
    "SetVariables": _splitting("SetVariables", "setVariableData", "setVariableResult"),
    "SendLocalList": Splitting(_split_local_list, _merge_local_list),
}


# A01 (Update Charging Station Password for HTTP Basic Authentication).


def _password_request(password: str) -> Payload:
    return {
        "setVariableData": [
            {
                "attributeType": ACTUAL,
                "attributeValue": password,
                "component": {"name": SECURITY_CTRLR},
                "variable": {"name": BASIC_AUTH_PASSWORD},
            }
        ]
    }


def _password_redacted(payload: Payload) -> Payload:
    return {
        "setVariableData": [
            {**item, "attributeValue": HIDDEN} for item in payload["setVariableData"]
        ]
    }


def _password_accepted(response: Payload) -> bool:
    results = response.get("setVariableResult", [])
    return any(
        r.get("attributeStatus") in _VALUE_TAKEN
        and _is_password(key_of(r["component"], r["variable"]))
        for r in results
    )


PASSWORD_CHANGE = PasswordChange(
    action="SetVariables",
    request=_password_request,
    redact=_password_redacted,
    accepted=_password_accepted,
)
