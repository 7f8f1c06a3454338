"""OCPP 2.0.1 commands: their effects on the records, GetVariables/SetVariables split to the
charger's ItemsPerMessage, and password pushes (2.0.1 and 1.6) that switch the registry
only when the charger accepts and never keep the password."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from csms.domain.commands import CommandStatus, UnknownCommand
from csms.domain.credentials import hash_password, verify_password
from csms.domain.device_model import VariableAttribute, VariableKey
from csms.domain.model import ConnectionInfo, RegisteredChargePoint
from csms.protocol.framing import Call, CallError, CallResult, parse_frame
from csms.protocol.schemas import SchemaSet, ocpp_schema_dir
from csms.services.commands import CommandService, CommandVocabulary
from csms.services.record_applier import RecordApplier, StoreNow
from csms.services.records import BufferedRecords
from csms.versions import v16, v201
from csms.versions.v201.command_effects import EFFECTS, PASSWORD_CHANGE, SPLITTINGS

from tests.fakes.memory import (
    MemoryCommandQueue,
    MemoryConnectionRegistry,
    MemoryDirectory,
    MemoryGateway,
    MemoryPendingCalls,
    MemoryTenantStore,
)

from .conftest import NOW, TENANT, Clock

CP = "CP-201"
CP16 = "CP-16"
OLD_PASSWORD = "the-old-password-of-this-cp"


def vocabulary_201() -> CommandVocabulary:
    return CommandVocabulary(
        schemas=SchemaSet(ocpp_schema_dir("v201"), request_suffix="Request"),
        actions=v201.CSMS_INITIATED,
        agreeing_statuses=v201.AGREEING_STATUSES,
        effects=EFFECTS,
        splittings=SPLITTINGS,
        password_change=PASSWORD_CHANGE,
    )


class Chargers:
    """A CommandService speaking 1.6 and 2.0.1, with one connected charger of each."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.store = MemoryTenantStore()
        self.directory = MemoryDirectory()
        self.registry = MemoryConnectionRegistry()
        self.pending = MemoryPendingCalls()
        self.gateway = MemoryGateway()
        self.records = BufferedRecords(StoreNow(RecordApplier(self.store, self.directory)))
        ids = (f"cmd-{n}" for n in range(1, 1000))
        self.commands = CommandService(
            registry=self.registry,
            queue=MemoryCommandQueue(self.pending),
            pending=self.pending,
            store=self.store,
            gateway=lambda: self.gateway,
            vocabularies={
                v16.SUBPROTOCOL: v16.plugin().commands,
                v201.SUBPROTOCOL: vocabulary_201(),
            },
            directory=self.directory,
            clock=self.clock,
            answer_timeout=timedelta(seconds=30),
            queue_timeout=timedelta(seconds=600),
            records=self.records,
            new_id=lambda: next(ids),
            sleep=self.clock.advance,
        )
        for cp, version in ((CP, v201.SUBPROTOCOL), (CP16, v16.SUBPROTOCOL)):
            self.directory.add_charge_point(
                RegisteredChargePoint(cp, TENANT, hash_password(OLD_PASSWORD), ocpp_version=version)
            )
            self.registry.register(ConnectionInfo(f"conn-{cp}", cp, TENANT, version, NOW))

    @property
    def data(self):
        return self.store.for_tenant(TENANT)

    def sent(self) -> list[list]:
        return [json.loads(frame) for _, frame in self.gateway.sent]

    def last_sent(self) -> list:
        return self.sent()[-1]

    def answer(self, cp: str, message_id: str, payload: dict) -> None:
        """The charger's CallResult, as the message service hands it on."""
        call = parse_frame(self.pending.take(cp, message_id))
        assert isinstance(call, Call)
        self.commands.complete(TENANT, cp, call, CallResult(message_id, payload))

    def fail(self, cp: str, message_id: str) -> None:
        call = parse_frame(self.pending.take(cp, message_id))
        assert isinstance(call, Call)
        self.commands.complete(
            TENANT, cp, call, CallError(message_id, "InternalError", "oops", {})
        )

    def report(self, cp: str, component: str, variable: str, value: str, instance=None):
        key = VariableKey(component, variable, variable_instance=instance)
        self.data.device_model.put(cp, [VariableAttribute(key, NOW, value=value)])

    def password_hash(self, cp: str) -> str:
        return self.directory.get_charge_point(cp).password_hash


@pytest.fixture
def chargers() -> Chargers:
    return Chargers()


def component(name: str, **extra) -> dict:
    return {"name": name, **extra}


def get_item(comp: str, var: str) -> dict:
    return {"component": {"name": comp}, "variable": {"name": var}}


def set_item(comp: str, var: str, value: str) -> dict:
    return {**get_item(comp, var), "attributeValue": value}


def got(comp: str, var: str, value: str, status: str = "Accepted") -> dict:
    return {**get_item(comp, var), "attributeStatus": status, "attributeValue": value}


def was_set(comp: str, var: str, status: str = "Accepted") -> dict:
    return {**get_item(comp, var), "attributeStatus": status}


def value_of(chargers: Chargers, comp: str, var: str) -> str | None:
    attribute = chargers.data.device_model.get(CP, VariableKey(comp, var))
    return None if attribute is None else attribute.value


# Effects


def test_accepted_get_variables_results_update_the_device_model(chargers: Chargers):
    payload = {"getVariableData": [get_item("OCPPCommCtrlr", "HeartbeatInterval"),
                                   get_item("Nope", "Nothing")]}
    command = chargers.commands.submit(TENANT, CP, "GetVariables", payload)

    chargers.answer(CP, command.command_id, {"getVariableResult": [
        got("OCPPCommCtrlr", "HeartbeatInterval", "300"),
        {**get_item("Nope", "Nothing"), "attributeStatus": "UnknownComponent"},
    ]})

    done = chargers.commands.get(TENANT, command.command_id)
    assert done.status is CommandStatus.COMPLETED  # per-item statuses, no top-level one
    assert value_of(chargers, "OCPPCommCtrlr", "HeartbeatInterval") == "300"
    assert chargers.data.device_model.get(CP, VariableKey("Nope", "Nothing")) is None


def test_set_variables_keeps_the_values_the_charger_took(chargers: Chargers):
    chargers.report(CP, "OCPPCommCtrlr", "HeartbeatInterval", "300")
    payload = {"setVariableData": [
        set_item("OCPPCommCtrlr", "HeartbeatInterval", "60"),
        set_item("TxCtrlr", "EVConnectionTimeOut", "90"),
        set_item("AuthCtrlr", "Enabled", "false"),
    ]}
    command = chargers.commands.submit(TENANT, CP, "SetVariables", payload)

    chargers.answer(CP, command.command_id, {"setVariableResult": [
        was_set("OCPPCommCtrlr", "HeartbeatInterval"),
        was_set("TxCtrlr", "EVConnectionTimeOut", "RebootRequired"),
        was_set("AuthCtrlr", "Enabled", "Rejected"),
    ]})

    assert value_of(chargers, "OCPPCommCtrlr", "HeartbeatInterval") == "60"
    assert value_of(chargers, "TxCtrlr", "EVConnectionTimeOut") == "90"
    assert value_of(chargers, "AuthCtrlr", "Enabled") is None


@pytest.mark.parametrize(
    ("action", "payload", "response", "field", "kept"),
    [
        ("Reset", {"type": "Immediate"}, {"status": "Accepted"}, "last_reset", "Immediate"),
        (
            "ChangeAvailability",
            {"operationalStatus": "Inoperative", "evse": {"id": 1, "connectorId": 1}},
            {"status": "Accepted"},
            "availability.1.1",
            "Inoperative",
        ),
        (
            "RequestStartTransaction",
            {"idToken": {"idToken": "TAG", "type": "ISO14443"}, "remoteStartId": 7, "evseId": 1},
            {"status": "Accepted", "transactionId": "tx-1"},
            "remote_start",
            {"remoteStartId": 7, "idToken": {"idToken": "TAG", "type": "ISO14443"},
             "evseId": 1, "transactionId": "tx-1"},
        ),
        ("RequestStopTransaction", {"transactionId": "tx-1"}, {"status": "Accepted"},
         "remote_stop", "tx-1"),
        ("UnlockConnector", {"evseId": 1, "connectorId": 1}, {"status": "Unlocked"},
         "unlocked_connector", {"evseId": 1, "connectorId": 1}),
        ("TriggerMessage", {"requestedMessage": "Heartbeat"}, {"status": "Accepted"},
         "triggered_message", {"requestedMessage": "Heartbeat"}),
        ("ClearCache", {}, {"status": "Accepted"}, "cache_cleared", {}),
        ("GetTransactionStatus", {"transactionId": "tx-1"}, {"messagesInQueue": False},
         "transaction_status", {"messagesInQueue": False, "transactionId": "tx-1"}),
        ("GetBaseReport", {"requestId": 3, "reportBase": "FullInventory"},
         {"status": "Accepted"}, "report_requested",
         {"requestId": 3, "reportBase": "FullInventory"}),
        ("InstallCertificate", {"certificateType": "CSMSRootCertificate", "certificate": "PEM"},
         {"status": "Accepted"}, "certificate_installed.CSMSRootCertificate", "PEM"),
        (
            "DeleteCertificate",
            {"certificateHashData": {"hashAlgorithm": "SHA256", "issuerNameHash": "a",
                                     "issuerKeyHash": "b", "serialNumber": "1"}},
            {"status": "Accepted"},
            "certificate_deleted",
            {"hashAlgorithm": "SHA256", "issuerNameHash": "a", "issuerKeyHash": "b",
             "serialNumber": "1"},
        ),
        ("GetInstalledCertificateIds", {}, {"status": "NotFound"}, None, None),
    ],
)
def test_accepted_commands_are_recorded_on_the_charge_point(
    chargers: Chargers, action, payload, response, field, kept
):
    command = chargers.commands.submit(TENANT, CP, action, payload)

    chargers.answer(CP, command.command_id, response)

    state = chargers.data.charge_points.state.get(CP, {})
    if field is None:  # refused: nothing recorded
        assert chargers.commands.get(TENANT, command.command_id).status is CommandStatus.REJECTED
        assert "installed_certificates" not in state
    else:
        assert chargers.commands.get(TENANT, command.command_id).status is CommandStatus.COMPLETED
        assert state[field] == kept


def test_a_refused_reset_is_not_recorded(chargers: Chargers):
    command = chargers.commands.submit(TENANT, CP, "Reset", {"type": "Immediate"})

    chargers.answer(CP, command.command_id, {"status": "Rejected"})

    assert chargers.commands.get(TENANT, command.command_id).status is CommandStatus.REJECTED
    assert "last_reset" not in chargers.data.charge_points.state.get(CP, {})


def test_every_201_csms_initiated_action_is_accepted_and_16_ones_are_not(chargers: Chargers):
    command = chargers.commands.submit(TENANT, CP, "ClearCache", {})
    assert command.ocpp_version == v201.SUBPROTOCOL
    with pytest.raises(UnknownCommand):
        chargers.commands.submit(TENANT, CP, "RemoteStartTransaction", {"idTag": "T"})


# Splitting


def items(n: int) -> list[dict]:
    return [get_item("Ctrlr", f"V{i}") for i in range(n)]


def test_a_get_variables_larger_than_items_per_message_goes_out_in_parts(chargers: Chargers):
    chargers.report(CP, "DeviceModelCtrlr", "ItemsPerMessage", "2", instance="GetVariables")

    command = chargers.commands.submit(TENANT, CP, "GetVariables", {"getVariableData": items(5)})

    assert command.parts and len(command.parts) == 3
    assert command.status is CommandStatus.SENT
    # One Call at a time: the first part only.
    assert [f[3]["getVariableData"] for f in chargers.sent()] == [items(5)[:2]]
    for n, part_id in enumerate(command.parts):
        sent = chargers.last_sent()
        assert sent[1] == part_id
        assert sent[3]["getVariableData"] == items(5)[2 * n : 2 * n + 2]
        assert not chargers.commands.get(TENANT, command.command_id).final
        chargers.answer(CP, part_id, {"getVariableResult": [
            got("Ctrlr", item["variable"]["name"], str(n)) for item in sent[3]["getVariableData"]
        ]})

    done = chargers.commands.get(TENANT, command.command_id)
    assert done.status is CommandStatus.COMPLETED
    assert [r["variable"]["name"] for r in done.response["getVariableResult"]] == [
        f"V{i}" for i in range(5)
    ]
    assert done.request == {"getVariableData": items(5)}
    assert value_of(chargers, "Ctrlr", "V4") == "2"


def test_a_set_variables_within_items_per_message_is_one_call(chargers: Chargers):
    chargers.report(CP, "DeviceModelCtrlr", "ItemsPerMessage", "2", instance="SetVariables")
    payload = {"setVariableData": [set_item("A", "B", "1"), set_item("A", "C", "2")]}

    command = chargers.commands.submit(TENANT, CP, "SetVariables", payload)

    assert command.parts == ()
    assert chargers.sent() == [[2, command.command_id, "SetVariables", payload]]


def test_without_a_reported_limit_nothing_is_split(chargers: Chargers):
    command = chargers.commands.submit(TENANT, CP, "GetVariables", {"getVariableData": items(9)})

    assert command.parts == ()
    assert len(chargers.last_sent()[3]["getVariableData"]) == 9


def test_a_failed_part_fails_the_whole_with_the_answers_of_the_others(chargers: Chargers):
    chargers.report(CP, "DeviceModelCtrlr", "ItemsPerMessage", "1", instance="SetVariables")
    payload = {"setVariableData": [set_item("A", "B", "1"), set_item("A", "C", "2")]}
    command = chargers.commands.submit(TENANT, CP, "SetVariables", payload)
    first, second = command.parts

    chargers.answer(CP, first, {"setVariableResult": [was_set("A", "B")]})
    chargers.fail(CP, second)

    done = chargers.commands.get(TENANT, command.command_id)
    assert done.status is CommandStatus.FAILED
    assert done.response == {"setVariableResult": [was_set("A", "B")]}
    assert [p["command_id"] for p in done.error["parts"]] == [second]
    assert value_of(chargers, "A", "B") == "1"


def test_parts_left_unanswered_time_the_whole_out(chargers: Chargers):
    chargers.report(CP, "DeviceModelCtrlr", "ItemsPerMessage", "1", instance="GetVariables")
    command = chargers.commands.submit(TENANT, CP, "GetVariables", {"getVariableData": items(2)})

    chargers.clock.advance(31)
    chargers.commands.get(TENANT, command.parts[0])  # the first part times out
    chargers.clock.advance(31)
    chargers.commands.get(TENANT, command.parts[1])

    done = chargers.commands.get(TENANT, command.command_id)
    assert done.status is CommandStatus.TIMED_OUT


# Password push


def pushed_password(chargers: Chargers) -> str:
    frame = chargers.last_sent()
    if frame[2] == "SetVariables":
        return frame[3]["setVariableData"][0]["attributeValue"]
    return frame[3]["value"]


def test_a_201_password_push_sends_basic_auth_password_and_switches_when_accepted(
    chargers: Chargers,
):
    command = chargers.commands.push_password(TENANT, CP)
    frame = chargers.last_sent()
    password = pushed_password(chargers)

    assert frame[2] == "SetVariables"
    item = frame[3]["setVariableData"][0]
    assert item["component"] == {"name": "SecurityCtrlr"}
    assert item["variable"] == {"name": "BasicAuthPassword"}
    assert verify_password(OLD_PASSWORD, chargers.password_hash(CP))
    assert chargers.commands.password_accepted(command) is None

    chargers.answer(CP, command.command_id, {"setVariableResult": [
        was_set("SecurityCtrlr", "BasicAuthPassword")
    ]})

    done = chargers.commands.get(TENANT, command.command_id)
    assert chargers.commands.password_accepted(done) is True
    assert verify_password(password, chargers.password_hash(CP))
    assert not verify_password(OLD_PASSWORD, chargers.password_hash(CP))
    # Never in the device model either.
    assert value_of(chargers, "SecurityCtrlr", "BasicAuthPassword") is None


def test_a_rejected_201_password_push_leaves_the_password_unchanged(chargers: Chargers):
    before = chargers.password_hash(CP)
    command = chargers.commands.push_password(TENANT, CP)

    chargers.answer(CP, command.command_id, {"setVariableResult": [
        was_set("SecurityCtrlr", "BasicAuthPassword", "Rejected")
    ]})

    assert chargers.commands.password_accepted(chargers.commands.get(TENANT, command.command_id)) \
        is False
    assert chargers.password_hash(CP) == before


def test_a_16_password_push_changes_the_authorization_key(chargers: Chargers):
    command = chargers.commands.push_password(TENANT, CP16)
    frame = chargers.last_sent()
    password = pushed_password(chargers)

    assert frame[2:] == ["ChangeConfiguration", {"key": "AuthorizationKey", "value": password}]
    assert command.request == {"key": "AuthorizationKey", "value": "***"}

    chargers.answer(CP16, command.command_id, {"status": "Accepted"})

    assert verify_password(password, chargers.password_hash(CP16))
    # The stored configuration never gets it.
    state = chargers.data.charge_points.state.get(CP16, {})
    assert password not in json.dumps(state, default=str)


def test_a_rejected_16_password_push_leaves_the_password_unchanged(chargers: Chargers):
    before = chargers.password_hash(CP16)
    command = chargers.commands.push_password(TENANT, CP16)

    chargers.answer(CP16, command.command_id, {"status": "Rejected"})

    assert chargers.commands.get(TENANT, command.command_id).status is CommandStatus.REJECTED
    assert chargers.password_hash(CP16) == before


def test_an_answer_after_a_queued_push_still_switches_the_password(chargers: Chargers):
    chargers.registry.unregister(chargers.registry.lookup(f"conn-{CP16}"))
    command = chargers.commands.push_password(TENANT, CP16, queue_if_offline=True)
    assert command.status is CommandStatus.QUEUED

    chargers.registry.register(ConnectionInfo("conn-2", CP16, TENANT, v16.SUBPROTOCOL, NOW))
    chargers.commands.dispatch_next(TENANT, CP16)
    password = pushed_password(chargers)
    chargers.answer(CP16, command.command_id, {"status": "Accepted"})

    assert verify_password(password, chargers.password_hash(CP16))


def test_the_pushed_password_is_kept_nowhere_but_in_the_frame_sent(
    chargers: Chargers, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    command = chargers.commands.push_password(TENANT, CP)
    password = pushed_password(chargers)
    chargers.answer(CP, command.command_id, {"setVariableResult": [
        was_set("SecurityCtrlr", "BasicAuthPassword")
    ]})
    chargers.records.flush()

    stored = chargers.data.commands.get(command.command_id)
    assert stored.request["setVariableData"][0]["attributeValue"] == "***"
    assert password not in repr(stored)
    assert password not in json.dumps(chargers.data.charge_points.state, default=str)
    assert password not in repr(chargers.data.device_model.of(CP))
    assert password not in caplog.text
    events = chargers.data.__dict__
    assert password not in repr(events)
