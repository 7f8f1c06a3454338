"""Certificates (OCPP 2.0.1 block M, 1.6 security extension): what a charger last
reported installed. InstallCertificate, GetInstalledCertificateIds and DeleteCertificate
go out as commands (POST /v1/charge-points/{id}/commands); the view follows from the
GetInstalledCertificateIds answers."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from csms import bootstrap
from csms.domain.access import Permission
from csms.domain.certificates import installed_certificates

Json = dict[str, Any]


def install(app: APIGatewayHttpResolver) -> None:
    from csms.entrypoints.tenant_api import tenant_of

    @app.get("/v1/charge-points/<charge_point_id>/certificates", tags=["charge points"])
    def list_certificates(charge_point_id: str) -> Json:
        """The certificates the charger reported in its last GetInstalledCertificateIds
        answers (hash data, by certificateType, with a 2.0.1 chain's child
        certificates). Empty until one was asked for: send GetInstalledCertificateIds as
        a command to refresh it. Only hashes: the CSMS keeps no charger private keys."""
        tenant_id = tenant_of(app, Permission.READ)
        bootstrap.fleet_service().owned(tenant_id, charge_point_id)
        state = bootstrap.tenant_queries(tenant_id).charge_point_state(charge_point_id)
        return {"charge_point_id": charge_point_id,
                "certificates": installed_certificates(state)}
