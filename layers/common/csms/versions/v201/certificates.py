"""OCPP 2.0.1 certificates (block M) in the plug-in: the handlers of the charger's
SignCertificate (A02/A03), Get15118EVCertificate (M01/M02) and GetCertificateStatus (M06).

SignCertificate is checked here and answered at once; the CertificateSigned that follows
is sent by the event worker once the request is stored (services/certificates.py says
why). The two ISO 15118 messages go to the tenant's certificate endpoint, or are
answered Failed (NoEndpoint) when it has none.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from csms.domain.certificates import CHARGING_STATION_CERTIFICATE, BadCsr, check_csr
from csms.ports import Directory, VendorEndpoint
from csms.protocol.router import CallContext, Handler
from csms.services.certificates import (
    SIGNING_REQUEST,
    CertificateRequestForwarding,
    ForwardFailed,
)

if TYPE_CHECKING:
    from csms.versions import CentralSystemParts

Payload = dict[str, Any]


# What the forwarded answers may say (Iso15118EVCertificateStatusEnumType and
# GetCertificateStatusEnumType); anything else from the endpoint is a Failed.
FORWARDED_STATUSES = frozenset({"Accepted", "Failed"})


def failed(action: str, reason: str, text: str) -> Payload:
    answer: Payload = {"status": "Failed",
                       "statusInfo": {"reasonCode": reason, "additionalInfo": text}}
    if action == "Get15118EVCertificate":
        answer["exiResponse"] = ""  # required even when Failed
    return answer


def forwarded_answer(action: str, reply: Payload) -> Payload:
    """The endpoint's answer as the charger gets it: only the fields the answer has in
    OCPP (the router validates it against the schema, and an endpoint's extras would
    fail that)."""
    if reply.get("status") not in FORWARDED_STATUSES:
        return failed(action, "EndpointFailed", "the certificate endpoint's answer is invalid")
    allowed = {"status", "statusInfo",
               "exiResponse" if action == "Get15118EVCertificate" else "ocspResult"}
    answer = {k: v for k, v in reply.items() if k in allowed}
    if action == "Get15118EVCertificate":
        answer.setdefault("exiResponse", "")
    return answer


def tenant_endpoint(directory: Directory) -> Callable[[str], str | None]:
    """The tenant's certificate endpoint from its settings (`certificate_endpoint`; a
    tenant without one, or a Tenant model before the field, gives None)."""

    def endpoint_of(tenant_id: str) -> str | None:
        tenant = directory.get_tenant(tenant_id)
        url = getattr(tenant, "certificate_endpoint", None)
        return url if isinstance(url, str) and url else None

    return endpoint_of


def hash_view(data: Payload, children: list[Payload] | None = None) -> Payload:
    """CertificateHashDataType (the 1.6 security extension's has the same fields) in the
    CSMS's terms, with a chain's child certificates."""
    return {
        "hash_algorithm": data.get("hashAlgorithm"),
        "issuer_name_hash": data.get("issuerNameHash"),
        "issuer_key_hash": data.get("issuerKeyHash"),
        "serial_number": data.get("serialNumber"),
        "child_certificates": [hash_view(child) for child in children or []],
    }


def installed_by_type(request: Payload, response: Payload) -> dict[str, list[Payload]]:
    """A GetInstalledCertificateIds answer as certificate type -> installed certificates,
    with every type asked for present (empty when none is installed); asked for none,
    the answer covers every type."""
    found: dict[str, list[Payload]] = {name: [] for name in request.get("certificateType") or []}
    for chain in response.get("certificateHashDataChain") or []:
        found.setdefault(chain["certificateType"], []).append(
            hash_view(chain["certificateHashData"], chain.get("childCertificateHashData"))
        )
    return found


class Certificates201:
    def __init__(self, parts: CentralSystemParts,
                 endpoint_of: Callable[[str], str | None] | None = None,
                 endpoint: VendorEndpoint | None = None) -> None:
        self._charging = parts.charging
        self._forwarding = CertificateRequestForwarding(
            endpoint_of or tenant_endpoint(parts.directory), endpoint)

    def handlers(self) -> dict[str, Handler]:
        return {
            "SignCertificate": self.on_sign_certificate,
            "Get15118EVCertificate": self.on_get_15118_ev_certificate,
            "GetCertificateStatus": self.on_get_certificate_status,
        }

    def _notify(self, ctx: CallContext, kind: str, payload: Payload) -> None:
        self._charging.notification(
            ctx.tenant_id, ctx.charge_point_id, kind, payload, ctx.received_at
        )

    def on_sign_certificate(self, ctx: CallContext, payload: Payload) -> Payload:
        certificate_type = payload.get("certificateType", CHARGING_STATION_CERTIFICATE)
        try:
            check_csr(payload["csr"], ctx.charge_point_id, certificate_type)
        except BadCsr as bad:
            # Kept all the same: the operator sees what the charger asked for and why
            # nothing was signed.
            self._notify(ctx, "certificate_signing_rejected",
                         {"certificate_type": certificate_type, "reason": bad.reason})
            return {"status": "Rejected",
                    "statusInfo": {"reasonCode": bad.reason, "additionalInfo": str(bad)}}
        # Stored with the type spelled out: the worker's CertificateSigned names it.
        self._notify(ctx, SIGNING_REQUEST,
                     {"csr": payload["csr"], "certificate_type": certificate_type})
        return {"status": "Accepted"}

    def on_get_15118_ev_certificate(self, ctx: CallContext, payload: Payload) -> Payload:
        # The EXI request is the EV's; only its action is kept in the notification (the
        # message log has the frame).
        self._notify(ctx, "iso15118_ev_certificate_request",
                     {"iso15118SchemaVersion": payload["iso15118SchemaVersion"],
                      "action": payload["action"]})
        return self._forwarded(ctx, "Get15118EVCertificate", payload)

    def on_get_certificate_status(self, ctx: CallContext, payload: Payload) -> Payload:
        self._notify(ctx, "certificate_status_request", payload)
        return self._forwarded(ctx, "GetCertificateStatus", payload)

    def _forwarded(self, ctx: CallContext, action: str, payload: Payload) -> Payload:
        try:
            reply = self._forwarding.forward(ctx.tenant_id, ctx.charge_point_id, action, payload)
        except ForwardFailed as failure:
            return failed(action, failure.reason, failure.text)
        return forwarded_answer(action, reply)


def handlers(parts: CentralSystemParts,
             endpoint_of: Callable[[str], str | None] | None = None,
             endpoint: VendorEndpoint | None = None) -> dict[str, Handler]:
    return Certificates201(parts, endpoint_of, endpoint).handlers()
