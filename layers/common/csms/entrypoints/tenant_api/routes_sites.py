"""/v1/sites: a tenant's sites, each a group of chargers under one maximum current or
power that the CSMS divides among their active sessions (services/site_limit.py)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

from csms import bootstrap
from csms.adapters.mongo_queries import Page
from csms.adapters.mongo_sites import (
    ChargePointInAnotherSite,
    MongoSites,
    SiteExists,
    sites_database,
)
from csms.domain.access import Permission
from csms.domain.charging_profiles import RateUnit
from csms.domain.tariffs import TariffScope
from csms.entrypoints.tenant_api import views
from csms.entrypoints.tenant_api.models import Limit, Offset
from csms.entrypoints.tenant_api.models_sites import SiteChargePoints, SiteCreate, SiteUpdate
from csms.entrypoints.tenant_api.routes_tariffs import forget_tariff
from csms.observability import logger
from csms.services.fleet import Conflict, NotFound
from csms.services.site_limit import Site

Json = dict[str, Any]


def _sites(tenant_id: str) -> MongoSites:
    # Like the tenant API's other reads, sites live in the tenant's own database.
    return MongoSites(sites_database(bootstrap.current().mongo, tenant_id))


def site_view(site: Site, sites: MongoSites) -> Json:
    shares = sites.shares(site.site_id)
    return {
        "site_id": site.site_id,
        "name": site.name,
        "limit": site.limit,
        "unit": site.unit.value,
        "min_session_limit": site.minimum,
        "charge_point_ids": list(site.charge_point_ids),
        "created_at": site.created_at,
        "updated_at": site.updated_at,
        # What each active session was last sent, and their sum (never above `limit`).
        "shares": [asdict(share) for share in shares],
        "allocated": round(sum(share.limit for share in shares), 6),
    }


def _rebalance(tenant_id: str, site_id: str) -> None:
    """Divide the site again after the operator changed it. Its failures are logged:
    the change is stored, and the next session start or stop divides again."""
    try:
        controller = bootstrap.site_limits()
        if controller is not None:
            controller.rebalance(tenant_id, site_id)
    except Exception:
        logger.exception("site limit: dividing after a change failed",
                         extra={"tenant_id": tenant_id, "site_id": site_id})


def install(app: APIGatewayHttpResolver) -> None:
    from csms.entrypoints.tenant_api import error, tenant_of, to_json

    def reader() -> str:
        return tenant_of(app, Permission.READ)

    def manager() -> str:
        return tenant_of(app, Permission.MANAGE_FLEET)

    def owned_site(sites: MongoSites, site_id: str) -> Site:
        site = sites.get(site_id)
        if site is None:
            raise NotFound("no such site")
        return site

    def check_owned(tenant_id: str, charge_point_ids: list[str]) -> None:
        fleet = bootstrap.fleet_service()
        for cp in charge_point_ids:
            fleet.owned(tenant_id, cp)

    @app.post(
        "/v1/sites",
        tags=["sites"],
        description=(
            "Create a site: chargers (1.6 and 2.0.1 alike) that share one grid connection "
            "of at most `limit` amperes per phase (`unit` A) or watts (W). When a session "
            "starts or stops on one of them, or an EV reports its charging needs, the CSMS "
            "divides the limit among the active sessions and sends each a TxProfile, "
            "lowering before raising. 409 when the id is taken or a charger is in "
            "another site. Admin."
        ),
    )
    def create_site(body: SiteCreate) -> Response[str]:
        tenant_id = manager()
        check_owned(tenant_id, body.charge_point_ids)
        sites = _sites(tenant_id)
        now = bootstrap.utc_now()
        site = Site(body.site_id, body.name, body.limit, RateUnit(body.unit),
                    tuple(dict.fromkeys(body.charge_point_ids)), body.min_session_limit,
                    now, now)
        try:
            created = sites.create(site)
        except SiteExists:
            raise Conflict("a site with this id exists") from None
        except ChargePointInAnotherSite as taken:
            raise Conflict(str(taken)) from None
        if created.charge_point_ids:
            _rebalance(tenant_id, created.site_id)
        return Response(201, "application/json", to_json(site_view(created, sites)),
                        headers={"Location": f"/v1/sites/{created.site_id}"})

    @app.get("/v1/sites", tags=["sites"])
    def list_sites(limit: Limit = 50, offset: Offset = 0) -> Json:
        """The tenant's sites, by id, with their chargers and current shares."""
        sites = _sites(reader())
        found = [site_view(site, sites) for site in sites.all(limit, offset)]
        return views.page(Page(found, limit, offset))

    @app.get("/v1/sites/<site_id>", tags=["sites"])
    def get_site(site_id: str) -> Json:
        """The site, its chargers, and what each active session was last given."""
        sites = _sites(reader())
        return site_view(owned_site(sites, site_id), sites)

    @app.patch("/v1/sites/<site_id>", tags=["sites"])
    def update_site(site_id: str, body: SiteUpdate) -> Response[str]:
        """Change the name, limit, unit or minimum (null: the default); the limit is
        divided again at once. 422 when the minimum would be above the limit. Admin."""
        tenant_id = manager()
        sites = _sites(tenant_id)
        site = owned_site(sites, site_id)
        changes = body.model_dump(exclude_unset=True)
        if any(value is None for key, value in changes.items() if key != "min_session_limit"):
            return error(422, "name, limit and unit cannot be unset")
        limit = changes.get("limit", site.limit)
        minimum = changes.get("min_session_limit", site.min_session_limit)
        if minimum is not None and minimum > limit:
            return error(422, "min_session_limit is above the limit: no session could charge")
        updated = sites.update(site_id, changes, bootstrap.utc_now())
        if updated is None:
            raise NotFound("no such site")
        if updated.unit is not site.unit:
            # Shares in the old unit compare with nothing: every session gets a new one,
            # as a session that had none would.
            sites.save_shares(site_id, [])
        if set(changes) - {"name"}:
            _rebalance(tenant_id, site_id)
        return Response(200, "application/json", to_json(site_view(updated, sites)))

    @app.delete("/v1/sites/<site_id>", tags=["sites"])
    def delete_site(site_id: str) -> Response[str]:
        """Remove the site; its chargers keep their last TxProfiles until their sessions
        end. Admin."""
        tenant_id = manager()
        if not _sites(tenant_id).delete(site_id):
            raise NotFound("no such site")
        forget_tariff(tenant_id, TariffScope.site(site_id))
        return Response(204, "application/json", "")

    @app.post("/v1/sites/<site_id>/charge-points", tags=["sites"])
    def add_charge_points(site_id: str, body: SiteChargePoints) -> Json:
        """Add chargers to the site (409 when one is in another site); the limit is divided
        again at once. Admin."""
        tenant_id = manager()
        check_owned(tenant_id, body.charge_point_ids)
        sites = _sites(tenant_id)
        owned_site(sites, site_id)
        try:
            sites.assign(site_id, list(dict.fromkeys(body.charge_point_ids)))
        except ChargePointInAnotherSite as taken:
            raise Conflict(str(taken)) from None
        _rebalance(tenant_id, site_id)
        return site_view(owned_site(sites, site_id), sites)

    @app.delete("/v1/sites/<site_id>/charge-points/<charge_point_id>", tags=["sites"])
    def remove_charge_point(site_id: str, charge_point_id: str) -> Json:
        """Take a charger out of the site; the others share the limit from now on. Admin."""
        tenant_id = manager()
        sites = _sites(tenant_id)
        owned_site(sites, site_id)
        if not sites.unassign(site_id, charge_point_id):
            raise NotFound("the charge point is not in this site")
        _rebalance(tenant_id, site_id)
        return site_view(owned_site(sites, site_id), sites)
