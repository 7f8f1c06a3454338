"""A site limit end to end: two OCPP 1.6 chargers (the `ocpp` package's v16 client) and
one OCPP 2.0.1 charger (its v201 client) on one 32 A site, behind the local gateway, with
records going through SQS to the event worker as under `make run`. Each session start or
stop makes the worker divide the limit and send TxProfiles in each charger's version; at
no moment do the limits the chargers hold add up to more than the site's.

The /v1/sites routes run in this process, on a tenant API app with them installed, until
the tenant API installs them itself."""

from __future__ import annotations

import asyncio
import json
import math
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from csms import bootstrap
from csms.entrypoints.tenant_api import create_app, handle, routes_sites
from csms_local.admin import issue_token
from csms_local.gateway import GatewayLimits
from csms_local.http_api import http_api_event
from csms_local.lambdas import LambdaContext, load_handler
from csms_local.sqs_poller import SqsPoller, create_queues
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v16.enums import Action as Action16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201

from .conftest import GatewayThread, connected, start_gateway

pytestmark = pytest.mark.e2e

SITE_LIMIT = 32.0
STATION = {"model": "Wallbox 2", "vendor_name": "Acme"}


@pytest.fixture(scope="module")
def evented_gateway(csms_env, local_aws_url, mqtt_url) -> Iterator[GatewayThread]:
    """Records to SQS, a poller feeding event_worker (where the controller runs)."""
    patch = pytest.MonkeyPatch()
    queues = create_queues(local_aws_url, name=f"e2e-site-{uuid.uuid4().hex[:8]}", visibility=1)
    for name, value in {**queues, "MQTT_URL": mqtt_url, "AWS_ENDPOINT_URL": local_aws_url}.items():
        patch.setenv(name, value)
    running = start_gateway(GatewayLimits(), patch)
    poller = SqsPoller(local_aws_url, queues["EVENTS_QUEUE_URL"], load_handler("event_worker"))
    poller.start()
    yield running
    poller.stop()
    running.stop()
    patch.undo()
    bootstrap.reset()


class SitesApi:
    """The tenant API with /v1/sites installed, called in this process (the gateway's
    tenant API runs create_app in processes of its own)."""

    def __init__(self, tenant_id: str) -> None:
        self.app = create_app()
        if "POST/v1/sites" not in self.app._route_keys:  # until create_app installs them
            routes_sites.install(self.app)
        self.token = issue_token(tenant_id, "admin", 600, None)

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = b"" if body is None else json.dumps(body).encode()
        headers = [("authorization", f"Bearer {self.token}"),
                   ("content-type", "application/json")]
        event = http_api_event(method, path, headers, data, "127.0.0.1", 3000)
        result = handle(self.app, event, LambdaContext("tenant_api", uuid.uuid4().hex))
        text = result.get("body") or ""
        return result["statusCode"], json.loads(text) if text else None

    async def until_shares(self, site_id: str, wanted: set[tuple[str, float]]) -> Any:
        for _ in range(100):
            status, site = await asyncio.to_thread(self.call, "GET", f"/v1/sites/{site_id}")
            assert status == 200, site
            if {(s["charge_point_id"], s["limit"]) for s in site["shares"]} == wanted:
                return site
            await asyncio.sleep(0.1)
        raise AssertionError(f"the shares stayed {site['shares']}")


class Ledger:
    """The limit each charger holds now; every change is checked against the site's."""

    def __init__(self) -> None:
        self.limits: dict[str, float] = {}
        self.history: list[tuple[str, float]] = []
        self.changed = asyncio.Event()

    def set(self, cp_id: str, limit: float) -> None:
        limit = float(limit)  # the 1.6 client parses numbers as Decimal
        self.limits[cp_id] = limit
        self.history.append((cp_id, limit))
        assert math.fsum(self.limits.values()) <= SITE_LIMIT + 1e-6, self.history
        self.changed.set()

    def drop(self, cp_id: str) -> None:
        """The session ended: its profile went with it."""
        self.limits.pop(cp_id, None)

    async def until(self, wanted: Callable[[dict[str, float]], bool], seconds: float = 30) -> None:
        async def wait() -> None:
            while not wanted(self.limits):
                self.changed.clear()
                await self.changed.wait()

        try:
            await asyncio.wait_for(wait(), seconds)
        except TimeoutError:
            raise AssertionError(f"limits never became as wanted: {self.history}") from None


class Charger16(ChargePoint16):
    ledger: Ledger

    @on(Action16.set_charging_profile)
    def on_set_charging_profile(self, connector_id: int, cs_charging_profiles: dict, **_):
        profile = cs_charging_profiles
        assert profile["charging_profile_purpose"] == "TxProfile"
        assert isinstance(profile["transaction_id"], int)
        schedule = profile["charging_schedule"]
        assert schedule["charging_rate_unit"] == "A"
        self.ledger.set(self.id, schedule["charging_schedule_period"][0]["limit"])
        return result16.SetChargingProfile(status="Accepted")


class Station201(ChargePoint201):
    ledger: Ledger

    @on("SetChargingProfile")
    def on_set_charging_profile(self, evse_id: int, charging_profile: dict, **_):
        assert charging_profile["charging_profile_purpose"] == "TxProfile"
        assert charging_profile["transaction_id"] == "site-tx-b"
        [schedule] = charging_profile["charging_schedule"]
        self.ledger.set(self.id, schedule["charging_schedule_period"][0]["limit"])
        return result201.SetChargingProfile(status="Accepted")


def now() -> str:
    return datetime.now(UTC).isoformat()


async def start16(cp: ChargePoint16) -> int:
    await cp.call(call16.BootNotification(charge_point_model="M", charge_point_vendor="V"))
    started = await cp.call(call16.StartTransaction(connector_id=1, id_tag="ACCEPTED",
                                                    meter_start=0, timestamp=now()))
    return int(started.transaction_id)


def transaction_event(event_type: str, seq_no: int, **extra: Any) -> call201.TransactionEvent:
    return call201.TransactionEvent(
        event_type=event_type, timestamp=now(), trigger_reason="Authorized", seq_no=seq_no,
        transaction_info={"transaction_id": "site-tx-b"}, **extra)


async def test_a_site_limit_divided_among_16_and_201_sessions(evented_gateway, fleet):
    ledger = Ledger()
    a, b, c = (fleet.add_charge_point(name) for name in ("SITE-A", "SITE-B", "SITE-C"))
    sites = SitesApi(fleet.tenant_id)
    status, created = await asyncio.to_thread(sites.call, "POST", "/v1/sites", {
        "site_id": "depot", "name": "Depot", "limit": SITE_LIMIT, "unit": "A",
        "charge_point_ids": [a, b]})
    assert status == 201, created
    assert (created["min_session_limit"], created["allocated"]) == (6.0, 0)
    status, added = await asyncio.to_thread(
        sites.call, "POST", "/v1/sites/depot/charge-points", {"charge_point_ids": [c]})
    assert status == 200 and added["charge_point_ids"] == sorted([a, b, c])

    async with (
        connected(evented_gateway, a, client=Charger16) as (cp_a, _),
        connected(evented_gateway, b, subprotocols=("ocpp2.0.1",), client=Station201) as (
            cp_b, _),
        connected(evented_gateway, c, client=Charger16) as (cp_c, _),
    ):
        for cp in (cp_a, cp_b, cp_c):
            cp.ledger = ledger
        # One session: all of the limit.
        tx_a = await start16(cp_a)
        await ledger.until(lambda held: held.get(a) == 32.0)

        # A 2.0.1 session joins: the 1.6 one is lowered first, then it gets its half.
        await cp_b.call(call201.BootNotification(charging_station=STATION, reason="PowerUp"))
        await cp_b.call(transaction_event(
            "Started", 0, evse={"id": 1, "connector_id": 1},
            id_token={"id_token": "ACCEPTED", "type": "ISO14443"}))
        await ledger.until(lambda held: held.get(a) == 16.0 and held.get(b) == 16.0)
        assert ledger.history[-2:] == [(a, 16.0), (b, 16.0)]

        # A third: 10.7 + 10.7 + 10.6, the oldest sessions get the odd tenth.
        await start16(cp_c)
        await ledger.until(lambda held: held == {a: 10.7, b: 10.7, c: 10.6})

        # The run records the shares once the last charger answered: poll for them.
        site = await sites.until_shares("depot", {(a, 10.7), (b, 10.7), (c, 10.6)})
        assert site["allocated"] <= SITE_LIMIT

        # The 2.0.1 session ends: the others are raised to half each.
        ledger.drop(b)
        await cp_b.call(transaction_event("Ended", 1, evse={"id": 1, "connector_id": 1}))
        await ledger.until(lambda held: held == {a: 16.0, c: 16.0})

        # The operator lowers the site's limit: divided again at once, lowering first.
        status, patched = await asyncio.to_thread(
            sites.call, "PATCH", "/v1/sites/depot", {"limit": 20.0})
        assert status == 200, patched
        assert patched["limit"] == 20.0
        # Divided by this request, or by the worker's run still holding the site.
        await ledger.until(lambda held: held == {a: 10.0, c: 10.0})
        await sites.until_shares("depot", {(a, 10.0), (c, 10.0)})

        await cp_a.call(call16.StopTransaction(meter_stop=10, timestamp=now(),
                                               transaction_id=tx_a))
        ledger.drop(a)
        await ledger.until(lambda held: held == {c: 20.0})

    await sites.until_shares("depot", {(c, 20.0)})


async def test_site_routes_refuse_what_cannot_be(evented_gateway, fleet):
    sites = SitesApi(fleet.tenant_id)
    d = fleet.add_charge_point("SITE-D")
    status, _ = await asyncio.to_thread(sites.call, "POST", "/v1/sites", {
        "site_id": "yard", "name": "Yard", "limit": 22000, "unit": "W",
        "charge_point_ids": [d]})
    assert status == 201
    for body, expected in [
        ({"site_id": "yard", "name": "Again", "limit": 10}, 409),  # the id is taken
        ({"site_id": "y2", "name": "Y2", "limit": 10, "charge_point_ids": [d]}, 409),
        ({"site_id": "y3", "name": "Y3", "limit": 10, "charge_point_ids": ["NOPE"]}, 404),
        ({"site_id": "y4", "name": "Y4", "limit": 10, "min_session_limit": 11}, 422),
        ({"site_id": "y5", "name": "Y5", "limit": 0}, 422),
    ]:
        status, answer = await asyncio.to_thread(sites.call, "POST", "/v1/sites", body)
        assert status == expected, (body, answer)
    status, answer = await asyncio.to_thread(
        sites.call, "PATCH", "/v1/sites/yard", {"min_session_limit": 30000})
    assert status == 422, answer
    status, listed = await asyncio.to_thread(sites.call, "GET", "/v1/sites")
    [yard] = [s for s in listed["items"] if s["site_id"] == "yard"]
    assert (yard["unit"], yard["min_session_limit"]) == ("W", 1380.0)
    status, patched = await asyncio.to_thread(
        sites.call, "PATCH", "/v1/sites/yard", {"limit": 63, "unit": "A"})
    assert status == 200 and (patched["unit"], patched["min_session_limit"]) == ("A", 6.0)
    status, _ = await asyncio.to_thread(
        sites.call, "DELETE", f"/v1/sites/yard/charge-points/{d}")
    assert status == 200
    status, _ = await asyncio.to_thread(sites.call, "DELETE", "/v1/sites/yard")
    assert status == 204
    status, _ = await asyncio.to_thread(sites.call, "GET", "/v1/sites/yard")
    assert status == 404
