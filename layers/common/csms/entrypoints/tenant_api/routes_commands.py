"""/v1/charge-points/{id}/commands/{action} and /v1/commands: CSMS-initiated OCPP calls."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from csms import bootstrap
from csms.domain.access import Permission
from csms.entrypoints.tenant_api import views
from csms.entrypoints.tenant_api.models import Limit, Offset
from csms.services.commands import MAX_WAIT_SECONDS
from csms.services.fleet import NotFound

Json = dict[str, Any]
CommandStatusName = Literal["queued", "sent", "completed", "rejected", "failed", "timed_out"]


def _actions_by_version() -> str:
    return "; ".join(
        f"OCPP {name.removeprefix('ocpp')}: {', '.join(sorted(plugin.commands.actions))}"
        for name, plugin in bootstrap.versions().items()
    )


def install(app: APIGatewayHttpResolver) -> None:
    from csms.entrypoints.tenant_api import tenant_of, to_json

    def reader() -> str:
        return tenant_of(app, Permission.READ)

    @app.post(
        "/v1/charge-points/<charge_point_id>/commands/<action>",
        tags=["commands"],
        description=(
            "Send an OCPP command in the charger's version; the body is its payload, checked "
            "against that version's schema first (422, as is an action the version lacks). "
            f"Actions: {_actions_by_version()}. Commands to one charger go out in "
            "order, one at a time. 200 with the final command once the charger answered "
            "(within `wait` seconds), otherwise 202; poll GET /v1/commands/{id}. 409 when "
            "the charger is offline, unless `queue=true`."
        ),
    )
    def send_command(
        charge_point_id: str,
        action: str,
        payload: Annotated[dict[str, Any], Body(description="the OCPP request payload")],
        wait: Annotated[float, Query(ge=0, le=MAX_WAIT_SECONDS)] = 0,
        queue: Annotated[bool, Query(description="queue it if the charger is offline")] = False,
    ) -> Response[str]:
        tenant_id = tenant_of(app, Permission.COMMAND)
        bootstrap.fleet_service().owned(tenant_id, charge_point_id)
        commands = bootstrap.command_service()
        command = commands.submit(tenant_id, charge_point_id, action, payload, queue)
        if wait > 0 and not command.final:
            command = commands.wait(tenant_id, command.command_id, wait) or command
        return Response(
            status_code=200 if command.final else 202,
            content_type="application/json",
            body=to_json(views.command(command)),
            headers={"Location": f"/v1/commands/{command.command_id}"},
        )

    @app.post(
        "/v1/charge-points/<charge_point_id>/password/push",
        tags=["commands"],
        description=(
            "Give the charger a new HTTP Basic auth password through OCPP: SetVariables "
            "SecurityCtrlr.BasicAuthPassword (2.0.1) or ChangeConfiguration "
            "AuthorizationKey (1.6 security extension). The registry switches to it only "
            "once the charger accepts, also when the answer comes after this request "
            "returned. `outcome`: accepted (switched), rejected (unchanged) or pending "
            "(poll the command). The password is never shown nor stored: the charger has "
            "it, the command's request shows `***`."
        ),
    )
    def push_password(
        charge_point_id: str,
        wait: Annotated[float, Query(ge=0, le=MAX_WAIT_SECONDS)] = 0,
        queue: Annotated[bool, Query(description="queue it if the charger is offline")] = False,
    ) -> Response[str]:
        tenant_id = tenant_of(app, Permission.MANAGE_FLEET)
        bootstrap.fleet_service().owned(tenant_id, charge_point_id)
        commands = bootstrap.command_service()
        command = commands.push_password(tenant_id, charge_point_id, queue)
        if wait > 0 and not command.final:
            command = commands.wait(tenant_id, command.command_id, wait) or command
        accepted = commands.password_accepted(command)
        outcome = "pending" if accepted is None else "accepted" if accepted else "rejected"
        body = {
            "charge_point_id": charge_point_id,
            "outcome": outcome,
            "command": views.command(command),
        }
        return Response(
            status_code=200 if command.final else 202,
            content_type="application/json",
            body=to_json(body),
            headers={"Location": f"/v1/commands/{command.command_id}"},
        )

    @app.get("/v1/commands/<command_id>", tags=["commands"])
    def get_command(
        command_id: str,
        wait: Annotated[float, Query(ge=0, le=MAX_WAIT_SECONDS)] = 0,
    ) -> Json:
        """The command's status, the charger's answer once it came; `wait` long-polls."""
        tenant_id = reader()
        commands = bootstrap.command_service()
        command = (
            commands.wait(tenant_id, command_id, wait)
            if wait > 0
            else commands.get(tenant_id, command_id)
        )
        if command is None:
            raise NotFound("no such command")
        return views.command(command)

    @app.get("/v1/commands", tags=["commands"])
    def list_commands(
        limit: Limit = 50,
        offset: Offset = 0,
        charge_point_id: Annotated[str | None, Query(max_length=48)] = None,
        status: Annotated[CommandStatusName | None, Query()] = None,
    ) -> Json:
        queries = bootstrap.tenant_queries(reader())
        return views.page(queries.commands(limit, offset, charge_point_id, status))
