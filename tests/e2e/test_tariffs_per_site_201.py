"""Tariffs per site and per charger, and time priced only while charging, end to end: the
tenant API sets them, and the `ocpp` package's v201 ChargePoint, through the local
gateway, hears the totalCost of the tariff its transaction started under."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ocpp.routing import on
from ocpp.v201 import ChargePoint, call

from .conftest import Api, api_for, connected

pytestmark = pytest.mark.e2e

V201 = ("ocpp2.0.1",)
STATION = {"model": "Wallbox 2", "vendor_name": "Acme"}
DEFAULT_TARIFF = {"currency": "EUR", "energy_per_kwh": 0.30}
SITE_TARIFF = {"currency": "EUR", "energy_per_kwh": 0.40, "session_fee": 1.00}
OWN_TARIFF = {"currency": "EUR", "energy_per_kwh": 0.50}
TOKEN = {"id_token": "ACCEPTED", "type": "ISO14443"}


class Station(ChargePoint):
    """A 2.0.1 station that accepts what the CSMS sends during a session: the site's
    charging profiles and CostUpdated."""

    @on("SetChargingProfile")
    def on_set_charging_profile(self, **_: Any) -> dict[str, str]:
        return {"status": "Accepted"}

    @on("CostUpdated")
    def on_cost_updated(self, **_: Any) -> dict[str, Any]:
        return {}


class Session:
    """One transaction's events, timed from `base` (an hour ago: the session is over
    by the time the test ends, as if it had been charging)."""

    def __init__(self, station: ChargePoint, tx: str) -> None:
        self.station, self.tx, self.seq_no = station, tx, 0
        self.base = datetime.now(UTC) - timedelta(hours=1)

    async def send(self, event_type: str, minutes: float, wh: float,
                   charging_state: str | None = None, stopped_reason: str | None = None,
                   **extra: Any) -> Any:
        at = (self.base + timedelta(minutes=minutes)).isoformat()
        info = {"transaction_id": self.tx, "charging_state": charging_state,
                "stopped_reason": stopped_reason}
        info = {key: value for key, value in info.items() if value is not None}
        answer = await self.station.call(call.TransactionEvent(
            event_type=event_type, timestamp=at, seq_no=self.seq_no,
            trigger_reason="Authorized" if event_type == "Started" else "MeterValuePeriodic",
            transaction_info=info, evse={"id": 1, "connector_id": 1},
            meter_value=[{"timestamp": at, "sampled_value": [
                {"value": wh, "measurand": "Energy.Active.Import.Register"}]}],
            **extra))
        self.seq_no += 1
        return answer


@pytest.fixture(scope="module")
def admin(gateway, fleet) -> Api:
    api = api_for(gateway, fleet.tenant_id, "admin")
    assert api.put("/v1/tariff", DEFAULT_TARIFF).status == 200
    return api


@pytest.fixture(scope="module")
def site(admin: Api, fleet) -> str:
    """A site of two chargers, priced by its own tariff."""
    site_id = f"site-{fleet.suffix}"
    created = admin.post("/v1/sites", {
        "site_id": site_id, "name": "depot", "limit": 1000,
        "charge_point_ids": [fleet.add_charge_point("SITE-A"),
                             fleet.add_charge_point("SITE-B")]})
    assert created.status == 201, created.text
    put = admin.put(f"/v1/sites/{site_id}/tariff", SITE_TARIFF)
    assert put.status == 200, put.text
    return site_id


async def charge(gateway, cp_id: str, kwh: float) -> tuple[Any, Any]:
    """A session delivering `kwh`: its Updated and Ended answers."""
    async with connected(gateway, cp_id, subprotocols=V201, client=Station) as (cp, _):
        await cp.call(call.BootNotification(charging_station=STATION, reason="PowerUp"))
        session = Session(cp, f"TX-{uuid.uuid4().hex[:8]}")
        await session.send("Started", 0, 0, id_token=TOKEN)
        updated = await session.send("Updated", 1, kwh * 500)
        ended = await session.send("Ended", 2, kwh * 1000, stopped_reason="EVDisconnected")
        return updated, ended


async def test_a_charger_in_a_site_is_priced_by_the_sites_tariff(gateway, fleet, site):
    updated, ended = await charge(gateway, fleet.cp("SITE-A"), kwh=10)
    assert updated.total_cost == 3.0  # 1.00 + 5 kWh x 0.40
    assert ended.total_cost == 5.0  # 1.00 + 10 kWh x 0.40


async def test_a_chargers_own_tariff_wins_over_its_sites(gateway, fleet, admin, site):
    cp_id = fleet.cp("SITE-B")
    assert admin.put(f"/v1/charge-points/{cp_id}/tariff", OWN_TARIFF).status == 200
    _, ended = await charge(gateway, cp_id, kwh=10)
    assert ended.total_cost == 5.0  # 10 kWh x 0.50, no session fee


async def test_a_charger_in_no_site_is_priced_by_the_default(gateway, fleet, admin):
    _, ended = await charge(gateway, fleet.add_charge_point("LONE"), kwh=10)
    assert ended.total_cost == 3.0  # 10 kWh x 0.30


async def test_a_suspended_period_is_not_priced_as_time(gateway, fleet, admin):
    cp_id = fleet.add_charge_point("SUSPENDED")
    time_only = {"currency": "EUR", "time_per_hour": 6.00}
    assert admin.put(f"/v1/charge-points/{cp_id}/tariff", time_only).status == 200
    async with connected(gateway, cp_id, subprotocols=V201, client=Station) as (cp, _):
        await cp.call(call.BootNotification(charging_station=STATION, reason="PowerUp"))
        session = Session(cp, f"TX-{uuid.uuid4().hex[:8]}")
        await session.send("Started", 0, 0, "Charging", id_token=TOKEN)
        await session.send("Updated", 20, 5000, "SuspendedEV")
        paused = await session.send("Updated", 50, 5000, "Charging")
        ended = await session.send("Ended", 60, 6000, "EVConnected")
    assert paused.total_cost == 2.0  # 20 minutes charging x 6.00 per hour
    assert ended.total_cost == 3.0  # 20 + 10 minutes, not the hour at the charger


async def test_the_session_basis_prices_the_whole_session(gateway, fleet, admin):
    cp_id = fleet.add_charge_point("SESSION")
    by_session = {"currency": "EUR", "time_per_hour": 6.00, "time_basis": "session"}
    assert admin.put(f"/v1/charge-points/{cp_id}/tariff", by_session).status == 200
    async with connected(gateway, cp_id, subprotocols=V201, client=Station) as (cp, _):
        await cp.call(call.BootNotification(charging_station=STATION, reason="PowerUp"))
        session = Session(cp, f"TX-{uuid.uuid4().hex[:8]}")
        await session.send("Started", 0, 0, "Charging", id_token=TOKEN)
        await session.send("Updated", 20, 5000, "SuspendedEV")
        ended = await session.send("Ended", 60, 6000, "EVConnected")
    assert ended.total_cost == 6.0


def test_site_and_charger_tariff_routes(gateway, fleet, admin, site):
    viewer = api_for(gateway, fleet.tenant_id, "viewer")
    shown = viewer.get(f"/v1/sites/{site}/tariff")
    assert shown.status == 200, shown.text
    assert {k: shown.json[k] for k in SITE_TARIFF} == SITE_TARIFF
    assert shown.json["time_basis"] == "charging"
    cp_id = fleet.add_charge_point("ROUTES")
    assert viewer.put(f"/v1/charge-points/{cp_id}/tariff", OWN_TARIFF).status == 403
    assert admin.get(f"/v1/charge-points/{cp_id}/tariff").status == 404  # none of its own
    assert admin.put(f"/v1/charge-points/{cp_id}/tariff",
                     OWN_TARIFF | {"time_basis": "parking"}).status == 422
    assert admin.put(f"/v1/charge-points/{cp_id}/tariff", OWN_TARIFF).status == 200
    assert viewer.delete(f"/v1/charge-points/{cp_id}/tariff").status == 403
    assert admin.delete(f"/v1/charge-points/{cp_id}/tariff").status == 204
    assert admin.delete(f"/v1/charge-points/{cp_id}/tariff").status == 404


def test_a_site_created_again_under_a_deleted_ones_id_has_no_tariff(admin, fleet):
    site_id = f"again-{fleet.suffix}"
    assert admin.post("/v1/sites", {"site_id": site_id, "name": "x", "limit": 100}).status == 201
    assert admin.put(f"/v1/sites/{site_id}/tariff", SITE_TARIFF).status == 200
    assert admin.delete(f"/v1/sites/{site_id}").status == 204
    assert admin.post("/v1/sites", {"site_id": site_id, "name": "x", "limit": 100}).status == 201
    assert admin.get(f"/v1/sites/{site_id}/tariff").status == 404


def test_a_charger_registered_again_under_a_deleted_ones_id_has_no_tariff(admin, fleet):
    cp_id = fleet.add_charge_point("AGAIN")
    assert admin.put(f"/v1/charge-points/{cp_id}/tariff", OWN_TARIFF).status == 200
    assert admin.delete(f"/v1/charge-points/{cp_id}").status == 204
    fleet.add_charge_point("AGAIN")
    assert admin.get(f"/v1/charge-points/{cp_id}/tariff").status == 404


@pytest.mark.parametrize("path", ["/v1/sites/no-such-site/tariff",
                                  "/v1/charge-points/NO-SUCH-CP/tariff"])
def test_unknown_sites_and_chargers_are_not_found(admin, path):
    assert admin.put(path, OWN_TARIFF).status == 404
    assert admin.get(path).status == 404
    assert admin.delete(path).status == 404


def test_the_routes_are_in_the_openapi_document(admin):
    paths = admin.get("/v1/openapi.json").json["paths"]
    for path in ("/v1/sites/{site_id}/tariff", "/v1/charge-points/{charge_point_id}/tariff"):
        assert set(paths[path]) == {"get", "put", "delete"}, path
        body = paths[path]["put"]["requestBody"]["content"]["application/json"]["schema"]
        assert body["$ref"].endswith("/TariffPut")


# Isolation: tenant A names B's site and B's charger; they are never A's.
SCOPED_TARIFF_ROUTES: dict[str, dict | None] = {
    "GET /v1/sites/{site_id}/tariff": None,
    "PUT /v1/sites/{site_id}/tariff": {"currency": "USD", "energy_per_kwh": 9},
    "DELETE /v1/sites/{site_id}/tariff": None,
    "GET /v1/charge-points/{charge_point_id}/tariff": None,
    "PUT /v1/charge-points/{charge_point_id}/tariff": {"currency": "USD", "energy_per_kwh": 9},
    "DELETE /v1/charge-points/{charge_point_id}/tariff": None,
}


@pytest.mark.parametrize("route", list(SCOPED_TARIFF_ROUTES))
def test_tenant_a_cannot_reach_tenant_bs_site_or_charger_tariffs(route, gateway, fleet, admin,
                                                                 site):
    b_charger = fleet.cp("SITE-A")
    recognisable = OWN_TARIFF | {"energy_per_kwh": 0.777}
    assert admin.put(f"/v1/charge-points/{b_charger}/tariff", recognisable).status == 200
    stored = list(fleet.db["tariff"].find())
    intruder_tenant = f"a{uuid.uuid4().hex[:10]}"
    fleet.admin.create_tenant(intruder_tenant, "intruder")
    a = api_for(gateway, intruder_tenant, "admin")
    method, template = route.split(" ", 1)
    path = template.replace("{site_id}", site).replace("{charge_point_id}", b_charger)

    reply = a.request(method, path, SCOPED_TARIFF_ROUTES[route])

    assert reply.status == 404, reply.text
    assert "0.777" not in reply.text
    assert list(fleet.db["tariff"].find()) == stored
    assert admin.delete(f"/v1/charge-points/{b_charger}/tariff").status == 204
