"""Reservations (OCPP 2.0.1 block H; 1.6 alike): reserve a charger or one of its EVSEs for
an id token until a time, cancel; the CSMS picks the reservation id. The list is
GET /v1/charge-points/{id}/reservations."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from csms import bootstrap
from csms.domain.access import Permission
from csms.domain.commands import Command
from csms.entrypoints.tenant_api import views
from csms.entrypoints.tenant_api.models import ReservationCreate
from csms.services.commands import MAX_WAIT_SECONDS
from csms.services.reservations import ReservationService

Wait = Annotated[float, Query(ge=0, le=MAX_WAIT_SECONDS)]
Queue = Annotated[bool, Query(description="queue it if the charger is offline")]


def _service() -> ReservationService:
    return ReservationService(
        bootstrap.tenant_store(), bootstrap.records(), bootstrap.command_service()
    )


def install(app: APIGatewayHttpResolver) -> None:
    from csms.entrypoints.tenant_api import tenant_of, to_json

    def answered(tenant_id: str, command: Command, wait: float) -> Response[str]:
        if wait > 0 and not command.final:
            waited = bootstrap.command_service().wait(tenant_id, command.command_id, wait)
            command = waited or command
        return Response(
            status_code=200 if command.final else 202,
            content_type="application/json",
            body=to_json(views.command(command)),
            headers={"Location": f"/v1/commands/{command.command_id}"},
        )

    @app.post(
        "/v1/charge-points/<charge_point_id>/reservations",
        tags=["reservations"],
        description=(
            "ReserveNow in the charger's version with a reservation id the CSMS picks "
            "(`request.id`, 1.6 `request.reservationId`). Once the charger accepts, the "
            "reservation is Active until a transaction uses it, it is cancelled, the "
            "charger reports it Expired or Removed, or the CSMS finds it past `expires_at`; "
            "these ends are reservation_status events (a cancellation is the "
            "CancelReservation's command_completed). 200 with the command once final "
            "within `wait`, else 202; 409 when offline unless `queue=true`."
        ),
    )
    def reserve(
        charge_point_id: str,
        body: Annotated[ReservationCreate, Body()],
        wait: Wait = 0,
        queue: Queue = False,
    ) -> Response[str]:
        tenant_id = tenant_of(app, Permission.COMMAND)
        bootstrap.fleet_service().owned(tenant_id, charge_point_id)
        command = _service().reserve(
            tenant_id,
            charge_point_id,
            body.id_token,
            body.expires_at,
            id_token_type=body.id_token_type,
            evse_id=body.evse_id,
            group_id_token=body.group_id_token,
            connector_type=body.connector_type,
            queue_if_offline=queue,
        )
        return answered(tenant_id, command, wait)

    @app.delete(
        "/v1/charge-points/<charge_point_id>/reservations/<reservation_id>",
        tags=["reservations"],
        description="CancelReservation; the reservation ends Cancelled once the charger "
        "accepts. 404 for a reservation never made at this charger.",
    )
    def cancel(
        charge_point_id: str, reservation_id: int, wait: Wait = 0, queue: Queue = False
    ) -> Response[str]:
        tenant_id = tenant_of(app, Permission.COMMAND)
        bootstrap.fleet_service().owned(tenant_id, charge_point_id)
        command = _service().cancel(tenant_id, charge_point_id, reservation_id, queue)
        return answered(tenant_id, command, wait)
