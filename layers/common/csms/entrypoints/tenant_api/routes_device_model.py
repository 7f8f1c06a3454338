"""/v1/charge-points/{id}/variables: a charger's device model (OCPP 2.0.1) as stored from
its reports (NotifyReport after GetBaseReport/GetReport) and accepted Get/SetVariables."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.openapi.params import Query

from csms import bootstrap
from csms.adapters.mongo_queries import Page
from csms.domain.access import Permission
from csms.domain.device_model import VariableAttribute
from csms.entrypoints.tenant_api import views
from csms.entrypoints.tenant_api.models import Limit, Offset

Json = dict[str, Any]


def variable(attribute: VariableAttribute) -> Json:
    key = attribute.key
    return {
        "component": key.component,
        "component_instance": key.component_instance,
        "evse_id": key.evse_id,
        "connector_id": key.connector_id,
        "variable": key.variable,
        "variable_instance": key.variable_instance,
        "attribute_type": attribute.attribute_type,
        "value": attribute.value,
        "mutability": attribute.mutability,
        "persistent": attribute.persistent,
        "constant": attribute.constant,
        "characteristics": attribute.characteristics,
        "updated_at": attribute.updated_at,
    }


def install(app: APIGatewayHttpResolver) -> None:
    from csms.entrypoints.tenant_api import tenant_of

    @app.get("/v1/charge-points/<charge_point_id>/variables", tags=["charge points"])
    def list_variables(
        charge_point_id: str,
        limit: Limit = 200,
        offset: Offset = 0,
        component: Annotated[str | None, Query(max_length=50)] = None,
    ) -> Json:
        """The charger's device model (OCPP 2.0.1): one item per variable attribute, as
        its reports (GetBaseReport, GetReport) and accepted GetVariables and
        SetVariables left it, ordered by component and variable."""
        tenant_id = tenant_of(app, Permission.READ)
        bootstrap.fleet_service().owned(tenant_id, charge_point_id)
        attributes = bootstrap.tenant_store().for_tenant(tenant_id).device_model.of(
            charge_point_id
        )
        if component is not None:
            attributes = [a for a in attributes if a.key.component == component]
        items = [variable(a) for a in attributes[offset : offset + limit]]
        return views.page(Page(items, limit, offset))
