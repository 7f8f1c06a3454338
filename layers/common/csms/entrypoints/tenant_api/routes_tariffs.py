"""/v1/tariff: the tenant's tariff (OCPP 2.0.1 block I). With one, 2.0.1 and 2.1 chargers
hear the running cost in TransactionEvent answers and in CostUpdated, and each ended
transaction keeps its final cost."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

from csms import bootstrap
from csms.adapters.mongo_tariffs import MongoTariffs, tariffs_database
from csms.domain.access import Permission
from csms.domain.tariffs import InvalidTariff, Tariff, minor_unit
from csms.entrypoints.tenant_api.models_tariffs import TariffPut
from csms.services.fleet import NotFound

Json = dict[str, Any]


def _tariffs(tenant_id: str) -> MongoTariffs:
    # Like the tenant API's other reads, the tariff lives in the tenant's own database.
    return MongoTariffs(tariffs_database(bootstrap.current().mongo, tenant_id))


def tariff_view(tariff: Tariff) -> Json:
    return {
        "currency": tariff.currency,
        "minor_unit": minor_unit(tariff.currency),
        "energy_per_kwh": float(tariff.energy_per_kwh),
        "time_per_hour": float(tariff.time_per_hour),
        "session_fee": float(tariff.session_fee),
        "updated_at": tariff.updated_at,
    }


def install(app: APIGatewayHttpResolver) -> None:
    from csms.entrypoints.tenant_api import error, tenant_of, to_json

    @app.put(
        "/v1/tariff",
        tags=["tariff"],
        description=(
            "Set the tenant's tariff: a price per kWh, per hour of a transaction and a "
            "flat fee per transaction, in an ISO 4217 currency. From the next "
            "TransactionEvent on, 2.0.1 and 2.1 chargers get the running cost "
            "(`totalCost` in the answers to Updated events, CostUpdated at most once a "
            "minute per transaction) and the final cost (the Ended answer, the "
            "transaction's `total_cost`, the `transaction_stopped` event). Admin."
        ),
    )
    def put_tariff(body: TariffPut) -> Response[str]:
        tenant_id = tenant_of(app, Permission.MANAGE_FLEET)
        try:
            tariff = Tariff.of(body.currency, body.energy_per_kwh, body.time_per_hour,
                               body.session_fee, bootstrap.utc_now())
        except InvalidTariff as invalid:
            return error(422, str(invalid))
        _tariffs(tenant_id).put(tariff)
        return Response(200, "application/json", to_json(tariff_view(tariff)))

    @app.get("/v1/tariff", tags=["tariff"])
    def get_tariff() -> Json:
        """The tenant's tariff; 404 when it has none (charging is not priced)."""
        tariff = _tariffs(tenant_of(app, Permission.READ)).get()
        if tariff is None:
            raise NotFound("no tariff is set")
        return tariff_view(tariff)

    @app.delete("/v1/tariff", tags=["tariff"])
    def delete_tariff() -> Response[str]:
        """Remove the tariff: charging is no longer priced (costs already recorded stay).
        Admin."""
        if not _tariffs(tenant_of(app, Permission.MANAGE_FLEET)).delete():
            raise NotFound("no tariff is set")
        return Response(204, "application/json", "")
