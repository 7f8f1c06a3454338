"""Firmware (OCPP 2.0.1 block L, 1.6 alike): roll an image out to a set of chargers and
follow each one's status; a charger's firmware update and publication as it reported
them. PublishFirmware and UnpublishFirmware go out as commands."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body

from csms import bootstrap
from csms.adapters.mongo_queries import Page
from csms.domain.access import Permission
from csms.domain.firmware import FirmwareImage
from csms.entrypoints.tenant_api import views
from csms.entrypoints.tenant_api.models import FirmwareRolloutCreate, Limit, Offset
from csms.services.firmware import FirmwareService
from csms.services.fleet import NotFound

Json = dict[str, Any]


def _service() -> FirmwareService:
    return FirmwareService(bootstrap.tenant_store(), bootstrap.records(),
                           bootstrap.command_service(), bootstrap.utc_now)


def install(app: APIGatewayHttpResolver) -> None:
    from csms.entrypoints.tenant_api import error, tenant_of, to_json

    @app.post(
        "/v1/firmware/rollouts",
        tags=["firmware"],
        description=(
            "Send a firmware image to each charger in its version, under one requestId: "
            "UpdateFirmware to 2.0.1 chargers (with `signing_certificate` and `signature` "
            "when given), to 1.6 ones UpdateFirmware, or SignedUpdateFirmware for a signed "
            "image. Offline chargers get it when they reconnect (queued). 201 with the "
            "rollout; follow it at GET /v1/firmware/rollouts/{id}. All chargers must be "
            "the tenant's (404 otherwise, nothing sent)."
        ),
    )
    def create_rollout(body: Annotated[FirmwareRolloutCreate, Body()]) -> Response[str]:
        tenant_id = tenant_of(app, Permission.COMMAND)
        if (body.signing_certificate is None) != (body.signature is None):
            return error(422, "a signed image needs both signing_certificate and signature")
        fleet = bootstrap.fleet_service()
        for charge_point_id in body.charge_point_ids:
            fleet.owned(tenant_id, charge_point_id)
        image = FirmwareImage(
            location=body.location,
            retrieve_at=body.retrieve_at,
            install_at=body.install_at,
            signing_certificate=body.signing_certificate,
            signature=body.signature,
            retries=body.retries,
            retry_interval=body.retry_interval,
        )
        rollout = _service().roll_out(tenant_id, body.charge_point_ids, image)
        return Response(
            status_code=201,
            content_type="application/json",
            body=to_json(rollout),
            headers={"Location": f"/v1/firmware/rollouts/{rollout['rollout_id']}"},
        )

    @app.get("/v1/firmware/rollouts/<rollout_id>", tags=["firmware"])
    def get_rollout(rollout_id: str) -> Json:
        """The rollout and each charger's progress: `command_status` (queued, sent,
        completed, rejected, ...) and `firmware_status`, the last FirmwareStatusNotification
        for this update (Downloading, Installed, InvalidSignature, ...); `summary` counts
        chargers by the furthest of the two."""
        return _service().rollout(tenant_of(app, Permission.READ), rollout_id)

    @app.get("/v1/firmware/rollouts", tags=["firmware"])
    def list_rollouts(limit: Limit = 50, offset: Offset = 0) -> Json:
        tenant_id = tenant_of(app, Permission.READ)
        return views.page(Page(_service().rollouts(tenant_id, limit, offset), limit, offset))

    @app.get("/v1/charge-points/<charge_point_id>/firmware", tags=["firmware"])
    def get_firmware(charge_point_id: str) -> Json:
        """The charger's latest firmware update (`update`, with every status it
        reported), the last status whatever update it was about (`last_status`), and
        what it publishes to others (`publication`, 2.0.1 PublishFirmware)."""
        tenant_id = tenant_of(app, Permission.READ)
        bootstrap.fleet_service().owned(tenant_id, charge_point_id)
        found = bootstrap.tenant_store().for_tenant(tenant_id).firmware.of(charge_point_id)
        if found is None:
            raise NotFound("no firmware update or publication known for this charger")
        return {"charge_point_id": charge_point_id, **found}
