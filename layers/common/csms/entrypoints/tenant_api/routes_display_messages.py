"""/v1/charge-points/{id}/display-messages: what an OCPP 2.0.1 charger shows drivers, as
accepted SetDisplayMessage commands and its NotifyDisplayMessages reports left it. Set,
get and clear them with the commands SetDisplayMessage, GetDisplayMessages and
ClearDisplayMessage."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from csms import bootstrap
from csms.adapters.mongo_queries import Page
from csms.domain.access import Permission
from csms.domain.display_messages import DisplayMessage
from csms.entrypoints.tenant_api import views
from csms.entrypoints.tenant_api.models import Limit, Offset
from csms.services.display_messages import DisplayMessageService

Json = dict[str, Any]


def display_message(found: DisplayMessage) -> Json:
    return {
        "id": found.message_id,
        "message": found.message,
        "source": found.source,
        "request_id": found.request_id,
        "updated_at": found.updated_at,
    }


def install(app: APIGatewayHttpResolver) -> None:
    from csms.entrypoints.tenant_api import tenant_of

    @app.get("/v1/charge-points/<charge_point_id>/display-messages", tags=["display messages"])
    def list_display_messages(
        charge_point_id: str, limit: Limit = 50, offset: Offset = 0
    ) -> Json:
        """The charger's display messages by id: each a 2.0.1 MessageInfoType, `source`
        "set" (an accepted SetDisplayMessage) or "reported" (its NotifyDisplayMessages,
        `request_id` the GetDisplayMessages it answered)."""
        tenant_id = tenant_of(app, Permission.READ)
        bootstrap.fleet_service().owned(tenant_id, charge_point_id)
        found = DisplayMessageService(bootstrap.tenant_store()).of(tenant_id, charge_point_id)
        items = [display_message(m) for m in found[offset : offset + limit]]
        return views.page(Page(items, limit, offset))
