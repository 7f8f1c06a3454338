"""Certificates (OCPP 2.0.1 block M, 1.6 security extension).

Signing. The charger's SignCertificate is checked in its own invocation (a bad CSR is
answered Rejected at once) and stored as a `certificate_signing_request` notification;
its CertificateSigned goes out afterwards, from the event worker once the notification is
stored (`CertificateSigning.react`), through the command path like any other command. Not
from the charger's invocation: A02 wants the SignCertificate answer first, a CA read
(Secrets Manager) must not hold up that answer, and a command sent from the worker is
queued, retried and recorded like the operator's.

Forwarding. Get15118EVCertificate and GetCertificateStatus (2.0.1, charger-initiated) go
to the tenant's certificate endpoint when it has one (its answer is the charger's); the
version's plug-in words the answer, and a Failed one when the endpoint is missing,
refused or silent (ForwardFailed says why).
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
from csms.domain.commands import UnknownCommand
from csms.domain.data_transfer import MAX_FORWARD_TIMEOUT, BadEndpoint, check_endpoint
from csms.domain.model import Notified
from csms.ports import CsrSigner, VendorEndpoint
from csms.services.commands import RequestShapes

logger = logging.getLogger(__name__)

Payload = dict[str, Any]

# The notification kind both versions' SignCertificate handlers store.
SIGNING_REQUEST = "certificate_signing_request"
# The charger waits for the forwarded answer (and API Gateway for it): bounded.
FORWARD_TIMEOUT = 5.0
assert FORWARD_TIMEOUT <= MAX_FORWARD_TIMEOUT


class CommandSubmitter(Protocol):
    """CommandService, as far as signing uses it."""

    def submit(self, tenant_id: str, charge_point_id: str, action: str,
               payload: dict[str, Any], queue_if_offline: bool = False) -> Any: ...

    def shapes_of(self, charge_point_id: str) -> tuple[str, RequestShapes]: ...


class ForwardFailed(Exception):
    """No answer from the tenant's certificate endpoint: `reason` is the reasonCode the
    charger gets (NoEndpoint, EndpointUnavailable, EndpointFailed)."""

    def __init__(self, reason: str, text: str) -> None:
        super().__init__(text)
        self.reason = reason
        self.text = text


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
        """`request`: the signing request as stored (`csr`, `certificate_type`). Checked
        again: a notification is data from the charger, whoever stored it."""
        certificate_type = request.get("certificate_type") or CHARGING_STATION_CERTIFICATE
        try:
            csr = check_csr(request["csr"], charge_point_id, certificate_type)
        except BadCsr as bad:
            logger.warning("signing request refused", extra={
                "tenant_id": tenant_id, "charge_point_id": charge_point_id,
                "reason": bad.reason})
            return Signed(charge_point_id, certificate_type, None)
        version, shapes = self._commands.shapes_of(charge_point_id)
        if shapes.certificate_signed is None:
            raise UnknownCommand("CertificateSigned", version)
        chain = self._ca.sign_csr(tenant_id, csr, self._clock())
        # Queued if the charger just went away: it gets it when it is back.
        command = self._commands.submit(tenant_id, charge_point_id, "CertificateSigned",
                                        shapes.certificate_signed(chain, certificate_type),
                                        queue_if_offline=True)
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
        """The endpoint's answer for the charger, or ForwardFailed saying why there is
        none."""
        url = self._endpoint_of(tenant_id)
        if not url:
            raise ForwardFailed("NoEndpoint", "no certificate endpoint is configured")
        try:
            check_endpoint(url)
        except BadEndpoint:
            raise ForwardFailed("NoEndpoint", "the certificate endpoint is not https") from None
        body = json.dumps({"action": action, "tenantId": tenant_id,
                           "chargingStationId": charge_point_id, "request": request},
                          separators=(",", ":")).encode()
        try:
            return self._endpoint.post(url, body, {"Content-Type": "application/json"},
                                       FORWARD_TIMEOUT)
        except (OSError, ValueError, urllib.error.URLError):
            logger.warning("certificate endpoint unreachable", extra={
                "tenant_id": tenant_id, "charge_point_id": charge_point_id, "action": action})
            raise ForwardFailed("EndpointUnavailable",
                                "the certificate endpoint did not answer") from None
