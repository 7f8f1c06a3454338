"""/v1/tenants: the platform administrator's view (never a tenant's own data)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from csms import bootstrap
from csms.adapters.mongo_queries import Page
from csms.domain.access import Permission
from csms.domain.model import Tenant
from csms.entrypoints.tenant_api import views
from csms.entrypoints.tenant_api.models import Limit, Offset, TenantCreate, TenantUpdate


def install(app: APIGatewayHttpResolver) -> None:
    from csms.entrypoints.tenant_api import principal

    def admin() -> None:
        principal(app, Permission.MANAGE_TENANTS)

    @app.post("/v1/tenants", tags=["tenants"])
    def create_tenant(body: TenantCreate) -> tuple[dict[str, Any], int]:
        admin()
        tenant = bootstrap.fleet_service().create_tenant(Tenant(**body.model_dump()))
        bootstrap.tenant_store().for_tenant(tenant.tenant_id).ensure_indexes()
        return views.tenant(tenant), 201

    @app.get("/v1/tenants", tags=["tenants"])
    def list_tenants(limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
        admin()
        tenants = bootstrap.directory().list_tenants(limit, offset)
        return views.page(Page([views.tenant(t) for t in tenants], limit, offset))

    @app.get("/v1/tenants/<tenant_id>", tags=["tenants"])
    def get_tenant(tenant_id: str) -> dict[str, Any]:
        admin()
        return views.tenant(bootstrap.fleet_service().tenant(tenant_id))

    @app.patch("/v1/tenants/<tenant_id>", tags=["tenants"])
    def update_tenant(tenant_id: str, body: TenantUpdate) -> dict[str, Any]:
        admin()
        # An explicit null lifts the charge point limit; for other fields null means "keep".
        given = body.model_dump(exclude_unset=True)
        changes = {k: v for k, v in given.items() if v is not None or k == "max_charge_points"}
        return views.tenant(bootstrap.fleet_service().update_tenant(tenant_id, changes))

    @app.post("/v1/tenants/<tenant_id>/suspend", tags=["tenants"])
    def suspend_tenant(tenant_id: str) -> dict[str, Any]:
        """Refuses the tenant's API tokens and new charger connections."""
        admin()
        return views.tenant(bootstrap.fleet_service().update_tenant(tenant_id, {"active": False}))

    @app.post("/v1/tenants/<tenant_id>/resume", tags=["tenants"])
    def resume_tenant(tenant_id: str) -> dict[str, Any]:
        admin()
        return views.tenant(bootstrap.fleet_service().update_tenant(tenant_id, {"active": True}))
