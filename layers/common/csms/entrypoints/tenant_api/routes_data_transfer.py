"""DataTransfer handlers per vendorId (OCPP 2.0.1 block P, and 1.6): how the CSMS answers
a charger's vendor-specific messages, and the messages it handled."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body

from csms import bootstrap
from csms.adapters.mongo_queries import Page
from csms.domain.access import Permission
from csms.domain.data_transfer import BadEndpoint, HandlerMode, VendorHandler, check_endpoint
from csms.entrypoints.tenant_api import views
from csms.entrypoints.tenant_api.models import Limit, Offset, VendorHandlerFields
from csms.ports import DataTransfers
from csms.services.fleet import NotFound

Json = dict[str, Any]


def vendor_handler(handler: VendorHandler) -> Json:
    return {
        "vendor_id": handler.vendor_id,
        "mode": handler.mode.value,
        "url": handler.url,
        "timeout_seconds": handler.timeout_seconds,
        "has_secret": handler.secret is not None,  # the secret itself is never shown
        "message_ids": list(handler.message_ids),
    }


def install(app: APIGatewayHttpResolver) -> None:
    from csms.entrypoints.tenant_api import error, tenant_of, to_json

    def transfers(permission: Permission) -> DataTransfers:
        return bootstrap.tenant_store().for_tenant(tenant_of(app, permission)).data_transfers

    @app.put("/v1/data-transfer/vendors/<vendor_id>", tags=["data transfer"])
    def put_vendor_handler(
        vendor_id: str, body: Annotated[VendorHandlerFields, Body()]
    ) -> Response[str]:
        """Set how DataTransfer messages with this vendorId are answered, from chargers
        of either version. A vendorId without a handler is answered UnknownVendorId."""
        store = transfers(Permission.MANAGE_FLEET)
        if body.mode == "forward":
            if body.url is None:
                return error(422, "forward needs a url")
            try:
                check_endpoint(body.url)
            except BadEndpoint as exc:
                return error(422, str(exc), field="url")
        handler = VendorHandler(
            vendor_id=vendor_id,
            mode=HandlerMode(body.mode),
            url=body.url if body.mode == "forward" else None,
            timeout_seconds=body.timeout_seconds,
            secret=body.secret,
            message_ids=tuple(body.message_ids),
        )
        store.put_handler(handler)
        return Response(200, "application/json", to_json(vendor_handler(handler)))

    @app.get("/v1/data-transfer/vendors", tags=["data transfer"])
    def list_vendor_handlers() -> Json:
        found = transfers(Permission.READ).handlers()
        return {"items": [vendor_handler(h) for h in found]}

    @app.get("/v1/data-transfer/vendors/<vendor_id>", tags=["data transfer"])
    def get_vendor_handler(vendor_id: str) -> Json:
        found = transfers(Permission.READ).handler(vendor_id)
        if found is None:
            raise NotFound("no handler for this vendorId")
        return vendor_handler(found)

    @app.delete("/v1/data-transfer/vendors/<vendor_id>", tags=["data transfer"])
    def delete_vendor_handler(vendor_id: str) -> Response[str]:
        if not transfers(Permission.MANAGE_FLEET).delete_handler(vendor_id):
            raise NotFound("no handler for this vendorId")
        return Response(204, "application/json", "")

    @app.get("/v1/charge-points/<charge_point_id>/data-transfers", tags=["data transfer"])
    def list_data_transfers(charge_point_id: str, limit: Limit = 50, offset: Offset = 0
                            ) -> Json:
        """The charger's DataTransfer messages a handler took, newest first, with the
        answer each got."""
        tenant_id = tenant_of(app, Permission.READ)
        bootstrap.fleet_service().owned(tenant_id, charge_point_id)
        store = bootstrap.tenant_store().for_tenant(tenant_id).data_transfers
        return views.page(Page(store.messages(charge_point_id, limit, offset), limit, offset))
