"""/v1/charge-points and /v1/id-tags: a tenant's fleet and who may charge."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Query

from csms import bootstrap
from csms.adapters.mongo_queries import Page
from csms.domain.access import Permission
from csms.domain.model import IdTag
from csms.domain.tariffs import TariffScope
from csms.entrypoints.tenant_api import views
from csms.entrypoints.tenant_api.models import (
    AuthorizationStatusName,
    ChargePointCreate,
    ChargePointUpdate,
    IdTagCreate,
    IdTagFields,
    Limit,
    Offset,
    PasswordChange,
)
from csms.entrypoints.tenant_api.routes_tariffs import forget_tariff
from csms.services.fleet import id_tag_from

Json = dict[str, Any]


def install(app: APIGatewayHttpResolver) -> None:
    from csms.entrypoints.tenant_api import tenant_of

    def reader() -> str:
        return tenant_of(app, Permission.READ)

    def manager() -> str:
        return tenant_of(app, Permission.MANAGE_FLEET)

    def charge_point_view(tenant_id: str, charge_point_id: str) -> Json:
        fleet = bootstrap.fleet_service()
        registered = fleet.owned(tenant_id, charge_point_id)
        state = bootstrap.tenant_queries(tenant_id).charge_point_state(charge_point_id)
        return views.charge_point(registered, state, fleet.connection_of(charge_point_id))

    @app.post("/v1/charge-points", tags=["charge points"])
    def register_charge_point(body: ChargePointCreate) -> tuple[Json, int]:
        """Register a charger; the response shows its password once (only a hash is kept)."""
        tenant_id = manager()
        registered, password = bootstrap.fleet_service().register(
            tenant_id, body.charge_point_id, body.password, body.description
        )
        return views.charge_point(registered, None, None) | {"password": password}, 201

    @app.get("/v1/charge-points", tags=["charge points"])
    def list_charge_points(
        limit: Limit = 50, offset: Offset = 0, enabled: Annotated[bool | None, Query()] = None
    ) -> Json:
        tenant_id = reader()
        registered = bootstrap.directory().list_charge_points(tenant_id, limit, offset, enabled)
        ids = [cp.charge_point_id for cp in registered]
        states = bootstrap.tenant_queries(tenant_id).charge_point_states(ids)
        live = bootstrap.fleet_service().connections_of(ids)
        items = [
            views.charge_point(cp, states.get(cp.charge_point_id), live[cp.charge_point_id])
            for cp in registered
        ]
        return views.page(Page(items, limit, offset))

    @app.get("/v1/charge-points/<charge_point_id>", tags=["charge points"])
    def get_charge_point(charge_point_id: str) -> Json:
        """Registry entry, runtime state and whether it is connected right now."""
        return charge_point_view(reader(), charge_point_id)

    @app.patch("/v1/charge-points/<charge_point_id>", tags=["charge points"])
    def update_charge_point(charge_point_id: str, body: ChargePointUpdate) -> Json:
        tenant_id = manager()
        changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
        bootstrap.fleet_service().update(tenant_id, charge_point_id, changes)
        return charge_point_view(tenant_id, charge_point_id)

    def set_enabled(charge_point_id: str, enabled: bool) -> Json:
        tenant_id = manager()
        bootstrap.fleet_service().update(tenant_id, charge_point_id, {"enabled": enabled})
        return charge_point_view(tenant_id, charge_point_id)

    @app.post("/v1/charge-points/<charge_point_id>/enable", tags=["charge points"])
    def enable_charge_point(charge_point_id: str) -> Json:
        return set_enabled(charge_point_id, True)

    @app.post("/v1/charge-points/<charge_point_id>/disable", tags=["charge points"])
    def disable_charge_point(charge_point_id: str) -> Json:
        """Refuse its logins from now on, and close its live connection."""
        return set_enabled(charge_point_id, False)

    @app.post("/v1/charge-points/<charge_point_id>/password", tags=["charge points"])
    def rotate_password(charge_point_id: str, body: PasswordChange) -> Json:
        tenant_id = manager()
        password = bootstrap.fleet_service().rotate_password(
            tenant_id, charge_point_id, body.password
        )
        return {"charge_point_id": charge_point_id, "password": password}

    @app.delete("/v1/charge-points/<charge_point_id>", tags=["charge points"])
    def delete_charge_point(charge_point_id: str) -> Response[str]:
        """Unregister; its transactions, meter values and messages stay as history."""
        tenant_id = manager()
        bootstrap.fleet_service().delete(tenant_id, charge_point_id)
        forget_tariff(tenant_id, TariffScope.charge_point(charge_point_id))
        return Response(status_code=204, body="")

    @app.get("/v1/charge-points/<charge_point_id>/sessions", tags=["charge points"])
    def list_sessions(charge_point_id: str, limit: Limit = 50, offset: Offset = 0) -> Json:
        """Connection history, newest first."""
        tenant_id = reader()
        bootstrap.fleet_service().owned(tenant_id, charge_point_id)
        queries = bootstrap.tenant_queries(tenant_id)
        return views.page(queries.sessions(charge_point_id, limit, offset))

    @app.get("/v1/charge-points/<charge_point_id>/reservations", tags=["charge points"])
    def list_reservations(charge_point_id: str, limit: Limit = 50, offset: Offset = 0) -> Json:
        tenant_id = reader()
        bootstrap.fleet_service().owned(tenant_id, charge_point_id)
        queries = bootstrap.tenant_queries(tenant_id)
        return views.page(queries.reservations(charge_point_id, limit, offset))

    @app.get("/v1/charge-points/<charge_point_id>/charging-profiles", tags=["charge points"])
    def list_charging_profiles(
        charge_point_id: str, limit: Limit = 50, offset: Offset = 0
    ) -> Json:
        tenant_id = reader()
        bootstrap.fleet_service().owned(tenant_id, charge_point_id)
        queries = bootstrap.tenant_queries(tenant_id)
        return views.page(queries.charging_profiles(charge_point_id, limit, offset))

    def id_tag_of(id_tag: str, body: IdTagFields) -> IdTag:
        tag = id_tag_from(id_tag, body.status, body.expiry_date, body.parent_id_tag)
        return replace(tag, id_token_type=body.id_token_type, group_id_token=body.group_id_token)

    @app.post("/v1/id-tags", tags=["id tags"])
    def create_id_tag(body: IdTagCreate) -> tuple[Json, int]:
        """An id tag (1.6) or id token (2.0.1: with its type and group)."""
        tag = id_tag_of(body.id_tag, body)
        return views.id_tag(bootstrap.fleet_service().create_id_tag(manager(), tag)), 201

    @app.get("/v1/id-tags", tags=["id tags"])
    def list_id_tags(
        limit: Limit = 50,
        offset: Offset = 0,
        status: Annotated[AuthorizationStatusName | None, Query()] = None,
    ) -> Json:
        return views.page(bootstrap.tenant_queries(reader()).id_tags(limit, offset, status))

    @app.get("/v1/id-tags/<id_tag>", tags=["id tags"])
    def get_id_tag(id_tag: str) -> Json:
        return views.id_tag(bootstrap.fleet_service().id_tag(reader(), id_tag))

    @app.put("/v1/id-tags/<id_tag>", tags=["id tags"])
    def replace_id_tag(id_tag: str, body: IdTagFields) -> Json:
        tag = id_tag_of(id_tag, body)
        return views.id_tag(bootstrap.fleet_service().replace_id_tag(manager(), tag))

    @app.delete("/v1/id-tags/<id_tag>", tags=["id tags"])
    def delete_id_tag(id_tag: str) -> Response[str]:
        bootstrap.fleet_service().delete_id_tag(manager(), id_tag)
        return Response(status_code=204, body="")
