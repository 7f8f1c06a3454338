"""How OCPP 1.6 words the requests the services compose from domain values: ReserveNow,
UpdateFirmware (or the security extension's SignedUpdateFirmware for a signed image), and
a new HTTP Basic auth password (the security whitepaper's ChangeConfiguration of
AuthorizationKey, "Updating the Charge Point password for HTTP Basic Authentication").
1.6 has no local list push: its SendLocalList goes out as a raw command."""

from __future__ import annotations

from typing import Any

from csms.domain.firmware import FirmwareImage
from csms.domain.reservations import ReservationRequest
from csms.protocol.timestamps import format_timestamp
from csms.services.commands import PasswordChange, RequestShapes

# The security extension's signed update borrows 2.0.1's FirmwareType.
from csms.versions.v201 import requests as v201_requests

Payload = dict[str, Any]

AUTHORIZATION_KEY = "AuthorizationKey"
HIDDEN = "***"
# RebootRequired: the charger keeps the new key and uses it from its reboot on.
_KEY_TAKEN = frozenset({"Accepted", "RebootRequired"})


def reserve_now(request: ReservationRequest) -> Payload:
    # Connector 0 reserves the charge point as a whole; 1.6 has no token types.
    payload: Payload = {
        "reservationId": request.reservation_id,
        "expiryDate": format_timestamp(request.expires_at),
        "idTag": request.id_token,
        "connectorId": request.evse_id or 0,
    }
    if request.group_id_token is not None:
        payload["parentIdTag"] = request.group_id_token
    return payload


def update_firmware(image: FirmwareImage, request_id: int) -> tuple[str, Payload]:
    retry = v201_requests.retry(image)
    if image.signed:
        return "SignedUpdateFirmware", {"requestId": request_id,
                                        "firmware": v201_requests.firmware(image), **retry}
    # Plain UpdateFirmware has no request id: its statuses are about the current update.
    return "UpdateFirmware", {"location": image.location,
                              "retrieveDate": format_timestamp(image.retrieve_at), **retry}


def update_summary(request: Payload) -> Payload:
    """What is kept of an UpdateFirmware or SignedUpdateFirmware."""
    if "firmware" in request:
        return v201_requests.update_summary(request)
    return {"request_id": None, "location": request["location"],
            "retrieve_at": request["retrieveDate"], "install_at": None, "signed": False}


def _password_request(password: str) -> Payload:
    return {"key": AUTHORIZATION_KEY, "value": password}


def _password_redacted(payload: Payload) -> Payload:
    return {**payload, "value": HIDDEN}


def _password_accepted(response: Payload) -> bool:
    return response.get("status") in _KEY_TAKEN


PASSWORD_CHANGE = PasswordChange(
    action="ChangeConfiguration",
    request=_password_request,
    redact=_password_redacted,
    accepted=_password_accepted,
)

def certificate_signed(chain: str, _certificate_type: str) -> Payload:
    # 1.6 signs only the charge point's own certificate, and names no type.
    return {"certificateChain": chain}


def cancel_reservation(reservation_id: int) -> Payload:
    return {"reservationId": reservation_id}


# 1.6 has no CostUpdated (its cost is the California Pricing extension's DataTransfer).
REQUEST_SHAPES = RequestShapes(
    reserve_now=reserve_now, firmware_update=update_firmware,
    certificate_signed=certificate_signed, cancel_reservation=cancel_reservation,
)
