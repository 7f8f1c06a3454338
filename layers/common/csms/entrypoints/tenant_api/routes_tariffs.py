"""Tariffs (OCPP 2.0.1 block I): the tenant's default (/v1/tariff), a site's
(/v1/sites/{site_id}/tariff) and a charger's (/v1/charge-points/{charge_point_id}/tariff).

A transaction is priced by the most specific one when it starts (the charger's, else its
site's, else the default) and keeps it to its end. With one, 2.0.1 and 2.1 chargers hear
the running cost in TransactionEvent answers and in CostUpdated, and each ended
transaction keeps its final cost."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

from csms import bootstrap
from csms.adapters.mongo_sites import MongoSites
from csms.adapters.mongo_tariffs import MongoTariffs, tariffs_database
from csms.domain.access import Permission
from csms.domain.tariffs import (
    TENANT_DEFAULT,
    InvalidTariff,
    Tariff,
    TariffScope,
    minor_unit,
)
from csms.entrypoints.tenant_api.models_tariffs import TariffPut
from csms.services.fleet import NotFound

Json = dict[str, Any]

PRICING = (
    "From the next transaction on, 2.0.1 and 2.1 chargers get the running cost "
    "(`totalCost` in the answers to Updated events, CostUpdated at most once a minute per "
    "transaction) and the final cost (the Ended answer, the transaction's `total_cost`, "
    "the `transaction_stopped` event); running transactions keep the tariff they started "
    "under. Admin."
)


def _tariffs(tenant_id: str) -> MongoTariffs:
    # Like the tenant API's other reads, tariffs live in the tenant's own database.
    return MongoTariffs(tariffs_database(bootstrap.current().mongo, tenant_id))


def forget_tariff(tenant_id: str, scope: TariffScope) -> None:
    """Drop the tariff set on a site or charger being deleted: a new one created later
    under the same id must not inherit it."""
    _tariffs(tenant_id).delete(scope)


def tariff_view(tariff: Tariff) -> Json:
    return {
        "currency": tariff.currency,
        "minor_unit": minor_unit(tariff.currency),
        "energy_per_kwh": float(tariff.energy_per_kwh),
        "time_per_hour": float(tariff.time_per_hour),
        "session_fee": float(tariff.session_fee),
        "time_basis": tariff.time_basis.value,
        "updated_at": tariff.updated_at,
    }


def install(app: APIGatewayHttpResolver) -> None:
    from csms.entrypoints.tenant_api import error, tenant_of, to_json

    def put(tenant_id: str, scope: TariffScope, body: TariffPut) -> Response[str]:
        try:
            tariff = Tariff.of(body.currency, body.energy_per_kwh, body.time_per_hour,
                               body.session_fee, bootstrap.utc_now(), body.time_basis)
        except InvalidTariff as invalid:
            return error(422, str(invalid))
        _tariffs(tenant_id).put(tariff, scope)
        return Response(200, "application/json", to_json(tariff_view(tariff)))

    def get(tenant_id: str, scope: TariffScope) -> Json:
        tariff = _tariffs(tenant_id).get(scope)
        if tariff is None:
            raise NotFound("no tariff is set")
        return tariff_view(tariff)

    def delete(tenant_id: str, scope: TariffScope) -> Response[str]:
        if not _tariffs(tenant_id).delete(scope):
            raise NotFound("no tariff is set")
        return Response(204, "application/json", "")

    def site_scope(permission: Permission, site_id: str) -> tuple[str, TariffScope]:
        """The caller's tenant and the site's scope; 404 for a site the tenant lacks
        (another tenant's site is in another database: it is never found)."""
        tenant_id = tenant_of(app, permission)
        sites = MongoSites(tariffs_database(bootstrap.current().mongo, tenant_id))
        if sites.get(site_id) is None:
            raise NotFound("no such site")
        return tenant_id, TariffScope.site(site_id)

    def charge_point_scope(permission: Permission, charge_point_id: str) -> tuple[str, TariffScope]:
        """The caller's tenant and the charger's scope; 404 for a charger not its own."""
        tenant_id = tenant_of(app, permission)
        bootstrap.fleet_service().owned(tenant_id, charge_point_id)
        return tenant_id, TariffScope.charge_point(charge_point_id)

    def default_scope(permission: Permission) -> tuple[str, TariffScope]:
        return tenant_of(app, permission), TENANT_DEFAULT

    _install_default(app, put, get, delete, default_scope)
    _install_site(app, put, get, delete, site_scope)
    _install_charge_point(app, put, get, delete, charge_point_scope)


Put = Callable[[str, TariffScope, TariffPut], Response[str]]
Get = Callable[[str, TariffScope], Json]
Delete = Callable[[str, TariffScope], Response[str]]


def _install_default(app: APIGatewayHttpResolver, put: Put, get: Get, delete: Delete,
                     scope: Callable[[Permission], tuple[str, TariffScope]]) -> None:
    @app.put(
        "/v1/tariff",
        tags=["tariff"],
        description=(
            "Set the tenant's default tariff: a price per kWh, per hour (of charging, or "
            "of the whole transaction: `time_basis`) and a flat fee per transaction, in an "
            "ISO 4217 currency. It prices transactions of chargers without a tariff of "
            "their own or of their site. " + PRICING
        ),
    )
    def put_tariff(body: TariffPut) -> Response[str]:
        return put(*scope(Permission.MANAGE_FLEET), body)

    @app.get("/v1/tariff", tags=["tariff"])
    def get_tariff() -> Json:
        """The tenant's default tariff; 404 when it has none."""
        return get(*scope(Permission.READ))

    @app.delete("/v1/tariff", tags=["tariff"])
    def delete_tariff() -> Response[str]:
        """Remove the default tariff: chargers without their own or their site's are no
        longer priced (costs already recorded, and running transactions, keep theirs).
        Admin."""
        return delete(*scope(Permission.MANAGE_FLEET))


def _install_site(app: APIGatewayHttpResolver, put: Put, get: Get, delete: Delete,
                  scope: Callable[[Permission, str], tuple[str, TariffScope]]) -> None:
    @app.put(
        "/v1/sites/<site_id>/tariff",
        tags=["tariff"],
        description=(
            "Set the site's tariff (the body of PUT /v1/tariff): it prices the site's "
            "chargers that have no tariff of their own, in place of the tenant's default. "
            "404 for an unknown site. " + PRICING
        ),
    )
    def put_site_tariff(site_id: str, body: TariffPut) -> Response[str]:
        return put(*scope(Permission.MANAGE_FLEET, site_id), body)

    @app.get("/v1/sites/<site_id>/tariff", tags=["tariff"])
    def get_site_tariff(site_id: str) -> Json:
        """The site's own tariff; 404 when it has none or the site is unknown."""
        return get(*scope(Permission.READ, site_id))

    @app.delete("/v1/sites/<site_id>/tariff", tags=["tariff"])
    def delete_site_tariff(site_id: str) -> Response[str]:
        """Remove the site's tariff: its chargers fall back to the tenant's default from
        their next transaction on. Admin."""
        return delete(*scope(Permission.MANAGE_FLEET, site_id))


def _install_charge_point(app: APIGatewayHttpResolver, put: Put, get: Get, delete: Delete,
                          scope: Callable[[Permission, str], tuple[str, TariffScope]]) -> None:
    @app.put(
        "/v1/charge-points/<charge_point_id>/tariff",
        tags=["tariff"],
        description=(
            "Set the charger's own tariff (the body of PUT /v1/tariff): it prices the "
            "charger's transactions in place of its site's and the tenant's. 404 for a "
            "charger not the tenant's. " + PRICING
        ),
    )
    def put_charge_point_tariff(charge_point_id: str, body: TariffPut) -> Response[str]:
        return put(*scope(Permission.MANAGE_FLEET, charge_point_id), body)

    @app.get("/v1/charge-points/<charge_point_id>/tariff", tags=["tariff"])
    def get_charge_point_tariff(charge_point_id: str) -> Json:
        """The charger's own tariff; 404 when it has none or is not the tenant's."""
        return get(*scope(Permission.READ, charge_point_id))

    @app.delete("/v1/charge-points/<charge_point_id>/tariff", tags=["tariff"])
    def delete_charge_point_tariff(charge_point_id: str) -> Response[str]:
        """Remove the charger's tariff: it falls back to its site's or the tenant's
        default from its next transaction on. Admin."""
        return delete(*scope(Permission.MANAGE_FLEET, charge_point_id))
