"""Tariff and cost (2.0.1 block I) end to end: a tenant tariff through the tenant API, a
raw-frame 2.0.1 station behind the local gateway charging under it (totalCost in the
TransactionEvent answers), a CostUpdated pushed to it, and the final cost on the
transaction the API shows."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from csms import bootstrap
from csms.domain.model import MeterValue
from csms.entrypoints.tenant_api import create_app, handle, routes_tariffs
from csms.services.tariffs import CostUpdates
from csms_local.admin import issue_token
from csms_local.http_api import http_api_event

from .conftest import Reply, api_for
from .test_commands_201 import station
from .test_tariffs_per_site_201 import SCOPED_TARIFF_ROUTES

pytestmark = pytest.mark.e2e

Payload = dict[str, Any]
TARIFF = {"currency": "EUR", "energy_per_kwh": 0.30, "time_per_hour": 1.20, "session_fee": 0.50}


class TariffApi:
    """/v1/tariff through the local gateway's tenant API; while the routes are not
    installed there (tenant_api/__init__.py), through an in-process copy of the tenant
    API with them installed, admitted and resolved as the Lambda does."""

    _local = None

    def __init__(self, gateway, tenant_id: str, role: str) -> None:
        self.remote = api_for(gateway, tenant_id, role)
        self.token = issue_token(tenant_id, role, 600, None)

    def request(self, method: str, body: object = None) -> Reply:
        reply = self.remote.request(method, "/v1/tariff", body)
        if reply.status != 404 or "Not found" not in reply.text:
            return reply  # the gateway's tenant API has the routes
        if TariffApi._local is None:
            app = create_app()
            routes_tariffs.install(app)
            TariffApi._local = app
        data = b"" if body is None else json.dumps(body).encode()
        headers = [("authorization", f"Bearer {self.token}"),
                   ("content-type", "application/json")]
        event = http_api_event(method, "/v1/tariff", headers, data, "127.0.0.1", 3000)
        answer = handle(TariffApi._local, event, None)
        return Reply(answer["statusCode"], answer.get("headers") or {}, answer.get("body") or "")


def at(base: datetime, seconds: float) -> str:
    return (base + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def tx_event(base: datetime, event_type: str, seq_no: int, seconds: float, wh: float,
             tx: str, **info: Any) -> Payload:
    return {
        "eventType": event_type, "timestamp": at(base, seconds), "seqNo": seq_no,
        "triggerReason": "MeterValuePeriodic" if event_type == "Updated" else "Authorized",
        "transactionInfo": {"transactionId": tx, **info},
        "evse": {"id": 1, "connectorId": 1},
        "meterValue": [{"timestamp": at(base, seconds), "sampledValue": [
            {"value": wh, "measurand": "Energy.Active.Import.Register"}]}],
    }


def test_tariff_routes_and_who_may_use_them(gateway, fleet):
    admin = TariffApi(gateway, fleet.tenant_id, "admin")
    viewer = TariffApi(gateway, fleet.tenant_id, "viewer")
    assert admin.request("GET").status == 404  # not priced yet
    assert viewer.request("PUT", TARIFF).status == 403
    assert admin.request("PUT", TARIFF | {"currency": "euro"}).status == 422
    assert admin.request("PUT", TARIFF | {"session_fee": -1}).status == 422
    assert admin.request("PUT", TARIFF | {"vat": 0.2}).status == 422
    put = admin.request("PUT", TARIFF)
    assert put.status == 200, put.text
    shown = viewer.request("GET")
    assert shown.status == 200
    assert {k: shown.json[k] for k in TARIFF} == TARIFF
    assert shown.json["minor_unit"] == 2
    assert viewer.request("DELETE").status == 403
    assert admin.request("DELETE").status == 204
    assert admin.request("GET").status == 404
    assert admin.request("DELETE").status == 404


async def test_running_and_final_cost_and_cost_updated(gateway, fleet):
    cp_id = fleet.add_charge_point("TARIFF")
    admin = TariffApi(gateway, fleet.tenant_id, "admin")
    assert admin.request("PUT", TARIFF).status == 200
    base = datetime.now(UTC) - timedelta(hours=1)
    tx = "TX-COST-1"
    async with station(gateway, cp_id) as cs:
        cs.answers["CostUpdated"] = lambda request: {}
        started = await cs.call("TransactionEvent", tx_event(base, "Started", 0, 0, 1000, tx)
                                | {"idToken": {"idToken": "ACCEPTED", "type": "ISO14443"}})
        assert started["idTokenInfo"]["status"] == "Accepted"
        assert "totalCost" not in started
        updated = await cs.call("TransactionEvent",
                                tx_event(base, "Updated", 1, 1800, 6000, tx))
        # 0.50 + 5 kWh x 0.30 + 0.5 h x 1.20
        assert updated == {"totalCost": 2.6}

        # What the event worker does once it stored these meter values: the CSMS pushes
        # CostUpdated, once a minute per transaction at most.
        pushes = CostUpdates(bootstrap.tenant_store(), bootstrap.command_service(),
                             records=bootstrap.records())
        values = [MeterValue(cp_id, 1, base, [], tx)]
        assert pushes.after_stored(fleet.tenant_id, values, datetime.now(UTC)) == [tx]
        assert pushes.after_stored(fleet.tenant_id, values, datetime.now(UTC)) == []
        for _ in range(100):
            if cs.asked("CostUpdated"):
                break
            await asyncio.sleep(0.05)
        assert cs.asked("CostUpdated") == [{"totalCost": 2.6, "transactionId": tx}]

        ended = await cs.call("TransactionEvent", tx_event(
            base, "Ended", 2, 3600, 11000, tx, stoppedReason="EVDisconnected"))
        assert ended == {"totalCost": 4.7}  # 0.50 + 3.00 + 1.20

    api = api_for(gateway, fleet.tenant_id, "viewer")
    shown = api.get(f"/v1/transactions/{tx}", charge_point_id=cp_id)
    assert shown.status == 200, shown.text
    assert (shown.json["total_cost"], shown.json["currency"], shown.json["energy_wh"]) == (
        4.7, "EUR", 10000)
    command = fleet.db["commands"].find_one({"charge_point_id": cp_id, "action": "CostUpdated"})
    assert command is not None and command["status"] == "completed"
    assert admin.request("DELETE").status == 204


# Isolation: the default tariff is the caller's tenant's, found by no id, so tenant A's
# routes only ever read or change A's. test_isolation.py's route matrix takes these in,
# and the site's and charger's tariff routes (test_tariffs_per_site_201.py).
DEFAULT_TARIFF_ROUTES = {
    "GET /v1/tariff": None,
    "PUT /v1/tariff": {"currency": "USD", "energy_per_kwh": 9},
    "DELETE /v1/tariff": None,
}
TARIFF_ROUTES = DEFAULT_TARIFF_ROUTES | SCOPED_TARIFF_ROUTES


@pytest.mark.parametrize("route", list(DEFAULT_TARIFF_ROUTES))
def test_tenant_a_cannot_reach_tenant_bs_tariff(route, gateway, fleet):
    b = TariffApi(gateway, fleet.tenant_id, "admin")
    own = TARIFF | {"energy_per_kwh": 0.777}  # B's, recognisable
    assert b.request("PUT", own).status == 200
    stored = fleet.db["tariff"].find_one()
    intruder_tenant = f"a{uuid.uuid4().hex[:10]}"
    fleet.admin.create_tenant(intruder_tenant, "intruder")
    a = TariffApi(gateway, intruder_tenant, "admin")
    method, _ = route.split(" ", 1)

    reply = a.request(method, TARIFF_ROUTES[route])

    assert reply.status in {200, 204, 404}, reply.text
    assert "0.777" not in reply.text
    if method == "GET":
        assert reply.status == 404  # A has none: B's is not A's
    assert fleet.db["tariff"].find_one() == stored
    assert b.request("GET").json["energy_per_kwh"] == 0.777
    b.request("DELETE")
