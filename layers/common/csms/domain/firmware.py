"""Firmware (OCPP 2.0.1 block L, and 1.6 with its security extension): updates sent to
chargers, alone or as a rollout to a set of them, followed through the chargers'
FirmwareStatusNotification; and firmware a local controller publishes to others
(PublishFirmware, PublishFirmwareStatusNotification)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

Payload = dict[str, Any]

# Statuses after which a firmware update goes no further (2.0.1 FirmwareStatusEnumType,
# 1.6 FirmwareStatus and the security extension's).
FINAL_STATUSES = frozenset(
    {"Installed", "DownloadFailed", "InstallationFailed", "InstallVerificationFailed",
     "InvalidSignature"}
)
# 2.1 updates firmware as 2.0.1 does.
V201 = frozenset({"ocpp2.0.1", "ocpp2.1"})


@dataclass(frozen=True)
class FirmwareImage:
    """What a rollout installs. A signed image (certificate and signature) goes to 2.0.1
    chargers in UpdateFirmware and to 1.6 ones as SignedUpdateFirmware."""

    location: str
    retrieve_at: datetime
    install_at: datetime | None = None
    signing_certificate: str | None = None
    signature: str | None = None
    retries: int | None = None
    retry_interval: int | None = None

    @property
    def signed(self) -> bool:
        return self.signing_certificate is not None and self.signature is not None


def _when(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def update_request(image: FirmwareImage, request_id: int, version: str) -> tuple[str, Payload]:
    """The action and payload that install `image` on a charger speaking `version`."""
    retry: Payload = {}
    if image.retries is not None:
        retry["retries"] = image.retries
    if image.retry_interval is not None:
        retry["retryInterval"] = image.retry_interval
    if version not in V201 and not image.signed:
        return "UpdateFirmware", {"location": image.location,
                                  "retrieveDate": _when(image.retrieve_at), **retry}
    firmware: Payload = {"location": image.location,
                         "retrieveDateTime": _when(image.retrieve_at)}
    if image.install_at is not None:
        firmware["installDateTime"] = _when(image.install_at)
    if image.signing_certificate is not None:
        firmware["signingCertificate"] = image.signing_certificate
    if image.signature is not None:
        firmware["signature"] = image.signature
    action = "UpdateFirmware" if version in V201 else "SignedUpdateFirmware"
    return action, {"requestId": request_id, "firmware": firmware, **retry}


def update_summary(request: Payload) -> Payload:
    """What is kept of an update request: where from, when, and whether it is signed
    (the certificate and signature themselves are the charger's business)."""
    firmware = request.get("firmware")
    if firmware is None:  # 1.6 UpdateFirmware
        return {"request_id": None, "location": request["location"],
                "retrieve_at": request["retrieveDate"], "install_at": None, "signed": False}
    return {
        "request_id": request.get("requestId"),
        "location": firmware["location"],
        "retrieve_at": firmware["retrieveDateTime"],
        "install_at": firmware.get("installDateTime"),
        "signed": "signature" in firmware,
    }
