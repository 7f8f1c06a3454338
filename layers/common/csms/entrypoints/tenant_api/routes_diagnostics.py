"""Diagnostics of an OCPP 2.0.1 charger (block N): its log uploads, variable monitors,
events (NotifyEvent) and customer information reports. The requests go out as commands
(GetLog, SetVariableMonitoring, SetMonitoringBase, SetMonitoringLevel,
GetMonitoringReport, ClearVariableMonitoring, CustomerInformation)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from csms import bootstrap
from csms.adapters.mongo_queries import Page
from csms.domain.access import Permission
from csms.entrypoints.tenant_api import views
from csms.entrypoints.tenant_api.models import Limit, Offset
from csms.ports import Diagnostics
from csms.services.fleet import NotFound

Json = dict[str, Any]


def install(app: APIGatewayHttpResolver) -> None:
    from csms.entrypoints.tenant_api import tenant_of

    def diagnostics(charge_point_id: str, permission: Permission = Permission.READ
                    ) -> Diagnostics:
        tenant_id = tenant_of(app, permission)
        bootstrap.fleet_service().owned(tenant_id, charge_point_id)
        return bootstrap.tenant_store().for_tenant(tenant_id).diagnostics

    @app.get("/v1/charge-points/<charge_point_id>/logs", tags=["diagnostics"])
    def list_logs(charge_point_id: str, limit: Limit = 50, offset: Offset = 0) -> Json:
        """Log uploads the charger accepted (GetLog), newest first: `status` is the
        latest LogStatusNotification (Uploading, Uploaded, UploadFailure, ...), `history`
        all of them."""
        found = diagnostics(charge_point_id).logs(charge_point_id, limit, offset)
        return views.page(Page(found, limit, offset))

    @app.get("/v1/charge-points/<charge_point_id>/monitors", tags=["diagnostics"])
    def list_monitors(charge_point_id: str, limit: Limit = 200, offset: Offset = 0) -> Json:
        """The charger's variable monitors by id, as accepted SetVariableMonitoring,
        NotifyMonitoringReport and ClearVariableMonitoring left them."""
        found = diagnostics(charge_point_id).monitors(charge_point_id)
        return views.page(Page(found[offset : offset + limit], limit, offset))

    @app.get("/v1/charge-points/<charge_point_id>/events", tags=["diagnostics"])
    def list_charger_events(charge_point_id: str, limit: Limit = 50, offset: Offset = 0
                            ) -> Json:
        """The charger's NotifyEvent messages, newest first (also published as
        charger_event)."""
        found = diagnostics(charge_point_id).charger_events(charge_point_id, limit, offset)
        return views.page(Page(found, limit, offset))

    @app.get(
        "/v1/charge-points/<charge_point_id>/customer-information/<request_id>",
        tags=["diagnostics"],
    )
    def get_customer_information(charge_point_id: str, request_id: int) -> Json:
        """A CustomerInformation report: its parts as they came and, once the last one
        did, `data`, the whole report in seqNo order (`complete`). Operators and admins
        only: it is about a driver."""
        found = diagnostics(charge_point_id, Permission.COMMAND).customer_information(
            charge_point_id, request_id
        )
        if found is None:
            raise NotFound("no such customer information request")
        return found
