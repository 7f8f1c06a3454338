"""How OCPP 2.0.1 words the requests the services compose from domain values: ReserveNow
(H01), UpdateFirmware (L01, L02) and SendLocalList (D01, D02). 2.1 words them the same."""

from __future__ import annotations

from typing import Any

from csms.domain.firmware import FirmwareImage
from csms.domain.reservations import ReservationRequest
from csms.protocol.timestamps import format_timestamp
from csms.services.commands import RequestShapes

Payload = dict[str, Any]


def reserve_now(request: ReservationRequest) -> Payload:
    payload: Payload = {
        "id": request.reservation_id,
        "expiryDateTime": format_timestamp(request.expires_at),
        "idToken": {"idToken": request.id_token, "type": request.id_token_type},
    }
    if request.evse_id is not None:
        payload["evseId"] = request.evse_id
    if request.group_id_token is not None:
        payload["groupIdToken"] = {"idToken": request.group_id_token, "type": "Central"}
    if request.connector_type is not None:
        payload["connectorType"] = request.connector_type
    return payload


def firmware(image: FirmwareImage) -> Payload:
    """FirmwareType: where, when, and the signature of a signed image. 1.6's security
    extension sends the same in SignedUpdateFirmware."""
    result: Payload = {"location": image.location,
                       "retrieveDateTime": format_timestamp(image.retrieve_at)}
    if image.install_at is not None:
        result["installDateTime"] = format_timestamp(image.install_at)
    if image.signing_certificate is not None:
        result["signingCertificate"] = image.signing_certificate
    if image.signature is not None:
        result["signature"] = image.signature
    return result


def retry(image: FirmwareImage) -> Payload:
    """The retries and retryInterval fields both versions' updates share."""
    fields: Payload = {}
    if image.retries is not None:
        fields["retries"] = image.retries
    if image.retry_interval is not None:
        fields["retryInterval"] = image.retry_interval
    return fields


def update_firmware(image: FirmwareImage, request_id: int) -> tuple[str, Payload]:
    return "UpdateFirmware", {"requestId": request_id, "firmware": firmware(image),
                              **retry(image)}


def authorization_data(entry: Payload) -> Payload:
    """A local list entry (domain/local_list.py) as AuthorizationData; without a status,
    the idToken alone, which a differential update takes as a removal."""
    data: Payload = {"idToken": {"idToken": entry["id_token"], "type": entry["id_token_type"]}}
    if "status" in entry:
        info: Payload = {"status": entry["status"]}
        if "expires_at" in entry:
            info["cacheExpiryDateTime"] = entry["expires_at"]
        if "group_id_token" in entry:
            info["groupIdToken"] = {"idToken": entry["group_id_token"], "type": "Central"}
        data["idTokenInfo"] = info
    return data


def list_entry(data: Payload) -> Payload:
    """AuthorizationData as a local list entry: the inverse of authorization_data."""
    token = data["idToken"]
    entry: Payload = {"id_token": token["idToken"], "id_token_type": token["type"]}
    info = data.get("idTokenInfo")
    if info is not None:
        entry["status"] = info["status"]
        if "cacheExpiryDateTime" in info:
            entry["expires_at"] = info["cacheExpiryDateTime"]
        if "groupIdToken" in info:
            entry["group_id_token"] = info["groupIdToken"]["idToken"]
    return entry


def send_local_list(version: int, update_type: str, entries: list[Payload]) -> Payload:
    payload: Payload = {"versionNumber": version, "updateType": update_type}
    if entries:
        payload["localAuthorizationList"] = [authorization_data(entry) for entry in entries]
    return payload


def update_summary(request: Payload) -> Payload:
    """What is kept of an UpdateFirmware (and 1.6's SignedUpdateFirmware, the same
    shape): where from, when, and whether it is signed (the certificate and signature
    themselves are the charger's business)."""
    image = request["firmware"]
    return {
        "request_id": request.get("requestId"),
        "location": image["location"],
        "retrieve_at": image["retrieveDateTime"],
        "install_at": image.get("installDateTime"),
        "signed": "signature" in image,
    }


def certificate_signed(chain: str, certificate_type: str) -> Payload:
    return {"certificateChain": chain, "certificateType": certificate_type}


def cancel_reservation(reservation_id: int) -> Payload:
    return {"reservationId": reservation_id}


def cost_updated(total_cost: float, transaction_id: str) -> Payload:
    return {"totalCost": total_cost, "transactionId": transaction_id}


REQUEST_SHAPES = RequestShapes(
    reserve_now=reserve_now,
    firmware_update=update_firmware,
    send_local_list=send_local_list,
    certificate_signed=certificate_signed,
    cancel_reservation=cancel_reservation,
    cost_updated=cost_updated,
)
