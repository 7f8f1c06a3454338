"""The local authorization list (OCPP 2.0.1 D): push the tenant's id tokens to a charger,
see what each charger was sent and the version it reports."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from csms import bootstrap
from csms.adapters.mongo_queries import Page
from csms.domain.access import Permission
from csms.domain.local_list import LocalList
from csms.entrypoints.tenant_api import views
from csms.entrypoints.tenant_api.models import Limit, LocalListPush, Offset
from csms.services.commands import MAX_WAIT_SECONDS
from csms.services.local_list import LocalListService

Json = dict[str, Any]


def _service() -> LocalListService:
    return LocalListService(bootstrap.tenant_store(), bootstrap.command_service(),
                            bootstrap.utc_now)


def local_list(found: LocalList, entries: bool) -> Json:
    view: Json = {
        "charge_point_id": found.charge_point_id,
        "version": found.version,
        "updated_at": found.updated_at,
        "reported_version": found.reported_version,
        "reported_at": found.reported_at,
        "in_sync": found.in_sync,
    }
    if entries:
        view["entries"] = list(found.entries.values())
    return view


def install(app: APIGatewayHttpResolver) -> None:
    from csms.entrypoints.tenant_api import tenant_of, to_json

    @app.post(
        "/v1/charge-points/<charge_point_id>/local-list",
        tags=["local list"],
        description=(
            "Send the tenant's id tokens to an OCPP 2.0.1 charger as its local "
            "authorization list (SendLocalList), at the next version; in parts of the "
            "charger's LocalAuthListCtrlr.ItemsPerMessage (and BytesPerMessage) when its "
            "device model reports them. 200 with the command once final within `wait`, "
            "else 202. 409 when the charger is offline unless `queue=true`; 422 for a 1.6 "
            "charger."
        ),
    )
    def push_local_list(
        charge_point_id: str,
        body: Annotated[LocalListPush, Body()],
        wait: Annotated[float, Query(ge=0, le=MAX_WAIT_SECONDS)] = 0,
        queue: Annotated[bool, Query(description="queue it if the charger is offline")] = False,
    ) -> Response[str]:
        tenant_id = tenant_of(app, Permission.COMMAND)
        bootstrap.fleet_service().owned(tenant_id, charge_point_id)
        command = _service().push(tenant_id, charge_point_id, body.update_type, queue)
        commands = bootstrap.command_service()
        if wait > 0 and not command.final:
            command = commands.wait(tenant_id, command.command_id, wait) or command
        return Response(
            status_code=200 if command.final else 202,
            content_type="application/json",
            body=to_json(views.command(command)),
            headers={"Location": f"/v1/commands/{command.command_id}"},
        )

    @app.get("/v1/charge-points/<charge_point_id>/local-list", tags=["local list"])
    def get_local_list(charge_point_id: str) -> Json:
        """The list the charger accepted last (its version, and entries: id_token,
        id_token_type, status, expires_at, group_id_token) and the version it reported
        last (GetLocalListVersion)."""
        tenant_id = tenant_of(app, Permission.READ)
        bootstrap.fleet_service().owned(tenant_id, charge_point_id)
        return local_list(_service().of(tenant_id, charge_point_id), entries=True)

    @app.get("/v1/local-lists", tags=["local list"])
    def list_local_lists(limit: Limit = 50, offset: Offset = 0) -> Json:
        """Each charger's local list version: sent, reported, and whether they agree."""
        tenant_id = tenant_of(app, Permission.READ)
        found = _service().all(tenant_id, limit, offset)
        return views.page(Page([local_list(f, entries=False) for f in found], limit, offset))
