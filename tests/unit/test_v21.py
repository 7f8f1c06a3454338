"""OCPP 2.1 as a plug-in on its own: its vocabulary against the 2.1 schemas, the
charger-initiated messages through the message service (2.0.1's behaviour for the kept
ones; the new ones with behaviour where they touch a block, else stored-and-acknowledged
or refused with a reason), and commands
to a 2.1 charger validated against the 2.1 schemas with their effects."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from csms.domain.commands import CommandStatus, UnknownCommand
from csms.domain.credentials import hash_password
from csms.domain.model import ConnectionInfo, RegisteredChargePoint, Tenant
from csms.protocol.errors import OcppError
from csms.protocol.framing import Call, CallResult, parse_frame
from csms.protocol.schemas import ocpp_schema_dir
from csms.protocol.timestamps import format_timestamp
from csms.services.commands import CommandService
from csms.services.record_applier import RecordApplier, StoreNow
from csms.services.records import BufferedRecords
from csms.versions import CentralSystemParts, by_subprotocol, v16, v21, v201

from tests.fakes.memory import (
    MemoryCommandQueue,
    MemoryConnectionRegistry,
    MemoryDirectory,
    MemoryGateway,
    MemoryPendingCalls,
    MemoryTenantStore,
)

from .conftest import CP, NOW, TENANT, Clock, World

CONNECTION = "conn-21"
SCHEMAS = ocpp_schema_dir("v21")


# The vocabulary


def test_the_vocabulary_is_2_0_1_s_and_the_new_messages_with_2_1_schemas():
    assert v21.SUBPROTOCOL == "ocpp2.1" and v21.VERSION.schema_dir == "v21"
    assert v201.CHARGER_INITIATED < v21.CHARGER_INITIATED
    assert v201.CSMS_INITIATED < v21.CSMS_INITIATED
    assert not v21.NEW_CHARGER_INITIATED & v21.NEW_CSMS_INITIATED
    for action in v21.CHARGER_INITIATED | v21.CSMS_INITIATED:
        assert (SCHEMAS / f"{action}Request.json").is_file(), action
        assert (SCHEMAS / f"{action}Response.json").is_file(), action
    # Every 2.1 message but the SEND-only NotifyPeriodicEventStream has a direction here.
    every = {p.name.removesuffix("Request.json") for p in SCHEMAS.glob("*Request.json")}
    assert every == v21.CHARGER_INITIATED | v21.CSMS_INITIATED
    assert set(v21.ERROR_CODES.values()) == set(v201.ERROR_CODES.values())


def test_the_plug_in_is_registered_after_1_6_and_2_0_1():
    plugins = by_subprotocol([v16.plugin(), v201.plugin(), v21.plugin()])
    assert list(plugins) == ["ocpp1.6", "ocpp2.0.1", "ocpp2.1"]
    assert v21.plugin() is plugins["ocpp2.1"]
    assert v21.plugin().commands.actions == v21.CSMS_INITIATED
    assert v21.plugin().commands.password_change is not None


# Charger-initiated messages


@pytest.fixture
def w21(world: World) -> World:
    """The world with a 2.1 router beside 1.6's, and CP connected over 2.1."""
    parts = CentralSystemParts(
        charging=world.messages._routers[v16.SUBPROTOCOL]._handlers[  # type: ignore[attr-defined]
            "Heartbeat"
        ].__self__._charging,
        directory=world.directory,
        clock=world.clock,
        heartbeat_interval=300,
        store=world.store,
        records=world.records,
    )
    world.messages._routers[v21.SUBPROTOCOL] = v21.plugin().router(parts)  # type: ignore[index]
    world.directory.create_tenant(Tenant(TENANT, TENANT))
    world.directory.add_charge_point(RegisteredChargePoint(CP, TENANT, "x"))
    world.registry.register(ConnectionInfo(CONNECTION, CP, TENANT, v21.SUBPROTOCOL, NOW))
    return world


_ids = iter(range(1, 100000))


def call(w: World, action: str, payload: dict) -> list:
    return w.send([2, f"u{next(_ids)}", action, payload], CONNECTION)


def ts(seconds: float = 0) -> str:
    return format_timestamp(NOW + timedelta(seconds=seconds))


def boot(w: World) -> list:
    # "FirmwareUpdate" and the like are 2.0.1's reasons too; 2.1 keeps the shape.
    return call(w, "BootNotification", {"reason": "PowerUp",
                                        "chargingStation": {"model": "M", "vendorName": "V"}})


HASH = {"hashAlgorithm": "SHA256", "issuerNameHash": "aa", "issuerKeyHash": "bb",
        "serialNumber": "01"}


def test_the_kept_messages_get_2_0_1_s_answers_checked_by_the_2_1_schemas(w21):
    assert boot(w21)[2] == {"currentTime": ts(), "interval": 300, "status": "Accepted"}
    assert call(w21, "Heartbeat", {})[2] == {"currentTime": ts()}
    assert call(w21, "StatusNotification", {"timestamp": ts(), "connectorStatus": "Available",
                                            "evseId": 1, "connectorId": 1})[:1] == [3]
    meter = [{"timestamp": ts(), "sampledValue": [
        {"value": 1000, "measurand": "Energy.Active.Import.Register"}]}]
    started = call(w21, "TransactionEvent", {
        "eventType": "Started", "timestamp": ts(), "triggerReason": "CablePluggedIn",
        "seqNo": 0, "transactionInfo": {"transactionId": "TX-21", "chargingState": "EVConnected"},
        "evse": {"id": 1, "connectorId": 1}, "meterValue": meter})
    assert started[0] == 3, started
    ended = call(w21, "TransactionEvent", {
        "eventType": "Ended", "timestamp": ts(60), "triggerReason": "EVCommunicationLost",
        "seqNo": 1,
        "transactionInfo": {"transactionId": "TX-21", "stoppedReason": "EVDisconnected"},
        "evse": {"id": 1, "connectorId": 1}})
    assert ended[0] == 3, ended
    assert call(w21, "MeterValues", {"evseId": 0, "meterValue": meter})[0] == 3
    authorized = call(w21, "Authorize", {"idToken": {"idToken": "NOBODY", "type": "ISO14443"}})
    assert authorized[0] == 3 and authorized[2]["idTokenInfo"]["status"] != "Accepted"
    # 2.1 lets an id token's type be any string (2.0.1: an enumeration).
    assert call(w21, "Authorize", {"idToken": {"idToken": "X", "type": "eMAID-2"}})[0] == 3


NEW_MESSAGES = [
    ("BatterySwap", {"eventType": "BatteryIn", "requestId": 1,
                     "idToken": {"idToken": "T", "type": "ISO14443"},
                     "batteryData": [{"evseId": 1, "serialNumber": "B1", "soC": 80, "soH": 99}]},
     {}, "battery_swap"),
    ("ClosePeriodicEventStream", {"id": 4}, {}, "periodic_event_stream_closed"),
    ("NotifyDERAlarm", {"controlType": "FreqDroop", "timestamp": ts()}, {}, "der_alarm"),
    ("NotifyDERStartStop", {"controlId": "c1", "started": True, "timestamp": ts()}, {},
     "der_start_stop"),
    ("NotifyPriorityCharging", {"transactionId": "TX-1", "activated": True}, {},
     "priority_charging"),
    ("NotifySettlement", {"pspRef": "psp-1", "status": "Settled", "settlementAmount": 12.5,
                          "settlementTime": ts()}, {}, "settlement"),
    ("ReportDERControl", {"requestId": 9}, {}, "der_control_report"),
    ("OpenPeriodicEventStream",
     {"constantStreamData": {"id": 1, "variableMonitoringId": 2,
                             "params": {"interval": 10, "values": 5}}},
     {"status": "Accepted"},
     "periodic_event_stream_request"),
    ("PullDynamicScheduleUpdate", {"chargingProfileId": 3},
     {"status": "Rejected", "statusInfo": {
         "reasonCode": "UnknownProfile",
         "additionalInfo": "this CSMS sets no dynamic charging profiles"}},
     "dynamic_schedule_pull"),
    ("VatNumberValidation", {"vatNumber": "NL123", "evseId": 2},
     {"vatNumber": "NL123", "evseId": 2, "status": "Rejected", "statusInfo": {
         "reasonCode": "NoEndpoint",
         "additionalInfo": "no VAT number validation service is configured"}},
     "vat_number_validation"),
    ("GetCertificateChainStatus",
     {"certificateStatusRequests": [{"certificateHashData": HASH, "source": "OCSP",
                                     "urls": ["http://ocsp.example"]}]},
     {"certificateStatus": [{"certificateHashData": HASH, "source": "OCSP", "status": "Failed",
                             "nextUpdate": ts(3600)}]},
     "certificate_chain_status_request"),
]


@pytest.mark.parametrize(("action", "payload", "answer", "kind"), NEW_MESSAGES,
                         ids=[m[0] for m in NEW_MESSAGES])
def test_new_messages_are_answered_per_2_1_and_stored(w21, action, payload, answer, kind):
    boot(w21)
    reply = call(w21, action, payload)
    assert reply[0] == 3, reply
    assert reply[2] == answer
    assert (CP, kind, payload) in w21.tenant.charge_points.notifications


def minimal(schema: dict, root: dict) -> object:
    """The smallest payload a schema takes: required properties only, first enum values,
    minItems items; enough to reach each handler with a valid 2.1 request."""
    if "$ref" in schema:
        return minimal(root["definitions"][schema["$ref"].split("/")[-1]], root)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        return {name: minimal(schema["properties"][name], root)
                for name in schema.get("required", [])}
    if kind == "array":
        return [minimal(schema["items"], root) for _ in range(schema.get("minItems", 0))]
    if kind == "integer":
        return max(1, schema.get("minimum", 1))
    if kind == "number":
        return float(max(1, schema.get("minimum", 1)))
    if kind == "boolean":
        return False
    if schema.get("format") == "date-time":
        return ts()
    return "x"


@pytest.mark.parametrize("action", sorted(v21.CHARGER_INITIATED))
def test_every_charger_message_of_2_1_gets_a_2_1_answer(w21, action):
    """Each handler, the kept 2.0.1 ones included, answers a valid 2.1 request with a
    response the 2.1 schema takes: the router never has to replace it ("response failed
    validation"). Whether the handler can work in this in-memory world is other tests'
    business (a fake the handler needs may be missing), so only that is checked."""
    schema = json.loads((SCHEMAS / f"{action}Request.json").read_text())
    boot(w21)
    reply = call(w21, action, minimal(schema, schema))  # type: ignore[arg-type]
    assert reply[0] in (3, 4), reply
    assert not (reply[0] == 4 and "failed validation" in reply[3]), reply


def test_new_messages_are_validated_against_the_2_1_schemas(w21):
    boot(w21)
    error = call(w21, "VatNumberValidation", {"vatNumber": "x" * 21})
    assert error[0] == 4 and error[2] == "TypeConstraintViolation"
    error = call(w21, "NotifySettlement", {"pspRef": "p"})
    assert error[0] == 4 and error[2] == "OccurrenceConstraintViolation"
    # A message of the CSMS is refused, as in 2.0.1.
    assert call(w21, "SetDefaultTariff", {"evseId": 0, "tariff": {}})[2] == "NotSupported"


def test_before_acceptance_only_requested_reports_pass(w21):
    w21.directory.update_charge_point(CP, {"registration_status": "Pending"})
    assert boot(w21)[2]["status"] == "Pending"
    assert call(w21, "ReportDERControl", {"requestId": 1})[0] == 3
    refused = call(w21, "NotifyDERAlarm", {"controlType": "FreqDroop", "timestamp": ts()})
    assert refused[:3] == [4, refused[1], "SecurityError"]


# Commands to a 2.1 charger

CP21 = "CP-21"
CP201 = "CP-201"


class Chargers:
    """A CommandService speaking 2.0.1 and 2.1, with one connected charger of each."""

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
            vocabularies={v201.SUBPROTOCOL: v201.plugin().commands,
                          v21.SUBPROTOCOL: v21.plugin().commands},
            directory=self.directory,
            clock=self.clock,
            answer_timeout=timedelta(seconds=30),
            queue_timeout=timedelta(seconds=600),
            records=self.records,
            new_id=lambda: next(ids),
            sleep=self.clock.advance,
        )
        for cp, version in ((CP21, v21.SUBPROTOCOL), (CP201, v201.SUBPROTOCOL)):
            self.directory.add_charge_point(
                RegisteredChargePoint(cp, TENANT, hash_password("pw-" * 6), ocpp_version=version)
            )
            self.registry.register(ConnectionInfo(f"conn-{cp}", cp, TENANT, version, NOW))

    def sent(self) -> list[list]:
        return [json.loads(frame) for _, frame in self.gateway.sent]

    def answer(self, cp: str, message_id: str, payload: dict) -> None:
        call = parse_frame(self.pending.take(cp, message_id))
        assert isinstance(call, Call)
        self.commands.complete(TENANT, cp, call, CallResult(message_id, payload))

    def state(self, cp: str) -> dict:
        return self.store.for_tenant(TENANT).charge_points.state.get(cp, {})


@pytest.fixture
def chargers() -> Chargers:
    return Chargers()


TARIFF = {"tariffId": "T-1", "currency": "EUR",
          "energy": {"prices": [{"priceKwh": 0.3}]}}


@pytest.mark.parametrize(
    ("action", "payload", "response", "field", "kept"),
    [
        ("SetDefaultTariff", {"evseId": 0, "tariff": TARIFF}, {"status": "Accepted"},
         "default_tariff.0", {"evseId": 0, "tariff": TARIFF}),
        ("SetDERControl", {"isDefault": True, "controlId": "c1", "controlType": "FreqDroop"},
         {"status": "Accepted"}, "der_control.FreqDroop",
         {"isDefault": True, "controlId": "c1", "controlType": "FreqDroop"}),
        ("UsePriorityCharging", {"transactionId": "TX-1", "activate": True},
         {"status": "Accepted"}, "priority_charging", {"transactionId": "TX-1", "activate": True}),
        ("ClearTariffs", {"tariffIds": ["T-1"]},
         {"clearTariffsResult": [{"tariffId": "T-1", "status": "Accepted"}]}, "tariffs_cleared",
         {"request": {"tariffIds": ["T-1"]},
          "results": [{"tariffId": "T-1", "status": "Accepted"}]}),
        # Kept commands speak 2.1 too: Reset's answer is checked against the 2.1 schema.
        ("Reset", {"type": "Immediate"}, {"status": "Accepted"}, "last_reset", "Immediate"),
    ],
)
def test_2_1_commands_go_out_checked_and_their_effects_are_recorded(
    chargers: Chargers, action, payload, response, field, kept
):
    command = chargers.commands.submit(TENANT, CP21, action, payload)
    frame = chargers.sent()[-1]
    assert frame[:2] == [2, command.command_id] and frame[2:] == [action, payload]

    chargers.answer(CP21, command.command_id, response)

    assert chargers.commands.get(TENANT, command.command_id).status is CommandStatus.COMPLETED
    assert chargers.state(CP21)[field] == kept


def test_a_2_1_request_breaking_its_schema_is_refused_before_sending(chargers: Chargers):
    with pytest.raises(OcppError, match="tariff"):
        chargers.commands.submit(TENANT, CP21, "SetDefaultTariff", {"evseId": 0})
    assert chargers.sent() == []


def test_2_1_commands_are_unknown_to_a_2_0_1_charger(chargers: Chargers):
    with pytest.raises(UnknownCommand):
        chargers.commands.submit(TENANT, CP201, "SetDefaultTariff",
                                 {"evseId": 0, "tariff": TARIFF})


def test_a_refusal_in_2_1_words_records_nothing(chargers: Chargers):
    command = chargers.commands.submit(TENANT, CP21, "GetTariffs", {"evseId": 0})
    chargers.answer(CP21, command.command_id, {"status": "NoTariff"})
    assert chargers.commands.get(TENANT, command.command_id).status is CommandStatus.REJECTED
    assert "tariffs" not in chargers.state(CP21)
