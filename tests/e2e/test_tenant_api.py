"""The tenant API over HTTP on the local stack: tenants, charge points, id tags, records,
roles and limits. Tokens come from `issue_token`, as `csms-admin token issue` makes them."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
import uuid
from datetime import UTC, datetime

import jwt
import pytest
from csms_local.admin import issue_token
from ocpp.v16 import call
from websockets.exceptions import InvalidStatus

from .conftest import PASSWORD, Api, api_for, connected

pytestmark = pytest.mark.e2e


def now() -> str:
    return datetime.now(UTC).isoformat()


@pytest.fixture
def platform(gateway) -> Api:
    return api_for(gateway, None, "platform-admin")


@pytest.fixture
def new_tenant(platform, gateway):
    """Creates a tenant through the API and returns an admin client for it."""

    def create(**config) -> Api:
        tenant_id = f"t{uuid.uuid4().hex[:10]}"
        reply = platform.post("/v1/tenants", {"tenant_id": tenant_id, "name": "Op"} | config)
        assert reply.status == 201, reply.text
        return api_for(gateway, tenant_id, "admin")

    return create


def tenant_of(api: Api) -> str:
    return jwt.decode(api.token, options={"verify_signature": False})["tenant_id"]


def test_the_openapi_document_is_served_without_a_token(gateway):
    reply = Api(gateway.http_url, None).get("/v1/openapi.json")

    assert reply.status == 200
    document = reply.json
    assert document["openapi"].startswith("3.")
    assert "/v1/charge-points/{charge_point_id}/commands/{action}" in document["paths"]
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_a_request_without_a_token_is_401_with_a_bearer_challenge(gateway):
    reply = Api(gateway.http_url, None).get("/v1/charge-points")

    assert reply.status == 401
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")


def _claims(fleet, **changes) -> dict:
    now = int(time.time())
    return {"iss": "csms", "aud": "csms-tenant-api", "sub": "mallory", "role": "admin",
            "tenant_id": fleet.tenant_id, "iat": now, "exp": now + 300} | changes


def _part(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _unsigned(fleet) -> str:
    return f"{_part({'alg': 'none', 'typ': 'JWT'})}.{_part(_claims(fleet))}."


def _tampered(fleet) -> str:
    """A genuine viewer token whose claims are swapped for an admin's, signature kept."""
    header, _, signature = issue_token(fleet.tenant_id, "viewer", 300, None).split(".")
    return f"{header}.{_part(_claims(fleet))}.{signature}"


def _signed(fleet, key: str | None = None, **changes) -> str:
    return jwt.encode(_claims(fleet, **changes), key or os.environ["JWT_SECRET"],
                      algorithm="HS256")


ATTACKS = {
    "alg none": _unsigned,
    "another secret": lambda fleet: _signed(fleet, "not-the-secret-but-32-bytes-long-anyway"),
    "expired": lambda fleet: _signed(fleet, exp=1),
    "wrong audience": lambda fleet: _signed(fleet, aud="another-api"),
    "wrong issuer": lambda fleet: _signed(fleet, iss="someone-else"),
    "viewer token promoted to admin": _tampered,
}


@pytest.mark.parametrize("attack", ATTACKS.values(), ids=ATTACKS.keys())
def test_a_forged_token_is_401_at_the_api(gateway, fleet, attack):
    reply = Api(gateway.http_url, attack(fleet)).post(
        "/v1/id-tags", {"id_tag": "FORGED"})

    assert reply.status == 401
    assert fleet.db["id_tags"].find_one({"_id": "FORGED"}) is None


def test_the_platform_admin_creates_configures_and_suspends_a_tenant(platform, new_tenant):
    admin = new_tenant(api_rate_limit=1000)
    tenant_id = tenant_of(admin)

    updated = platform.patch(f"/v1/tenants/{tenant_id}",
                             {"max_charge_points": 5, "mqtt_topic_prefix": "fleet/x"})
    assert updated.status == 200
    assert updated.json["max_charge_points"] == 5
    assert platform.get(f"/v1/tenants/{tenant_id}").json["mqtt_topic_prefix"] == "fleet/x"
    assert admin.get("/v1/charge-points").status == 200

    assert platform.post(f"/v1/tenants/{tenant_id}/suspend").json["active"] is False
    assert admin.get("/v1/charge-points").status == 403
    platform.post(f"/v1/tenants/{tenant_id}/resume")
    assert admin.get("/v1/charge-points").status == 200


def test_a_tenant_admin_may_not_manage_tenants(new_tenant):
    admin = new_tenant()

    assert admin.get("/v1/tenants").status == 403
    assert admin.post("/v1/tenants", {"tenant_id": "mine", "name": "x"}).status == 403


def test_the_platform_admin_may_not_read_tenant_data(platform):
    assert platform.get("/v1/charge-points").status == 403
    assert platform.get("/v1/transactions").status == 403


async def test_a_registered_charge_point_connects_with_the_password_shown_once(
    gateway, new_tenant
):
    admin = new_tenant()
    cp_id = f"REG-{uuid.uuid4().hex[:6]}"
    registered = admin.post("/v1/charge-points", {"charge_point_id": cp_id})
    assert registered.status == 201
    password = registered.json["password"]

    async with connected(gateway, cp_id, password=password) as (cp, _):
        await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        live = admin.get(f"/v1/charge-points/{cp_id}").json

    assert live["connected"] is True
    assert live["state"]["boot"]["charge_point_vendor"] == "V"
    assert "password" not in live and "password_hash" not in str(live)
    # $disconnect runs after the socket closed, on the gateway's own threads: nothing the
    # client can await announces it, so the view is polled (bounded).
    deadline = time.monotonic() + 10
    while admin.get(f"/v1/charge-points/{cp_id}").json["connected"]:
        assert time.monotonic() < deadline, "still connected 10 s after closing"
        await asyncio.sleep(0.05)


def test_registration_stops_at_the_tenants_max_charge_points(new_tenant):
    admin = new_tenant(max_charge_points=1)

    first = admin.post("/v1/charge-points", {"charge_point_id": f"A-{uuid.uuid4().hex[:6]}"})
    second = admin.post("/v1/charge-points", {"charge_point_id": f"B-{uuid.uuid4().hex[:6]}"})

    assert first.status == 201
    assert second.status == 409
    assert "at most 1" in second.json["message"]


def test_a_charge_point_id_taken_by_anyone_is_a_conflict(new_tenant):
    cp_id = f"TAKEN-{uuid.uuid4().hex[:6]}"
    assert new_tenant().post("/v1/charge-points", {"charge_point_id": cp_id}).status == 201

    assert new_tenant().post("/v1/charge-points", {"charge_point_id": cp_id}).status == 409


async def test_a_rotated_password_replaces_the_old_one(gateway, new_tenant):
    admin = new_tenant()
    cp_id = f"ROT-{uuid.uuid4().hex[:6]}"
    admin.post("/v1/charge-points", {"charge_point_id": cp_id, "password": PASSWORD})

    rotated = admin.post(f"/v1/charge-points/{cp_id}/password")

    with pytest.raises(InvalidStatus):
        async with connected(gateway, cp_id, password=PASSWORD):
            pass
    async with connected(gateway, cp_id, password=rotated.json["password"]) as (cp, _):
        await cp.call(call.Heartbeat())


async def test_disabling_a_charge_point_closes_its_connection_and_refuses_it(gateway, new_tenant):
    admin = new_tenant()
    cp_id = f"DIS-{uuid.uuid4().hex[:6]}"
    admin.post("/v1/charge-points", {"charge_point_id": cp_id, "password": PASSWORD})

    async with connected(gateway, cp_id) as (_, ws):
        disabled = admin.post(f"/v1/charge-points/{cp_id}/disable")
        await ws.wait_closed()

    assert disabled.json["enabled"] is False
    with pytest.raises(InvalidStatus):
        async with connected(gateway, cp_id):
            pass
    assert admin.post(f"/v1/charge-points/{cp_id}/enable").json["enabled"] is True


def test_a_deleted_charge_point_is_gone(new_tenant):
    admin = new_tenant()
    cp_id = f"DEL-{uuid.uuid4().hex[:6]}"
    admin.post("/v1/charge-points", {"charge_point_id": cp_id, "description": "old"})
    assert admin.patch(f"/v1/charge-points/{cp_id}", {"description": "new"}).json[
        "description"
    ] == "new"

    assert admin.delete(f"/v1/charge-points/{cp_id}").status == 204
    assert admin.get(f"/v1/charge-points/{cp_id}").status == 404


def test_id_tags_are_created_read_replaced_listed_and_deleted(new_tenant):
    admin = new_tenant()

    created = admin.post("/v1/id-tags", {"id_tag": "TAG-1", "status": "Accepted",
                                         "expiry_date": "2030-01-01T00:00:00Z",
                                         "parent_id_tag": "FLEET"})
    assert created.status == 201
    assert admin.post("/v1/id-tags", {"id_tag": "TAG-1"}).status == 409
    replaced = admin.put("/v1/id-tags/TAG-1", {"status": "Blocked"})
    assert replaced.json == {"id_tag": "TAG-1", "status": "Blocked", "expiry_date": None,
                             "parent_id_tag": None, "id_token_type": None,
                             "group_id_token": None}
    assert [t["id_tag"] for t in admin.get("/v1/id-tags", status="Blocked").json["items"]] == [
        "TAG-1"
    ]
    assert admin.delete("/v1/id-tags/TAG-1").status == 204
    assert admin.get("/v1/id-tags/TAG-1").status == 404


def test_an_invalid_body_is_422_with_where_it_is_wrong(new_tenant):
    # 2.0.1 id tokens are at most 36 characters (1.6 id tags 20).
    reply = new_tenant().post("/v1/id-tags", {"id_tag": "X" * 37})

    assert reply.status == 422
    assert reply.json["detail"][0]["loc"][-1] == "id_tag"


async def test_a_session_is_visible_in_transactions_meter_values_statistics_and_messages(
    gateway, fleet
):
    viewer = api_for(gateway, fleet.tenant_id, "viewer")
    cp_id = fleet.add_charge_point("RECORDS")
    async with connected(gateway, cp_id) as (cp, _):
        started = await cp.call(call.StartTransaction(connector_id=1, id_tag="ACCEPTED",
                                                      meter_start=100, timestamp=now()))
        tx = started.transaction_id
        await cp.call(call.MeterValues(connector_id=1, transaction_id=tx, meter_value=[
            {"timestamp": now(), "sampledValue": [{"value": "600"}]}]))
        await cp.call(call.StopTransaction(meter_stop=1100, timestamp=now(), transaction_id=tx))

    listed = viewer.get("/v1/transactions", charge_point_id=cp_id, status="Completed").json
    assert [t["transaction_id"] for t in listed["items"]] == [tx]
    one = viewer.get(f"/v1/transactions/{tx}").json
    assert one["energy_wh"] == 1000
    assert [m["sampled_value"] for m in one["meter_values"]] == [[{"value": "600"}]]
    stats = viewer.get("/v1/transactions/statistics", charge_point_id=cp_id).json
    assert stats == {"count": 1, "active": 0, "completed": 1, "total_energy_wh": 1000,
                     "average_energy_wh": 1000}
    values = viewer.get("/v1/meter-values", transaction_id=tx).json["items"]
    assert len(values) == 1
    calls = viewer.get("/v1/messages", charge_point_id=cp_id, direction="in",
                       message_type="Call").json["items"]
    assert [m["action"] for m in calls] == ["StopTransaction", "MeterValues", "StartTransaction"]
    sessions = viewer.get(f"/v1/charge-points/{cp_id}/sessions").json["items"]
    assert len(sessions) == 1


async def test_records_are_selected_by_time_range(gateway, fleet):
    viewer = api_for(gateway, fleet.tenant_id, "viewer")
    cp_id = fleet.add_charge_point("RANGE")
    # Given two transactions an hour apart (charger clocks), with a reading each
    early, late = "2026-03-01T10:00:00+00:00", "2026-03-01T11:00:00+00:00"
    async with connected(gateway, cp_id) as (cp, _):
        for moment, tag in ((early, "ACCEPTED"), (late, "ACCEPTED")):
            started = await cp.call(call.StartTransaction(connector_id=1, id_tag=tag,
                                                          meter_start=0, timestamp=moment))
            await cp.call(call.MeterValues(connector_id=1, transaction_id=started.transaction_id,
                                           meter_value=[{"timestamp": moment,
                                                         "sampledValue": [{"value": "1"}]}]))
            await cp.call(call.StopTransaction(meter_stop=10, timestamp=moment,
                                               transaction_id=started.transaction_id))
    between = {"since": "2026-03-01T10:30:00Z", "until": "2026-03-01T12:00:00Z"}

    # When the lists are asked for the second half hour onwards only
    transactions = viewer.get("/v1/transactions", charge_point_id=cp_id, **between).json
    values = viewer.get("/v1/meter-values", charge_point_id=cp_id, **between).json
    stats = viewer.get("/v1/transactions/statistics", charge_point_id=cp_id, **between).json
    logged_now = viewer.get("/v1/messages", charge_point_id=cp_id,
                            since=datetime.now(UTC).isoformat().replace("+00:00", "Z")).json

    # Then only the late records are in them
    assert [t["start_timestamp"] for t in transactions["items"]] == ["2026-03-01T11:00:00Z"]
    assert [v["timestamp"] for v in values["items"]] == ["2026-03-01T11:00:00Z"]
    assert stats["count"] == 1
    assert logged_now["items"] == []  # everything was logged before "now"


def test_lists_are_paginated(new_tenant):
    admin = new_tenant()
    for n in range(5):
        admin.post("/v1/id-tags", {"id_tag": f"PAGE-{n}"})

    first = admin.get("/v1/id-tags", limit=2).json
    last = admin.get("/v1/id-tags", limit=2, offset=4).json

    assert [t["id_tag"] for t in first["items"]] == ["PAGE-0", "PAGE-1"]
    assert first["next_offset"] == 2
    assert [t["id_tag"] for t in last["items"]] == ["PAGE-4"]
    assert last["next_offset"] is None


def test_a_viewer_reads_but_may_not_change_anything(gateway, new_tenant):
    viewer = api_for(gateway, tenant_of(new_tenant()), "viewer")

    assert viewer.get("/v1/charge-points").status == 200
    assert viewer.post("/v1/charge-points", {"charge_point_id": "NOPE"}).status == 403
    assert viewer.post("/v1/id-tags", {"id_tag": "NOPE"}).status == 403


def test_an_operator_commands_but_may_not_register_charge_points(gateway, new_tenant):
    operator = api_for(gateway, tenant_of(new_tenant()), "operator")

    assert operator.post("/v1/charge-points", {"charge_point_id": "NOPE"}).status == 403
    assert operator.get("/v1/commands").status == 200


def test_the_rate_limit_answers_429_with_retry_after_and_spares_other_tenants(new_tenant):
    limited = new_tenant(api_rate_limit=3)
    other = new_tenant()

    # Seven requests span at most two one-minute windows of three: one must be refused.
    replies = [limited.get("/v1/charge-points") for _ in range(7)]

    refused = [r for r in replies if r.status == 429]
    assert refused and all(r.status in (200, 429) for r in replies)
    assert 1 <= int(refused[0].headers["Retry-After"]) <= 60
    assert other.get("/v1/charge-points").status == 200
