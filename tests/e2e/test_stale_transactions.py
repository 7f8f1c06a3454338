"""Transactions their chargers never stopped, end to end: a real OCPP 1.6 client through
the local gateway, events on a real MQTT broker, and the tenant API over HTTP.

A charger that loses power mid-session never sends StopTransaction; its next
StartTransaction on that connector closes the old one as Superseded. Operators close the
rest by hand, and a tenant chooses whether one id tag may charge at two chargers at once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from csms import bootstrap
from csms_local.admin import issue_token
from csms_local.gateway import GatewayLimits
from ocpp.v16 import call

from tests.event_schemas import validate_event
from tests.mqtt_subscriber import Subscriber

from .conftest import Api, Fleet, GatewayThread, api_for, connected, start_gateway

pytestmark = pytest.mark.e2e

ENERGY = "Energy.Active.Import.Register"


@pytest.fixture(scope="module")
def published_gateway(csms_env, mqtt_url) -> Iterator[GatewayThread]:
    """The gateway with events published to the broker as each invocation ends."""
    patch = pytest.MonkeyPatch()
    patch.setenv("MQTT_URL", mqtt_url)
    running = start_gateway(GatewayLimits(), patch)
    yield running
    running.stop()
    patch.undo()
    bootstrap.reset()


@pytest.fixture
def id_tag(fleet: Fleet) -> str:
    """An Accepted id tag of this test alone (other tests' open transactions stay open)."""
    tag = f"T{uuid.uuid4().hex[:12]}"
    fleet.admin.add_id_tag(fleet.tenant_id, tag, "Accepted", None, None)
    return tag


@pytest.fixture
def platform(published_gateway) -> Api:
    return api_for(published_gateway, None, "platform-admin")


@pytest.fixture
def concurrent_transactions(platform: Api, fleet: Fleet) -> Iterator[Callable[..., None]]:
    """Sets the module tenant's ConcurrentTx policy for one test, then the default back."""

    def set_policy(policy: str, window_minutes: int = 60) -> None:
        reply = platform.patch(f"/v1/tenants/{fleet.tenant_id}", {
            "concurrent_transactions": policy, "concurrent_tx_window_minutes": window_minutes})
        assert reply.status == 200, reply.text

    yield set_policy
    set_policy("allow")


def now() -> str:
    return datetime.now(UTC).isoformat()


async def start(cp, id_tag: str, connector_id: int = 1, meter_start: int = 1000):
    return await cp.call(call.StartTransaction(connector_id=connector_id, id_tag=id_tag,
                                               meter_start=meter_start, timestamp=now()))


async def open_transaction(gateway: GatewayThread, cp_id: str, id_tag: str) -> int:
    """A session whose charger then loses power: started, metered, never stopped."""
    async with connected(gateway, cp_id) as (cp, _):
        await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        started = await start(cp, id_tag)
        await cp.call(call.MeterValues(
            connector_id=1, transaction_id=started.transaction_id,
            meter_value=[{"timestamp": now(), "sampledValue": [
                {"value": "3.75", "measurand": ENERGY, "unit": "kWh"}]}]))
    return started.transaction_id


def transaction(fleet: Fleet, transaction_id: int) -> dict:
    return fleet.db["transactions"].find_one({"_id": transaction_id})


def current_transaction(fleet: Fleet, cp_id: str, connector: int = 1) -> int | None:
    state = fleet.db["charge_points"].find_one({"_id": cp_id})
    return state["connectors"][str(connector)]["transaction_id"]


# Superseded


async def test_a_start_after_power_loss_supersedes_the_open_transaction(
    published_gateway, fleet, id_tag
):
    cp_id = fleet.add_charge_point("POWERLOSS")
    old = await open_transaction(published_gateway, cp_id, id_tag)
    async with connected(published_gateway, cp_id) as (cp, _):
        await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        started = await start(cp, id_tag, meter_start=3750)

    assert started.id_tag_info["status"] == "Accepted"
    assert started.transaction_id != old
    superseded = transaction(fleet, old)
    assert (superseded["status"], superseded["stop_reason"]) == ("Completed", "Superseded")
    assert (superseded["meter_stop"], superseded["energy_wh"]) == (3750, 2750)
    assert current_transaction(fleet, cp_id) == started.transaction_id


async def test_superseding_publishes_transaction_stopped_with_reason_superseded(
    published_gateway, fleet, id_tag, mqtt_url
):
    cp_id = fleet.add_charge_point("SUPEREVENT")
    subscriber = Subscriber(mqtt_url, f"ocpp/events/{fleet.tenant_id}/{cp_id}/session")
    old = await open_transaction(published_gateway, cp_id, id_tag)
    async with connected(published_gateway, cp_id) as (cp, _):
        started = await start(cp, id_tag)

    received = await asyncio.to_thread(subscriber.wait_for, lambda m: any(
        e["type"] == "transaction_stopped" for _, e in m))
    subscriber.close()
    [stopped] = [e for _, e in received if e["type"] == "transaction_stopped"]
    validate_event(stopped)
    assert stopped["data"]["transaction_id"] == old
    assert stopped["data"]["reason"] == "Superseded"
    assert stopped["data"]["superseded_by"] == started.transaction_id


# The ConcurrentTx policy


async def test_allow_accepts_one_id_tag_at_two_chargers(
    published_gateway, fleet, id_tag, concurrent_transactions
):
    concurrent_transactions("allow")
    first, second = fleet.add_charge_point("ALLOW-A"), fleet.add_charge_point("ALLOW-B")
    async with (
        connected(published_gateway, first) as (a, _),
        connected(published_gateway, second) as (b, _),
    ):
        at_first = await start(a, id_tag)
        at_second = await start(b, id_tag)

    assert at_first.id_tag_info["status"] == "Accepted"
    assert at_second.id_tag_info["status"] == "Accepted"


async def test_reject_answers_concurrent_tx_while_the_other_charger_is_live(
    published_gateway, fleet, id_tag, concurrent_transactions
):
    concurrent_transactions("reject", window_minutes=10)
    first, second = fleet.add_charge_point("REJECT-A"), fleet.add_charge_point("REJECT-B")
    async with (
        connected(published_gateway, first) as (a, _),
        connected(published_gateway, second) as (b, _),
    ):
        at_first = await start(a, id_tag)
        await a.call(call.Heartbeat())
        at_second = await start(b, id_tag)

    assert at_first.id_tag_info["status"] == "Accepted"
    assert at_second.id_tag_info["status"] == "ConcurrentTx"


def test_the_concurrent_transaction_settings_are_shown_with_their_defaults(platform, fleet):
    tenant = platform.get(f"/v1/tenants/{fleet.tenant_id}").json
    assert (tenant["concurrent_transactions"], tenant["concurrent_tx_window_minutes"]) == (
        "allow", 60)


def test_the_platform_admin_changes_the_concurrent_transaction_settings(
    platform, fleet, concurrent_transactions
):
    concurrent_transactions("reject", window_minutes=15)
    tenant = platform.get(f"/v1/tenants/{fleet.tenant_id}").json
    assert (tenant["concurrent_transactions"], tenant["concurrent_tx_window_minutes"]) == (
        "reject", 15)


@pytest.mark.parametrize("change", [
    {"concurrent_transactions": "sometimes"},
    {"concurrent_tx_window_minutes": 0},
    {"concurrent_tx_window_minutes": "an hour"},
])
def test_invalid_concurrent_transaction_settings_are_422(platform, fleet, change):
    assert platform.patch(f"/v1/tenants/{fleet.tenant_id}", change).status == 422


# An operator closes a stuck transaction


@pytest.fixture
def stuck(published_gateway, fleet, id_tag) -> tuple[str, int]:
    """(charge point, transaction) of a charger that went dark mid-session."""
    cp_id = fleet.add_charge_point(f"STUCK{uuid.uuid4().hex[:4]}")
    return cp_id, asyncio.run(open_transaction(published_gateway, cp_id, id_tag))


def admin_named(gateway: GatewayThread, tenant_id: str, subject: str) -> Api:
    return Api(gateway.http_url, issue_token(tenant_id, "admin", 600, subject))


def test_an_admin_closes_a_stuck_transaction_and_is_recorded_as_closing_it(
    published_gateway, fleet, stuck
):
    cp_id, transaction_id = stuck
    admin = admin_named(published_gateway, fleet.tenant_id, "alice@operator.example")
    reply = admin.post(f"/v1/transactions/{transaction_id}/close", {"reason": "ChargerDead"})

    assert reply.status == 200, reply.text
    closed = reply.json
    assert (closed["status"], closed["stop_reason"]) == ("Completed", "ChargerDead")
    assert closed["closed_by"] == "alice@operator.example" and closed["closed_at"]
    assert closed["meter_stop"] == 3750  # the last energy register reading
    assert current_transaction(fleet, cp_id) is None


def test_closing_without_a_body_uses_the_default_reason(published_gateway, fleet, stuck):
    _, transaction_id = stuck
    admin = api_for(published_gateway, fleet.tenant_id, "admin")
    reply = admin.request("POST", f"/v1/transactions/{transaction_id}/close")
    assert reply.status == 200, reply.text
    assert reply.json["stop_reason"] == "ClosedByOperator"


def test_closing_publishes_transaction_stopped(published_gateway, fleet, stuck, mqtt_url):
    cp_id, transaction_id = stuck
    subscriber = Subscriber(mqtt_url, f"ocpp/events/{fleet.tenant_id}/{cp_id}/session")
    admin = admin_named(published_gateway, fleet.tenant_id, "bob")
    admin.post(f"/v1/transactions/{transaction_id}/close", {"meter_stop": 5000})

    [(_, event)] = subscriber.wait_for(lambda m: len(m) >= 1)
    subscriber.close()
    validate_event(event)
    assert event["type"] == "transaction_stopped"
    assert (event["data"]["reason"], event["data"]["closed_by"]) == ("ClosedByOperator", "bob")
    assert (event["data"]["meter_stop"], event["data"]["energy_wh"]) == (5000, 4000)


def test_closing_a_stopped_transaction_is_409(published_gateway, fleet, stuck):
    _, transaction_id = stuck
    admin = api_for(published_gateway, fleet.tenant_id, "admin")
    admin.post(f"/v1/transactions/{transaction_id}/close")
    assert admin.post(f"/v1/transactions/{transaction_id}/close").status == 409


@pytest.mark.parametrize("role", ["operator", "viewer"])
def test_only_a_tenant_admin_may_close_a_transaction(published_gateway, fleet, stuck, role):
    _, transaction_id = stuck
    caller = api_for(published_gateway, fleet.tenant_id, role)
    assert caller.post(f"/v1/transactions/{transaction_id}/close").status == 403
    assert transaction(fleet, transaction_id)["status"] == "Active"


def test_another_tenants_transaction_is_404_like_a_missing_one(published_gateway, fleet, stuck):
    _, transaction_id = stuck
    other_tenant = f"e2e{uuid.uuid4().hex[:8]}"
    fleet.admin.create_tenant(other_tenant, "Someone else")
    stranger = api_for(published_gateway, other_tenant, "admin")
    assert stranger.post(f"/v1/transactions/{transaction_id}/close").status == 404
    assert stranger.post("/v1/transactions/2000000000/close").status == 404
    assert transaction(fleet, transaction_id)["status"] == "Active"
