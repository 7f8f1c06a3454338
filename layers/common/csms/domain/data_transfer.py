"""Vendor-specific DataTransfer from chargers (OCPP 2.0.1 block P, and 1.6): the tenant
says per vendorId what happens to them. `store`: kept (and published) and Accepted.
`forward`: POSTed to the tenant's HTTPS endpoint, whose reply is the answer. A vendorId
with no handler is answered UnknownVendorId, as both versions prescribe."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

Payload = dict[str, Any]

# The charger waits for the answer: the endpoint must reply well within OCPP's timeouts
# (and API Gateway's 29 s).
MAX_FORWARD_TIMEOUT = 10.0
DEFAULT_FORWARD_TIMEOUT = 5.0
# Plain http only to this machine (local development and tests); else HTTPS.
_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# The statuses both versions define for DataTransfer answers.
STATUSES = frozenset({"Accepted", "Rejected", "UnknownMessageId", "UnknownVendorId"})
SIGNATURE_HEADER = "X-Csms-Signature"


class HandlerMode(StrEnum):
    STORE = "store"
    FORWARD = "forward"


class BadEndpoint(ValueError):
    pass


@dataclass(frozen=True)
class VendorHandler:
    vendor_id: str
    mode: HandlerMode
    url: str | None = None
    timeout_seconds: float = DEFAULT_FORWARD_TIMEOUT
    # Shared with the endpoint: requests carry an HMAC-SHA256 of their body.
    secret: str | None = None
    # When set, other messageIds are answered UnknownMessageId.
    message_ids: tuple[str, ...] = field(default_factory=tuple)

    def knows(self, message_id: str | None) -> bool:
        return not self.message_ids or (message_id is not None and message_id in self.message_ids)


def check_endpoint(url: str) -> str:
    """The endpoint URL if the CSMS may call it: https, or http to this machine."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname in _LOCAL_HOSTS:
        return url
    raise BadEndpoint("the endpoint must be an https:// URL")


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
