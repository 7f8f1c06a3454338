"""What an accepted command changes in the tenant's records (OCPP 1.6 confirmations)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from csms.domain.charging_profiles import ProfileCriteria
from csms.domain.model import Reservation, ReservationStatus
from csms.ports import TenantData
from csms.protocol.timestamps import parse_timestamp
from csms.services.commands import CommandEffect
from csms.versions.v16.charging_profiles import parse_set_request, purpose_of
from csms.versions.v16.requests import update_summary
from csms.versions.v201.certificates import hash_view

Payload = dict[str, Any]


def _get_configuration(data: TenantData, cp: str, request: Payload, response: Payload) -> None:
    data.charge_points.record_configuration(
        cp, response.get("configurationKey", []), response.get("unknownKey", [])
    )


def _change_configuration(data: TenantData, cp: str, request: Payload, _: Payload) -> None:
    data.charge_points.set_configuration_value(cp, request["key"], request["value"])


def _change_availability(data: TenantData, cp: str, request: Payload, _: Payload) -> None:
    data.charge_points.record_command_effect(
        cp, f"availability.{request['connectorId']}", request["type"]
    )


def _reserve_now(data: TenantData, cp: str, request: Payload, _: Payload) -> None:
    data.reservations.put(
        Reservation(
            reservation_id=request["reservationId"],
            charge_point_id=cp,
            connector_id=request["connectorId"],
            id_tag=request["idTag"],
            expiry_date=parse_timestamp(request["expiryDate"]),
            parent_id_tag=request.get("parentIdTag"),
        )
    )


def _cancel_reservation(data: TenantData, cp: str, request: Payload, _: Payload) -> None:
    data.reservations.set_status(cp, request["reservationId"], ReservationStatus.CANCELLED)


def _send_local_list(data: TenantData, cp: str, request: Payload, _: Payload) -> None:
    data.charge_points.record_command_effect(cp, "local_list_version", request["listVersion"])


def _get_local_list_version(data: TenantData, cp: str, _: Payload, response: Payload) -> None:
    data.charge_points.record_command_effect(cp, "local_list_version", response["listVersion"])


def _set_charging_profile(data: TenantData, cp: str, request: Payload, _: Payload) -> None:
    data.charging_profiles.put(cp, parse_set_request(request), request["csChargingProfiles"])


def _clear_charging_profile(data: TenantData, cp: str, request: Payload, _: Payload) -> None:
    purpose = request.get("chargingProfilePurpose")
    data.charging_profiles.clear(cp, ProfileCriteria(
        profile_id=request.get("id"),
        evse_id=request.get("connectorId"),
        purpose=purpose_of(purpose) if purpose else None,
        stack_level=request.get("stackLevel"),
    ))


def _get_composite_schedule(data: TenantData, cp: str, request: Payload, response: Payload) -> None:
    data.charge_points.record_command_effect(
        cp, f"composite_schedule.{request['connectorId']}", response
    )


def _get_diagnostics(data: TenantData, cp: str, request: Payload, response: Payload) -> None:
    data.charge_points.record_command_effect(cp, "diagnostics_requested", response)


def _firmware_update(data: TenantData, cp: str, request: Payload, _: Payload) -> None:
    data.charge_points.record_command_effect(cp, "firmware_update_requested", request)
    # Followed through FirmwareStatusNotification (SignedFirmwareStatusNotification).
    data.firmware.update_requested(cp, update_summary(request), datetime.now(UTC))


def _reset(data: TenantData, cp: str, request: Payload, _: Payload) -> None:
    data.charge_points.record_command_effect(cp, "last_reset", request["type"])


def _installed_certificates(data: TenantData, cp: str, request: Payload, response: Payload) -> None:
    data.charge_points.record_command_effect(
        cp,
        f"installed_certificates.{request['certificateType']}",
        [hash_view(data) for data in response.get("certificateHashData") or []],
    )


EFFECTS: dict[str, CommandEffect] = {
    "GetConfiguration": _get_configuration,
    "ChangeConfiguration": _change_configuration,
    "ChangeAvailability": _change_availability,
    "ReserveNow": _reserve_now,
    "CancelReservation": _cancel_reservation,
    "SendLocalList": _send_local_list,
    "GetLocalListVersion": _get_local_list_version,
    "SetChargingProfile": _set_charging_profile,
    "ClearChargingProfile": _clear_charging_profile,
    "GetCompositeSchedule": _get_composite_schedule,
    "GetDiagnostics": _get_diagnostics,
    "UpdateFirmware": _firmware_update,
    "SignedUpdateFirmware": _firmware_update,
    "Reset": _reset,
    "GetInstalledCertificateIds": _installed_certificates,
}
