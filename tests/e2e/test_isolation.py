"""Tenant isolation: every endpoint of the API, called with tenant A's admin token against
tenant B's resources, answers 403 or 404 (or an empty list) and never shows B's data;
afterwards B's data is exactly as it was."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from ocpp.v16 import call

from .conftest import PASSWORD, Api, api_for, connected

pytestmark = pytest.mark.e2e

# Every route of the API, and the body tenant A sends to it. Filled in with B's ids.
ROUTES: dict[str, dict | None] = {
    "POST /v1/tenants": {"tenant_id": "intruder", "name": "x"},
    "GET /v1/tenants": None,
    "GET /v1/tenants/{tenant_id}": None,
    "PATCH /v1/tenants/{tenant_id}": {"api_rate_limit": 1},
    "POST /v1/tenants/{tenant_id}/suspend": {},
    "POST /v1/tenants/{tenant_id}/resume": {},
    "POST /v1/charge-points": {"charge_point_id": "{charge_point_id}"},
    "GET /v1/charge-points": None,
    "GET /v1/charge-points/{charge_point_id}": None,
    "PATCH /v1/charge-points/{charge_point_id}": {"description": "taken over"},
    "DELETE /v1/charge-points/{charge_point_id}": None,
    "POST /v1/charge-points/{charge_point_id}/enable": {},
    "POST /v1/charge-points/{charge_point_id}/disable": {},
    "POST /v1/charge-points/{charge_point_id}/password": {"password": "intruder-password-123"},
    "GET /v1/charge-points/{charge_point_id}/sessions": None,
    "GET /v1/charge-points/{charge_point_id}/reservations": None,
    "GET /v1/charge-points/{charge_point_id}/charging-profiles": None,
    "POST /v1/charge-points/{charge_point_id}/commands/{action}": {"type": "Hard"},
    "POST /v1/charge-points/{charge_point_id}/password/push": {},
    "GET /v1/charge-points/{charge_point_id}/variables": None,
    "GET /v1/charge-points/{charge_point_id}/certificates": None,
    "GET /v1/commands": None,
    "GET /v1/commands/{command_id}": None,
    "POST /v1/id-tags": {"id_tag": "A-OWN-TAG"},
    "GET /v1/id-tags": None,
    "GET /v1/id-tags/{id_tag}": None,
    "PUT /v1/id-tags/{id_tag}": {"status": "Accepted"},
    "DELETE /v1/id-tags/{id_tag}": None,
    "GET /v1/transactions": None,
    "GET /v1/transactions/statistics": None,
    "GET /v1/transactions/{transaction_id}": None,
    "POST /v1/transactions/{transaction_id}/close": {"reason": "taken over"},
    "GET /v1/meter-values": None,
    "GET /v1/messages": None,
}

# Filters naming B's resources, for the list endpoints.
FILTERS = {
    "/v1/commands": "charge_point_id",
    "/v1/transactions": "charge_point_id",
    "/v1/transactions/statistics": "charge_point_id",
    "/v1/meter-values": "charge_point_id",
    "/v1/messages": "charge_point_id",
}


class Victim:
    """Tenant B and everything it owns; every identifier carries one marker."""

    def __init__(self, gateway, fleet) -> None:
        self.marker = uuid.uuid4().hex[:10]
        self.tenant_id = f"b{self.marker}"
        self.charge_point_id = f"ZQ{self.marker}".upper()
        self.id_tag = f"ZQ{self.marker}".upper()
        admin = fleet.admin
        admin.create_tenant(self.tenant_id, f"victim {self.marker}")
        admin.add_charge_point(self.tenant_id, self.charge_point_id, PASSWORD)
        admin.add_id_tag(self.tenant_id, self.id_tag, "Accepted", None, None)
        self.api = api_for(gateway, self.tenant_id, "admin")
        self.admin = admin

    def snapshot(self) -> dict:
        db = self.admin.tenants.for_tenant(self.tenant_id).db
        registered = self.admin.directory.get_charge_point(self.charge_point_id)
        return {
            "registered": registered,
            "tenant": self.admin.directory.get_tenant(self.tenant_id),
            "id_tags": list(db["id_tags"].find()),
            "transactions": list(db["transactions"].find()),
            "commands": list(db["commands"].find()),
            "messages": db["ocpp_messages"].count_documents({}),
        }


@pytest.fixture(scope="module")
def victim(gateway, fleet) -> Victim:
    b = Victim(gateway, fleet)

    async def session() -> int:
        async with connected(gateway, b.charge_point_id) as (cp, _):
            await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
            started = await cp.call(call.StartTransaction(
                connector_id=1, id_tag=b.id_tag, meter_start=0,
                timestamp=datetime.now(UTC).isoformat()))
            await cp.call(call.MeterValues(connector_id=1, transaction_id=started.transaction_id,
                                           meter_value=[{"timestamp": datetime.now(UTC)
                                                         .isoformat(),
                                                         "sampledValue": [{"value": "5"}]}]))
            return started.transaction_id

    b.transaction_id = asyncio.run(session())
    queued = b.api.post(f"/v1/charge-points/{b.charge_point_id}/commands/ClearCache", {},
                        queue="true")
    assert queued.status == 202
    b.command_id = queued.json["command_id"]
    return b


@pytest.fixture(scope="module")
def intruder(gateway, fleet) -> Api:
    """Tenant A's administrator: a tenant with nothing of its own yet."""
    tenant_id = f"a{uuid.uuid4().hex[:10]}"
    fleet.admin.create_tenant(tenant_id, "intruder")
    return api_for(gateway, tenant_id, "admin")


def test_the_matrix_covers_every_route_of_the_api(gateway):
    document = Api(gateway.http_url, None).get("/v1/openapi.json").json
    documented = {
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method in operations
    }

    # The 2.0.1 blocks' routes have a matrix of their own (they need B's data of them).
    from .test_isolation_blocks_201 import BLOCK_ROUTES
    from .test_tariffs_201 import TARIFF_ROUTES

    assert documented == set(ROUTES) | set(BLOCK_ROUTES) | set(SITE_ROUTES) | set(TARIFF_ROUTES)


def fill(text: str, b: Victim) -> str:
    return (
        text.replace("{tenant_id}", b.tenant_id)
        .replace("{charge_point_id}", b.charge_point_id)
        .replace("{id_tag}", b.id_tag)
        .replace("{transaction_id}", str(b.transaction_id))
        .replace("{command_id}", b.command_id)
        .replace("{action}", "Reset")
    )


@pytest.mark.parametrize("route", list(ROUTES))
def test_tenant_a_cannot_reach_tenant_b(route, victim, intruder):
    before = victim.snapshot()
    method, template = route.split(" ", 1)
    path = fill(template, victim)
    body = ROUTES[route]
    if body is not None:
        body = {k: fill(v, victim) if isinstance(v, str) else v for k, v in body.items()}
    params = {FILTERS[template]: victim.charge_point_id} if template in FILTERS else {}

    reply = intruder.request(method, path, body, **params)

    names_b = "{" in template or template in FILTERS or route == "POST /v1/charge-points"
    if names_b:
        allowed = {403, 404, 409} if method == "POST" else {403, 404}
        if method == "GET" and template in FILTERS:
            allowed = {200}  # a filter naming B's charger selects nothing of A's
        assert reply.status in allowed, reply.text
    else:
        assert reply.status in {200, 201, 403}, reply.text
    assert victim.marker not in reply.text.lower()
    if method == "GET" and template in FILTERS and template != "/v1/transactions/statistics":
        assert reply.json["items"] == []
    assert victim.snapshot() == before


# Sites: tenant A names B's site (ids are per tenant) and B's charger.
SITE_ROUTES: dict[str, dict | None] = {
    "POST /v1/sites": {"site_id": "{site_id}", "name": "x", "limit": 10,
                       "charge_point_ids": ["{charge_point_id}"]},
    "GET /v1/sites": None,
    "GET /v1/sites/{site_id}": None,
    "PATCH /v1/sites/{site_id}": {"limit": 1000},
    "DELETE /v1/sites/{site_id}": None,
    "POST /v1/sites/{site_id}/charge-points": {"charge_point_ids": ["{charge_point_id}"]},
    "DELETE /v1/sites/{site_id}/charge-points/{charge_point_id}": None,
}


@pytest.fixture(scope="module")
def b_with_site(victim: Victim) -> Victim:
    victim.site_id = f"site-{victim.marker}"  # type: ignore[attr-defined]
    created = victim.api.post("/v1/sites", {
        "site_id": victim.site_id, "name": f"site {victim.marker}",  # type: ignore[attr-defined]
        "limit": 32, "charge_point_ids": [victim.charge_point_id]})
    assert created.status == 201, created.text
    return victim


@pytest.mark.parametrize("route", list(SITE_ROUTES))
def test_tenant_a_cannot_reach_tenant_bs_sites(route, b_with_site, intruder):
    b = b_with_site
    db = b.admin.tenants.for_tenant(b.tenant_id).db
    before = list(db["sites"].find()), list(db["site_members"].find())
    method, template = route.split(" ", 1)

    def filled(text: str) -> str:
        return fill(text, b).replace("{site_id}", b.site_id)

    body = SITE_ROUTES[route]
    if body is not None:
        body = {k: filled(v) if isinstance(v, str)
                else [filled(i) for i in v] if isinstance(v, list) else v
                for k, v in body.items()}
    reply = intruder.request(method, filled(template), body)

    if route == "GET /v1/sites":
        assert reply.status == 200 and reply.json["items"] == [], reply.text
    else:
        # POST /v1/sites names B's charger: A may not put it in a site of its own.
        assert reply.status in {403, 404}, reply.text
    assert b.marker not in reply.text.lower()
    assert (list(db["sites"].find()), list(db["site_members"].find())) == before
