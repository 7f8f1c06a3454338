"""Firmware (OCPP 2.0.1 block L, and 1.6 with its security extension): updates sent to
chargers, alone or as a rollout to a set of them, followed through the chargers'
FirmwareStatusNotification; and firmware a local controller publishes to others
(PublishFirmware, PublishFirmwareStatusNotification)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# Statuses after which a firmware update goes no further (2.0.1 FirmwareStatusEnumType,
# 1.6 FirmwareStatus and the security extension's).
FINAL_STATUSES = frozenset(
    {"Installed", "DownloadFailed", "InstallationFailed", "InstallVerificationFailed",
     "InvalidSignature"}
)


@dataclass(frozen=True)
class FirmwareImage:
    """What a rollout installs; each version's plug-in words the request (a signed image
    goes to 1.6 chargers as the security extension's SignedUpdateFirmware)."""

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
