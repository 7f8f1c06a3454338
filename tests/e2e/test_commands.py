"""Commands through the tenant API to a real OCPP 1.6 charge point (the `ocpp` package's
ChargePoint) connected through the local gateway. The API request and the charger's
answer are handled by different handler invocations, as on AWS."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from csms import bootstrap
from csms.domain.model import ConnectionInfo
from csms_local.gateway import GatewayLimits
from ocpp.v16 import call

from .chargers import Charger
from .conftest import Api, api_for, connected, start_gateway

pytestmark = pytest.mark.e2e


@contextlib.asynccontextmanager
async def charger(gateway, cp_id: str) -> AsyncIterator[Charger]:
    async with connected(gateway, cp_id, client=Charger) as (cp, _):
        await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        yield cp


async def command(api: Api, cp_id: str, action: str, payload: dict, **params):
    """POST a command without blocking the event loop the charger runs on."""
    return await asyncio.to_thread(
        api.post, f"/v1/charge-points/{cp_id}/commands/{action}", payload, **params
    )


@pytest.fixture
def operator(gateway, fleet) -> Api:
    return api_for(gateway, fleet.tenant_id, "operator")


async def test_remote_start_returns_the_chargers_answer_and_the_transaction_appears(
    gateway, fleet, operator
):
    cp_id = fleet.add_charge_point("REMOTE")
    async with charger(gateway, cp_id) as cp:
        reply = await command(operator, cp_id, "RemoteStartTransaction",
                              {"idTag": "ACCEPTED", "connectorId": 1}, wait=10)
        transaction_id = await asyncio.wait_for(cp.started, 10)

    assert reply.status == 200
    assert reply.json["status"] == "completed"
    assert reply.json["response"] == {"status": "Accepted"}
    listed = operator.get("/v1/transactions", charge_point_id=cp_id).json["items"]
    assert [t["transaction_id"] for t in listed] == [transaction_id]
    assert listed[0]["id_tag"] == "ACCEPTED"


async def test_reset_is_answered_within_the_request(gateway, fleet, operator):
    cp_id = fleet.add_charge_point("RESET")
    async with charger(gateway, cp_id) as cp:
        reply = await command(operator, cp_id, "Reset", {"type": "Soft"}, wait=10)

    assert (reply.status, reply.json["status"]) == (200, "completed")
    assert cp.received == ["Reset"]


async def test_get_and_change_configuration_keep_the_reported_values(gateway, fleet, operator):
    cp_id = fleet.add_charge_point("CONFIG")
    async with charger(gateway, cp_id):
        got = await command(operator, cp_id, "GetConfiguration", {}, wait=10)
        changed = await command(operator, cp_id, "ChangeConfiguration",
                                {"key": "HeartbeatInterval", "value": "60"}, wait=10)

    assert got.json["status"] == changed.json["status"] == "completed"
    configuration = operator.get(f"/v1/charge-points/{cp_id}").json["state"]["configuration"]
    assert {"key": "HeartbeatInterval", "value": "60", "readonly": False} in configuration
    assert {"key": "MeterValueSampleInterval", "value": "60", "readonly": False} in configuration


@pytest.fixture
def impatient_gateway(csms_env):
    """A deployment whose chargers get 2 s to answer a command."""
    patch = pytest.MonkeyPatch()
    patch.setenv("PENDING_CALL_TTL_SECONDS", "2")
    running = start_gateway(GatewayLimits(), patch)
    yield running
    running.stop()
    patch.undo()
    bootstrap.reset()


async def test_an_unanswered_command_times_out(impatient_gateway, fleet):
    cp_id = fleet.add_charge_point("SILENT")
    operator = api_for(impatient_gateway, fleet.tenant_id, "operator")
    async with charger(impatient_gateway, cp_id) as cp:
        reply = await command(operator, cp_id, "UnlockConnector", {"connectorId": 1}, wait=10)

    assert reply.status == 200
    assert reply.json["status"] == "timed_out"
    assert cp.received == ["UnlockConnector"]


def test_a_disconnected_charger_gets_409_at_once(fleet, operator):
    cp_id = fleet.add_charge_point("OFFLINE")

    reply = operator.post(f"/v1/charge-points/{cp_id}/commands/Reset", {"type": "Soft"})

    assert reply.status == 409
    assert "not connected" in reply.json["message"]


async def test_a_command_queued_for_an_offline_charger_is_sent_when_it_is_back(
    gateway, fleet, operator
):
    cp_id = fleet.add_charge_point("LATER")
    queued = operator.post(f"/v1/charge-points/{cp_id}/commands/ClearCache", {}, queue="true")
    assert (queued.status, queued.json["status"]) == (202, "queued")

    async with charger(gateway, cp_id) as cp:
        await cp.call(call.Heartbeat())  # queued commands follow the first call after boot
        done = await asyncio.to_thread(
            operator.get, f"/v1/commands/{queued.json['command_id']}", wait=10
        )

    assert done.json["status"] == "completed"
    assert cp.received == ["ClearCache"]


async def test_two_commands_at_once_are_sent_one_after_the_other(gateway, fleet, operator):
    cp_id = fleet.add_charge_point("ORDER")
    async with charger(gateway, cp_id) as cp:
        cp.release = asyncio.Event()
        replies = await asyncio.gather(
            command(operator, cp_id, "Reset", {"type": "Soft"}),
            command(operator, cp_id, "ClearCache", {}),
        )
        await asyncio.wait_for(cp.entered.wait(), 10)
        # The charger holds the first command unanswered: the other one must wait.
        first_action = cp.received[0]
        other = next(r.json for r in replies if r.json["action"] != first_action)
        assert operator.get(f"/v1/commands/{other['command_id']}").json["status"] == "queued"
        cp.release.set()
        results = {}
        for reply in replies:
            done = await asyncio.to_thread(
                operator.get, f"/v1/commands/{reply.json['command_id']}", wait=10
            )
            results[done.json["action"]] = done.json

    assert sorted(cp.received) == ["ClearCache", "Reset"]
    first, second = results[cp.received[0]], results[cp.received[1]]
    assert first["status"] == second["status"] == "completed"
    # Compared as times: the API writes "...:32Z" for a time on the second and
    # "...:32.002000Z" otherwise, and as text "." sorts before "Z".
    assert (datetime.fromisoformat(second["sent_at"])
            >= datetime.fromisoformat(first["completed_at"]))


def test_a_stale_connection_fails_the_command_and_marks_the_charger_offline(
    gateway, fleet, operator
):
    # Given a registry entry whose $disconnect was lost: @connections answers 410 Gone.
    cp_id = fleet.add_charge_point("STALE")
    stale = ConnectionInfo("stale-connection", cp_id, fleet.tenant_id, "ocpp1.6",
                           datetime.now(UTC))
    bootstrap.connection_registry().register(stale)

    reply = operator.post(f"/v1/charge-points/{cp_id}/commands/Reset", {"type": "Soft"})

    assert reply.status == 200
    assert reply.json["status"] == "failed"
    assert "gone" in reply.json["error"]["reason"]
    view = operator.get(f"/v1/charge-points/{cp_id}").json
    assert view["connected"] is False
    assert view["state"]["connection_status"] == "Disconnected"


def test_an_invalid_payload_is_refused_with_the_reason(fleet, operator):
    cp_id = fleet.add_charge_point("INVALID")

    reply = operator.post(f"/v1/charge-points/{cp_id}/commands/Reset", {"type": "Sideways"})

    assert reply.status == 422
    assert reply.json["field"] == "type"


def test_an_action_the_chargers_version_lacks_is_refused_naming_the_version(fleet, operator):
    cp_id = fleet.add_charge_point("UNKNOWN")

    reply = operator.post(f"/v1/charge-points/{cp_id}/commands/Heartbeat", {})

    assert reply.status == 422
    assert "OCPP 1.6" in reply.json["message"]


def test_a_viewer_may_not_command(gateway, fleet):
    cp_id = fleet.add_charge_point("VIEWER")
    viewer = api_for(gateway, fleet.tenant_id, "viewer")

    assert viewer.post(f"/v1/charge-points/{cp_id}/commands/Reset", {"type": "Soft"}).status == 403
