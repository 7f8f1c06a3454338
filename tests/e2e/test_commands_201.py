"""OCPP 2.0.1 commands through the tenant API to a raw-frame 2.0.1 charging station behind
the local gateway: device model reports and GET variables, Get/SetVariables split to the
station's ItemsPerMessage, transactions, resets, availability, certificates; and password
pushes to 1.6 and 2.0.1 chargers, after which only the new password logs in."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import websockets
from ocpp.routing import on
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action
from websockets.exceptions import InvalidStatus

from .chargers import Charger
from .conftest import PASSWORD, Api, api_for, basic_auth, connected

pytestmark = [
    pytest.mark.e2e,
]

Payload = dict[str, Any]
V201 = "ocpp2.0.1"

class Station:
    """A 2.0.1 charging station speaking raw OCPP-J frames: it answers each Call with
    `answers[action](payload)` and may send Calls of its own after answering."""

    def __init__(self, ws: websockets.ClientConnection) -> None:
        self.ws = ws
        self.received: list[tuple[str, Payload]] = []
        # Unnamed actions are answered {"status": "Accepted"}; SetVariables has a shape
        # of its own.
        self.answers: dict[str, Callable[[Payload], Payload]] = {
            "SetVariables": lambda request: set_results(request, "Accepted"),
        }
        # Calls to send once the answer to an action is out: action -> coroutine factory.
        self.after: dict[str, Callable[[Payload], Any]] = {}
        self._waiting: dict[str, asyncio.Future[Payload]] = {}

    async def run(self) -> None:
        async for text in self.ws:
            frame = json.loads(text)
            if frame[0] == 2:
                _, message_id, action, payload = frame
                self.received.append((action, payload))
                answer = self.answers.get(action, lambda _: {"status": "Accepted"})(payload)
                await self.ws.send(json.dumps([3, message_id, answer]))
                follow_up = self.after.get(action)
                if follow_up is not None:
                    asyncio.get_running_loop().create_task(follow_up(payload))
            elif frame[0] in (3, 4) and frame[1] in self._waiting:
                self._waiting.pop(frame[1]).set_result(frame[2] if frame[0] == 3 else {})

    async def call(self, action: str, payload: Payload) -> Payload:
        message_id = str(uuid.uuid4())
        answered = asyncio.get_running_loop().create_future()
        self._waiting[message_id] = answered
        await self.ws.send(json.dumps([2, message_id, action, payload]))
        return await asyncio.wait_for(answered, 10)

    def asked(self, action: str) -> list[Payload]:
        return [payload for name, payload in self.received if name == action]


def set_results(request: Payload, status: str) -> Payload:
    return {"setVariableResult": [
        {"component": item["component"], "variable": item["variable"], "attributeStatus": status}
        for item in request["setVariableData"]
    ]}


@contextlib.asynccontextmanager
async def station(gateway, cp_id: str, password: str = PASSWORD) -> AsyncIterator[Station]:
    async with websockets.connect(
        gateway.url(cp_id),
        subprotocols=[V201],  # type: ignore[list-item]
        additional_headers=basic_auth(cp_id, password),
        open_timeout=10,
    ) as ws:
        assert ws.subprotocol == V201
        cs = Station(ws)
        listener = asyncio.create_task(cs.run())
        try:
            boot = await cs.call(
                "BootNotification",
                {"chargingStation": {"model": "M", "vendorName": "V"}, "reason": "PowerUp"},
            )
            assert boot["status"] == "Accepted"
            yield cs
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await listener


def report_item(component: str, variable: str, value: str, instance: str | None = None,
                mutability: str = "ReadOnly") -> Payload:
    variable_type: Payload = {"name": variable}
    if instance is not None:
        variable_type["instance"] = instance
    return {
        "component": {"name": component},
        "variable": variable_type,
        "variableAttribute": [{"type": "Actual", "value": value, "mutability": mutability}],
        "variableCharacteristics": {"dataType": "integer", "supportsMonitoring": False},
    }


# What the station reports to GetBaseReport: two items per Get/SetVariables message.
INVENTORY = [
    report_item("DeviceModelCtrlr", "ItemsPerMessage", "2", "GetVariables"),
    report_item("DeviceModelCtrlr", "ItemsPerMessage", "2", "SetVariables"),
    report_item("OCPPCommCtrlr", "HeartbeatInterval", "300", mutability="ReadWrite"),
]


async def reported(cs: Station, request: Payload) -> None:
    """The NotifyReport that follows an accepted GetBaseReport."""
    cs.report_answer = await cs.call(  # type: ignore[attr-defined]
        "NotifyReport",
        {
            "requestId": request["requestId"],
            "generatedAt": datetime.now(UTC).isoformat(),
            "seqNo": 0,
            "tbc": False,
            "reportData": INVENTORY,
        },
    )
    cs.reported.set()  # type: ignore[attr-defined]


async def post(api: Api, path: str, body: Payload | None = None, **params) -> Any:
    return await asyncio.to_thread(api.post, path, {} if body is None else body, **params)


async def command(api: Api, cp_id: str, action: str, payload: Payload, **params) -> Any:
    return await post(api, f"/v1/charge-points/{cp_id}/commands/{action}", payload, **params)


@pytest.fixture
def operator(gateway, fleet) -> Api:
    return api_for(gateway, fleet.tenant_id, "operator")


@pytest.fixture
def admin(gateway, fleet) -> Api:
    return api_for(gateway, fleet.tenant_id, "admin")


@pytest.fixture
def viewer(gateway, fleet) -> Api:
    return api_for(gateway, fleet.tenant_id, "viewer")


async def with_report(operator: Api, cs: Station, cp_id: str) -> None:
    cs.reported = asyncio.Event()  # type: ignore[attr-defined]
    cs.after["GetBaseReport"] = lambda request: reported(cs, request)
    reply = await command(operator, cp_id, "GetBaseReport",
                          {"requestId": 1, "reportBase": "FullInventory"}, wait=10)
    assert reply.status == 200, reply.text
    assert reply.json["status"] == "completed"
    await asyncio.wait_for(cs.reported.wait(), 10)  # type: ignore[attr-defined]


def variable_name(item: Payload) -> str:
    return item["variable"]["name"] + (f"[{item['variable']['instance']}]"
                                       if "instance" in item["variable"] else "")


async def test_get_base_report_fills_the_device_model_that_get_variables_shows(
    gateway, fleet, operator, viewer
):
    cp_id = fleet.add_charge_point("REPORT201")
    async with station(gateway, cp_id) as cs:
        await with_report(operator, cs, cp_id)

    listed = viewer.get(f"/v1/charge-points/{cp_id}/variables")
    assert listed.status == 200, listed.text
    items = {(v["component"], v["variable"], v["variable_instance"]): v
             for v in listed.json["items"]}
    limit = items[("DeviceModelCtrlr", "ItemsPerMessage", "GetVariables")]
    assert limit["value"] == "2"
    assert limit["attribute_type"] == "Actual"
    assert limit["mutability"] == "ReadOnly"
    assert limit["characteristics"]["dataType"] == "integer"
    assert items[("OCPPCommCtrlr", "HeartbeatInterval", None)]["value"] == "300"


async def test_another_tenants_charger_has_no_variables(gateway, fleet):
    cp_id = fleet.add_charge_point("NOTYOURS201")
    other = f"other{uuid.uuid4().hex[:6]}"
    fleet.admin.create_tenant(other, "another operator")
    stranger = api_for(gateway, other, "viewer")

    assert stranger.get(f"/v1/charge-points/{cp_id}/variables").status == 404


def get_data(*names: str) -> list[Payload]:
    return [{"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": n}} for n in names]


async def test_get_and_set_variables_go_out_in_parts_of_items_per_message(
    gateway, fleet, operator, viewer
):
    cp_id = fleet.add_charge_point("SPLIT201")
    names = ["HeartbeatInterval", "RetryBackOffWaitMinimum", "NetworkProfileConnectionAttempts",
             "OfflineThreshold", "MessageAttemptInterval"]
    async with station(gateway, cp_id) as cs:
        await with_report(operator, cs, cp_id)
        cs.answers["GetVariables"] = lambda request: {"getVariableResult": [
            {**item, "attributeStatus": "Accepted", "attributeValue": str(len(cs.received))}
            for item in request["getVariableData"]
        ]}
        cs.answers["SetVariables"] = lambda request: {"setVariableResult": [
            {"component": item["component"], "variable": item["variable"],
             "attributeStatus": "Accepted"}
            for item in request["setVariableData"]
        ]}

        got = await command(operator, cp_id, "GetVariables",
                            {"getVariableData": get_data(*names)}, wait=15)
        changes = [{**item, "attributeValue": "42"} for item in get_data(*names[:3])]
        was_set = await command(operator, cp_id, "SetVariables",
                                {"setVariableData": changes}, wait=15)

    assert got.status == 200, got.text
    assert got.json["status"] == "completed"
    assert [variable_name(r) for r in got.json["response"]["getVariableResult"]] == names
    assert got.json["request"] == {"getVariableData": get_data(*names)}
    assert len(got.json["parts"]) == 3
    assert [len(p["getVariableData"]) for p in cs.asked("GetVariables")] == [2, 2, 1]

    assert was_set.json["status"] == "completed", was_set.text
    assert [len(p["setVariableData"]) for p in cs.asked("SetVariables")] == [2, 1]
    assert len(was_set.json["response"]["setVariableResult"]) == 3

    variables = {(v["component"], v["variable"]): v["value"]
                 for v in viewer.get(f"/v1/charge-points/{cp_id}/variables").json["items"]}
    assert variables[("OCPPCommCtrlr", "HeartbeatInterval")] == "42"
    assert variables[("OCPPCommCtrlr", "OfflineThreshold")] is not None


async def test_transactions_reset_availability_and_certificates_are_answered_and_recorded(
    gateway, fleet, operator, viewer
):
    cp_id = fleet.add_charge_point("CMDS201")
    id_token = {"idToken": "ACCEPTED", "type": "ISO14443"}
    commands = [
        ("RequestStartTransaction", {"idToken": id_token, "remoteStartId": 11, "evseId": 1}),
        ("RequestStopTransaction", {"transactionId": "tx-201"}),
        ("Reset", {"type": "OnIdle"}),
        ("ChangeAvailability", {"operationalStatus": "Inoperative", "evse": {"id": 1}}),
        ("InstallCertificate", {"certificateType": "CSMSRootCertificate",
                                "certificate": "-----BEGIN CERTIFICATE-----"}),
        ("GetInstalledCertificateIds", {}),
        ("DeleteCertificate", {"certificateHashData": {
            "hashAlgorithm": "SHA256", "issuerNameHash": "aa", "issuerKeyHash": "bb",
            "serialNumber": "01"}}),
    ]
    async with station(gateway, cp_id) as cs:
        replies = [await command(operator, cp_id, action, payload, wait=10)
                   for action, payload in commands]

    assert [(r.status, r.json["status"]) for r in replies] == [(200, "completed")] * len(commands)
    assert [name for name, _ in cs.received] == [action for action, _ in commands]
    state = viewer.get(f"/v1/charge-points/{cp_id}").json
    assert "Inoperative" in json.dumps(state)
    assert "OnIdle" in json.dumps(state)


async def test_a_201_password_push_switches_the_login_once_the_station_accepts(
    gateway, fleet, admin
):
    cp_id = fleet.add_charge_point("PUSH201")
    async with station(gateway, cp_id) as cs:
        reply = await post(admin, f"/v1/charge-points/{cp_id}/password/push", wait=10)
    [request] = cs.asked("SetVariables")
    [item] = request["setVariableData"]
    new_password = item["attributeValue"]

    assert reply.status == 200, reply.text
    assert reply.json["outcome"] == "accepted"
    assert (item["component"], item["variable"]) == (
        {"name": "SecurityCtrlr"}, {"name": "BasicAuthPassword"})
    assert new_password not in reply.text
    assert reply.json["command"]["request"]["setVariableData"][0]["attributeValue"] == "***"
    async with station(gateway, cp_id, new_password):
        pass
    with pytest.raises(InvalidStatus):
        async with station(gateway, cp_id, PASSWORD):
            pass


async def test_a_refused_201_password_push_keeps_the_old_password(gateway, fleet, admin):
    cp_id = fleet.add_charge_point("NOPUSH201")
    async with station(gateway, cp_id) as cs:
        cs.answers["SetVariables"] = lambda request: set_results(request, "Rejected")
        reply = await post(admin, f"/v1/charge-points/{cp_id}/password/push", wait=10)

    assert reply.json["outcome"] == "rejected", reply.text
    async with station(gateway, cp_id, PASSWORD):
        pass


class KeyedCharger(Charger):
    """A 1.6 charger that takes a new AuthorizationKey (or refuses it)."""

    refuse = False

    @on(Action.change_configuration)
    def on_change_configuration(self, key: str, value: str):
        self.received.append("ChangeConfiguration")
        if self.refuse:
            return call_result.ChangeConfiguration(status="Rejected")
        self.configuration[key] = value
        return call_result.ChangeConfiguration(status="Accepted")


async def booted16(cp: Charger) -> None:
    await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))


async def test_a_16_password_push_changes_the_authorization_key_and_the_login(
    gateway, fleet, admin, viewer
):
    cp_id = fleet.add_charge_point("PUSH16")
    async with connected(gateway, cp_id, client=KeyedCharger) as (cp, _):
        await booted16(cp)
        reply = await post(admin, f"/v1/charge-points/{cp_id}/password/push", wait=10)
        new_password = cp.configuration["AuthorizationKey"]

    assert reply.status == 200, reply.text
    assert reply.json["outcome"] == "accepted"
    assert new_password not in reply.text
    assert reply.json["command"]["request"] == {"key": "AuthorizationKey", "value": "***"}
    command = viewer.get(f"/v1/commands/{reply.json['command']['command_id']}")
    assert new_password not in command.text
    assert "new_password_hash" not in command.json
    listed = viewer.get("/v1/commands", charge_point_id=cp_id)
    assert new_password not in listed.text and "new_password_hash" not in listed.text
    assert new_password not in viewer.get("/v1/messages", charge_point_id=cp_id).text
    assert new_password not in viewer.get(f"/v1/charge-points/{cp_id}").text

    async with connected(gateway, cp_id, new_password, client=KeyedCharger) as (cp, _):
        await booted16(cp)
    with pytest.raises(InvalidStatus) as refused:
        async with connected(gateway, cp_id, PASSWORD):
            pass
    assert refused.value.response.status_code == 401


async def test_a_refused_16_password_push_keeps_the_old_password(gateway, fleet, admin):
    cp_id = fleet.add_charge_point("NOPUSH16")
    async with connected(gateway, cp_id, client=KeyedCharger) as (cp, _):
        cp.refuse = True
        await booted16(cp)
        reply = await post(admin, f"/v1/charge-points/{cp_id}/password/push", wait=10)

    assert reply.json["outcome"] == "rejected", reply.text
    assert reply.json["command"]["status"] == "rejected"
    async with connected(gateway, cp_id, PASSWORD) as (cp, _):
        await booted16(cp)


async def test_only_admins_push_passwords(gateway, fleet, operator):
    cp_id = fleet.add_charge_point("OPPUSH")

    reply = await post(operator, f"/v1/charge-points/{cp_id}/password/push")

    assert reply.status == 403


async def test_a_remote_start_is_matched_to_the_transaction_its_remote_start_id_began(
    gateway, fleet, operator, viewer
):
    cp_id = fleet.add_charge_point("REMOTE201")
    id_token = {"idToken": "ACCEPTED", "type": "ISO14443"}
    async with station(gateway, cp_id) as cs:
        # Given a station that starts a transaction of its own numbering when asked
        cs.started = asyncio.Event()  # type: ignore[attr-defined]

        async def start(request: Payload) -> None:
            await cs.call("TransactionEvent", {
                "eventType": "Started", "timestamp": datetime.now(UTC).isoformat(),
                "triggerReason": "RemoteStart", "seqNo": 0, "idToken": request["idToken"],
                "evse": {"id": 1, "connectorId": 1},
                "transactionInfo": {"transactionId": "station-tx-7",
                                    "remoteStartId": request["remoteStartId"]},
            })
            cs.started.set()  # type: ignore[attr-defined]

        cs.after["RequestStartTransaction"] = start
        # When the operator asks for a remote start
        reply = await command(operator, cp_id, "RequestStartTransaction",
                              {"idToken": id_token, "remoteStartId": 77, "evseId": 1}, wait=10)
        await asyncio.wait_for(cs.started.wait(), 10)  # type: ignore[attr-defined]

    # Then the command names the transaction, and the transaction its remote start
    assert reply.json["status"] == "completed", reply.text
    command_view = viewer.get(f"/v1/commands/{reply.json['command_id']}").json
    assert command_view["transaction_id"] == "station-tx-7"
    transaction = viewer.get("/v1/transactions/station-tx-7", charge_point_id=cp_id).json
    assert (transaction["remote_start_id"], transaction["status"]) == (77, "Active")
