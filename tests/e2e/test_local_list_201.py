"""OCPP 2.0.1 block D through the local gateway: the tenant's id tokens pushed as a
versioned local list, split to the station's LocalAuthListCtrlr.ItemsPerMessage, a
differential of what changed, GetLocalListVersion, each charger's version in the API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from .conftest import Api, api_for
from .test_commands_201 import Station, command, post, station

pytestmark = [pytest.mark.e2e]

Payload = dict[str, Any]


@pytest.fixture
def operator(gateway, fleet) -> Api:
    return api_for(gateway, fleet.tenant_id, "operator")


@pytest.fixture
def admin(gateway, fleet) -> Api:
    return api_for(gateway, fleet.tenant_id, "admin")


async def report_local_list_limit(cs: Station, items: int) -> None:
    """The station's device model says how many entries one SendLocalList may carry."""
    await cs.call("NotifyReport", {
        "requestId": 7, "generatedAt": datetime.now(UTC).isoformat(), "seqNo": 0,
        "reportData": [{
            "component": {"name": "LocalAuthListCtrlr"},
            "variable": {"name": "ItemsPerMessage"},
            "variableAttribute": [{"type": "Actual", "value": str(items),
                                   "mutability": "ReadOnly"}],
        }],
    })


def tokens(request: Payload) -> list[str]:
    return [e["idToken"]["idToken"] for e in request.get("localAuthorizationList", [])]


async def test_the_tenants_tokens_go_out_full_in_parts_then_as_a_differential(
    gateway, fleet, operator, admin
):
    for name in ("LL-A", "LL-B"):
        assert admin.post("/v1/id-tags", {"id_tag": name, "id_token_type": "ISO14443"}
                          ).status == 201
    cp_id = fleet.add_charge_point("LOCALLIST")
    async with station(gateway, cp_id) as cs:
        await report_local_list_limit(cs, 2)
        full = await post(operator, f"/v1/charge-points/{cp_id}/local-list",
                          {"update_type": "Full"}, wait=15)
        first_parts = cs.asked("SendLocalList")

        assert admin.put("/v1/id-tags/LL-A", {"status": "Blocked",
                                              "id_token_type": "ISO14443"}).status == 200
        assert admin.delete("/v1/id-tags/LL-B").status == 204
        differential = await post(operator, f"/v1/charge-points/{cp_id}/local-list",
                                  {"update_type": "Differential"}, wait=15)

        cs.answers["GetLocalListVersion"] = lambda _: {"versionNumber": 4}
        version = await command(operator, cp_id, "GetLocalListVersion", {}, wait=10)

    assert full.status == 200, full.text
    assert full.json["status"] == "completed"
    assert len(full.json["parts"]) == 3
    # ACCEPTED, BLOCKED, EXPIRED (the fleet's) and the two added: 5 entries, 2 a part.
    assert [(p["versionNumber"], p["updateType"], len(tokens(p))) for p in first_parts] == [
        (1, "Full", 2), (2, "Differential", 2), (3, "Differential", 1)]
    expired = next(e for p in first_parts for e in p["localAuthorizationList"]
                   if e["idToken"]["idToken"] == "EXPIRED")
    assert expired["idTokenInfo"]["status"] == "Expired"

    assert differential.json["status"] == "completed", differential.text
    [sent] = cs.asked("SendLocalList")[3:]
    assert sent["versionNumber"] == 4
    assert sent["updateType"] == "Differential"
    by_token = {e["idToken"]["idToken"]: e for e in sent["localAuthorizationList"]}
    assert by_token["LL-A"]["idTokenInfo"]["status"] == "Blocked"
    assert "idTokenInfo" not in by_token["LL-B"]  # removed from the list
    assert set(by_token) == {"LL-A", "LL-B"}

    assert version.json["status"] == "completed", version.text
    kept = operator.get(f"/v1/charge-points/{cp_id}/local-list").json
    assert kept["version"] == 4
    assert kept["reported_version"] == 4 and kept["in_sync"] is True
    assert sorted(e["id_token"] for e in kept["entries"]) == [
        "ACCEPTED", "BLOCKED", "EXPIRED", "LL-A"]
    listed = {i["charge_point_id"]: i for i in operator.get("/v1/local-lists").json["items"]}
    assert listed[cp_id]["version"] == 4
    assert "entries" not in listed[cp_id]


async def test_a_refused_part_ends_the_push_and_keeps_the_parts_before(
    gateway, fleet, operator
):
    cp_id = fleet.add_charge_point("LLREFUSED")
    async with station(gateway, cp_id) as cs:
        await report_local_list_limit(cs, 2)
        answers = iter(["Accepted", "VersionMismatch"])
        cs.answers["SendLocalList"] = lambda _: {"status": next(answers, "Accepted")}
        pushed = await post(operator, f"/v1/charge-points/{cp_id}/local-list",
                            {"update_type": "Full"}, wait=15)

    assert pushed.json["status"] == "rejected", pushed.text
    assert pushed.json["response"] == {"status": "VersionMismatch"}
    kept = operator.get(f"/v1/charge-points/{cp_id}/local-list").json
    assert kept["version"] == 1 and len(kept["entries"]) == 2


async def test_a_16_charger_gets_no_local_list_push(gateway, fleet, operator):
    from .conftest import connected

    cp_id = fleet.add_charge_point("LL16")
    async with connected(gateway, cp_id):
        reply = await post(operator, f"/v1/charge-points/{cp_id}/local-list", {})
    assert reply.status == 422, reply.text


async def test_a_station_out_of_step_gets_the_full_list_when_a_differential_is_asked(
    gateway, fleet, operator
):
    cp_id = fleet.add_charge_point("LLRESYNC")
    async with station(gateway, cp_id) as cs:
        first = await post(operator, f"/v1/charge-points/{cp_id}/local-list",
                           {"update_type": "Differential"}, wait=10)
        # The station lost its list (a factory reset): it reports version 0.
        cs.answers["GetLocalListVersion"] = lambda _: {"versionNumber": 0}
        await command(operator, cp_id, "GetLocalListVersion", {}, wait=10)
        again = await post(operator, f"/v1/charge-points/{cp_id}/local-list",
                           {"update_type": "Differential"}, wait=10)

    assert first.json["status"] == again.json["status"] == "completed", again.text
    sent = cs.asked("SendLocalList")
    # Never sent a list: Full at once; out of step: Full again, at the next version.
    assert [(p["versionNumber"], p["updateType"]) for p in sent] == [(1, "Full"), (2, "Full")]
    assert len(sent[1]["localAuthorizationList"]) == len(sent[0]["localAuthorizationList"])
    kept = operator.get(f"/v1/charge-points/{cp_id}/local-list").json
    assert (kept["version"], kept["reported_version"], kept["in_sync"]) == (2, 2, True)
