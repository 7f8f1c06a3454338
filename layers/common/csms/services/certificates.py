"""Certificates (OCPP 2.0.1 block M, 1.6 security extension).

Signing. The charger's SignCertificate is checked in its own invocation (a bad CSR is
answered Rejected at once) and stored as a `certificate_signing_request` notification;
its CertificateSigned goes out afterwards, from the event worker once the notification is
stored (`CertificateSigning.react`), through the command path like any other command. Not
from the charger's invocation: A02 wants the SignCertificate answer first, a CA read
(Secrets Manager) must not hold up that answer, and a command sent from the worker is
queued, retried and recorded like the operator's.

Forwarding. Get15118EVCertificate and GetCertificateStatus (2.0.1, charger-initiated) go
to the tenant's certificate endpoint when it has one (its answer is the charger's), else
they are answered Failed with reasonCode NoEndpoint.
"""

from __future__ import annotations

import json
import logging
import urllib.error
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from csms.domain.certificates import CHARGING_STATION_CERTIFICATE, BadCsr, check_csr
from csms.domain.data_transfer import MAX_FORWARD_TIMEOUT, BadEndpoint, check_endpoint
from csms.domain.model import Notified
from csms.ports import CsrSigner, VendorEndpoint

logger = logging.getLogger(__name__)

Payload = dict[str, Any]

# The notification kind both versions' SignCertificate handlers store.
SIGNING_REQUEST = "certificate_signing_request"
# The charger waits for the forwarded answer (and API Gateway for it): bounded.
FORWARD_TIMEOUT = 5.0
assert FORWARD_TIMEOUT <= MAX_FORWARD_TIMEOUT
# What the forwarded answers may say (2.0.1 Iso15118EVCertificateStatusEnumType and
# GetCertificateStatusEnumType); anything else from the endpoint is a Failed.
FORWARDED_STATUSES = {
    "Get15118EVCertificate": frozenset({"Accepted", "Failed"}),
    "GetCertificateStatus": frozenset({"Accepted", "Failed"}),
}


class CommandSubmitter(Protocol):
    """CommandService.submit, as far as signing uses it."""

    def submit(self, tenant_id: str, charge_point_id: str, action: str,
               payload: dict[str, Any], queue_if_offline: bool = False) -> Any: ...


class HasChanges(Protocol):
    """An envelope's decoded records (record_applier.Decoded) as far as signing reads."""

    @property
    def changes(self) -> Sequence[Any]: ...


@dataclass(frozen=True)
class Signed:
    charge_point_id: str
    certificate_type: str | None
    command_id: str | None


class CertificateSigning:
    """Signs stored CSRs with the tenant's CA and sends the chain as CertificateSigned."""

    def __init__(self, ca: CsrSigner, commands: CommandSubmitter,
                 clock: Callable[[], datetime]) -> None:
        self._ca = ca
        self._commands = commands
        self._clock = clock

    def react(self, tenant_id: str, batch: Iterable[HasChanges]) -> list[Signed]:
        """Every signing request among a tenant's stored records, signed and sent. One
        failing (a CA unreachable, a charger gone) is logged and the others go on: the
        records are stored, and the charger asks again when no certificate comes (A02)."""
        done: list[Signed] = []
        for decoded in batch:
            for change in decoded.changes:
                if isinstance(change, Notified) and change.kind == SIGNING_REQUEST:
                    try:
                        done.append(self.sign_and_send(tenant_id, change.charge_point_id,
                                                       change.data))
                    except Exception:
                        logger.exception("CertificateSigned not sent", extra={
                            "tenant_id": tenant_id, "charge_point_id": change.charge_point_id})
        return done

    def sign_and_send(self, tenant_id: str, charge_point_id: str, request: Payload) -> Signed:
        """`request`: the SignCertificate request as stored (csr, 2.0.1's certificateType).
        Checked again: a notification is data from the charger, whoever stored it."""
        certificate_type = request.get("certificateType")
        try:
            csr = check_csr(request["csr"], charge_point_id,
                            certificate_type or CHARGING_STATION_CERTIFICATE)
        except BadCsr as bad:
            logger.warning("signing request refused", extra={
                "tenant_id": tenant_id, "charge_point_id": charge_point_id,
                "reason": bad.reason})
            return Signed(charge_point_id, certificate_type, None)
        chain = self._ca.sign_csr(tenant_id, csr, self._clock())
        payload: Payload = {"certificateChain": chain}
        if certificate_type is not None:
            # Only 2.0.1 names the type (1.6's CertificateSigned has no such field).
            payload["certificateType"] = certificate_type
        # Queued if the charger just went away: it gets it when it is back.
        command = self._commands.submit(tenant_id, charge_point_id, "CertificateSigned",
                                        payload, queue_if_offline=True)
        return Signed(charge_point_id, certificate_type, getattr(command, "command_id", None))


class CertificateRequestForwarding:
    """`endpoint_of(tenant_id)`: the tenant's certificate endpoint URL, or None."""

    def __init__(self, endpoint_of: Callable[[str], str | None],
                 endpoint: VendorEndpoint | None = None) -> None:
        from csms.services.data_transfer import UrllibEndpoint

        self._endpoint_of = endpoint_of
        self._endpoint = endpoint or UrllibEndpoint()

    def forward(self, tenant_id: str, charge_point_id: str, action: str,
                request: Payload) -> Payload:
        """The answer for the charger: the endpoint's, or Failed with why."""
        url = self._endpoint_of(tenant_id)
        if not url:
            return failed(action, "NoEndpoint", "no certificate endpoint is configured")
        try:
            check_endpoint(url)
        except BadEndpoint:
            return failed(action, "NoEndpoint", "the certificate endpoint is not https")
        body = json.dumps({"action": action, "tenantId": tenant_id,
                           "chargingStationId": charge_point_id, "request": request},
                          separators=(",", ":")).encode()
        try:
            reply = self._endpoint.post(url, body, {"Content-Type": "application/json"},
                                        FORWARD_TIMEOUT)
        except (OSError, ValueError, urllib.error.URLError):
            logger.warning("certificate endpoint unreachable", extra={
                "tenant_id": tenant_id, "charge_point_id": charge_point_id, "action": action})
            return failed(action, "EndpointUnavailable", "the certificate endpoint did not answer")
        status = reply.get("status")
        if status not in FORWARDED_STATUSES[action]:
            return failed(action, "EndpointFailed", "the certificate endpoint's answer is invalid")
        # Only the fields the answer has in OCPP: the router validates it against the
        # schema, and an endpoint's extras would fail that.
        allowed = {"status", "statusInfo", "exiResponse" if action == "Get15118EVCertificate"
                   else "ocspResult"}
        answer = {k: v for k, v in reply.items() if k in allowed}
        if action == "Get15118EVCertificate":
            answer.setdefault("exiResponse", "")
        return answer


def failed(action: str, reason: str, text: str) -> Payload:
    answer: Payload = {"status": "Failed",
                       "statusInfo": {"reasonCode": reason, "additionalInfo": text}}
    if action == "Get15118EVCertificate":
        answer["exiResponse"] = ""  # required even when Failed
    return answer
