"""csms-sim against the anchor (a plain `ocpp`-package central system on a free loopback
port, which validates every payload against the OCPP schemas): no project stack, real
sockets, bounded runs; OCPP 1.6 and 2.0.1."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import pytest
from csms.protocol.schemas import SchemaSet, ocpp_schema_dir
from csms.versions import v201
from csms_local.sim import SimConfig, SimConfigError, responder201, simulate
from csms_local.sim.anchor import Anchor, AnchorChargePoint, AnchorChargePoint201
from csms_local.sim.cli import main
from csms_local.sim.client201 import Charger201
from csms_local.sim.config import OcppVersion
from csms_local.sim.stats import Stats
from ocpp.routing import after, on
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as call_result201

pytestmark = pytest.mark.integration

SUMMARY_KEYS = {
    "target",
    "profile",
    "chargers",
    "processes",
    "duration_s",
    "msgs",
    "msgs_per_s",
    "latency_ms",
    "latency_after_ramp_ms",
    "calls_sent",
    "commands_answered",
    "by_action",
    "errors",
    "error_count",
    "connects",
    "reconnects",
    "connected_at_end",
    "transactions",
    "storms",
    "verify",
    "ocpp",
}


@pytest.mark.parametrize("ocpp", ["1.6", "2.0.1"])
async def test_saturate_cli_prints_a_json_summary_without_errors(ocpp: str) -> None:
    async with Anchor(ocpp=ocpp) as anchor:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "csms_local.sim.cli",
            *("--url", anchor.url, "--chargers", "5", "--duration", "2", "--json", "--quiet"),
            *("--ocpp", ocpp),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    summary = json.loads(out)
    assert set(summary) == SUMMARY_KEYS
    assert summary["ocpp"] == ocpp
    assert set(summary["latency_ms"]) == {"p50", "p95", "p99", "max"}
    assert summary["msgs"] > 0 and summary["msgs_per_s"] > 0
    assert summary["error_count"] == 0 and summary["errors"] == {}
    assert summary["connects"] == 5 and summary["connected_at_end"] == 5
    assert summary["by_action"]["BootNotification"] == 5
    assert summary["latency_ms"]["p50"] <= summary["latency_ms"]["p99"]


@pytest.mark.parametrize("ocpp", ["1.6", "2.0.1"])
async def test_storm_brings_every_charger_back(ocpp: OcppVersion) -> None:
    async with Anchor(ocpp=ocpp) as anchor:
        summary = await simulate(
            SimConfig(
                url=anchor.url, chargers=8, profile="storm", storms=2, duration=60,
                progress=False, ocpp=ocpp,
            )
        )
    assert summary.error_count == 0, summary.errors
    assert summary.reconnects == 16 and summary.connected_at_end == 8
    assert [s["storm"] for s in summary.storms] == [1, 2]
    assert all(s["all_back_s"] < 30 for s in summary.storms)
    assert summary.by_action["BootNotification"] == 24
    assert summary.duration_s < 60  # the run ends with the last storm


@pytest.mark.parametrize("url", ["ws://192.0.2.1:9000/ocpp", "wss://192.0.2.1/ocpp"])
def test_the_loopback_guard_refuses_other_hosts(url: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SimConfigError, match="loopback"):
        SimConfig(url=url).check()
    SimConfig(url=url, allow_remote=True).check()
    assert main(["--url", url, "--chargers", "1", "--duration", "1"]) == 2
    assert "not a loopback address" in capsys.readouterr().err
    for loopback in ("ws://127.0.0.2:1/ocpp", "ws://localhost:1/ocpp", "ws://[::1]:1/ocpp"):
        SimConfig(url=loopback).check()


def test_bounds_are_enforced() -> None:
    for bad in (
        SimConfig(chargers=0),
        SimConfig(chargers=20_001),
        SimConfig(duration=3_601),
        SimConfig(duration=5, ramp=6),
        SimConfig(chargers=2, processes=3),
        SimConfig(url="http://127.0.0.1/ocpp"),
        SimConfig(ocpp="1.5"),  # type: ignore[arg-type]
    ):
        with pytest.raises(SimConfigError):
            bad.check()


class Commanding(AnchorChargePoint):
    """An anchor that reports what the simulated charger sends after a command."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        loop = asyncio.get_running_loop()
        self.booted: asyncio.Future[None] = loop.create_future()
        self.started: asyncio.Future[dict[str, Any]] = loop.create_future()
        self.stopped: asyncio.Future[dict[str, Any]] = loop.create_future()

    @on(Action.boot_notification)
    def on_boot(self, **kwargs: Any) -> call_result.BootNotification:
        if not self.booted.done():
            self.booted.set_result(None)
        return super().on_boot(**kwargs)

    @on(Action.start_transaction)
    def on_start(self, **kwargs: Any) -> call_result.StartTransaction:
        return call_result.StartTransaction(transaction_id=42, id_tag_info={"status": "Accepted"})

    @after(Action.start_transaction)
    def after_start(self, **kwargs: Any) -> None:
        # Only now is the answer (and its transactionId) on its way to the charger.
        self.started.set_result(kwargs)

    @on(Action.stop_transaction)
    def on_stop(self, **kwargs: Any) -> call_result.StopTransaction:
        self.stopped.set_result(kwargs)
        return call_result.StopTransaction()


async def test_the_simulated_charger_acts_on_commands() -> None:
    """RemoteStart -> StartTransaction, RemoteStop -> StopTransaction, Reset -> a new
    connection with a BootNotification; everything else a plausible answer."""
    async with Anchor(charge_point=Commanding) as anchor:
        stop = asyncio.Event()
        config = SimConfig(
            url=anchor.url, chargers=1, profile="fleet", charging_share=0, duration=60
        )
        config.progress = False
        run = asyncio.create_task(simulate(config, stop=stop))
        try:
            async with asyncio.timeout(30):
                cp = await anchor.wait_for("SIM-00001")
                assert isinstance(cp, Commanding)
                await cp.booted
                answer = await cp.call(
                    call.RemoteStartTransaction(id_tag="TAG-1", connector_id=1)
                )
                assert answer.status == "Accepted"
                started = await cp.started
                assert started["id_tag"] == "TAG-1" and started["connector_id"] == 1
                answer = await cp.call(call.RemoteStopTransaction(transaction_id=42))
                assert answer.status == "Accepted"
                assert (await cp.stopped)["reason"] == "Remote"
                config_answer = await cp.call(call.GetConfiguration(key=["HeartbeatInterval"]))
                assert config_answer.configuration_key[0]["value"] == "300"
                assert (await cp.call(call.ChangeAvailability(1, "Inoperative"))).status == (
                    "Accepted"
                )
                assert (await cp.call(call.Reset(type="Soft"))).status == "Accepted"
                again = await anchor.wait_for("SIM-00001", other_than=cp)
                await again.booted  # type: ignore[attr-defined]
        finally:
            stop.set()
        summary = await asyncio.wait_for(run, 30)
    assert summary.error_count == 0, summary.errors
    assert summary.reconnects == 1
    assert summary.commands_answered == 5
    assert summary.transactions == {"started": 1, "stopped": 1}


# OCPP 2.0.1


class Recording201(AnchorChargePoint201):
    """A 2.0.1 anchor that keeps every TransactionEvent and StatusNotification it got."""

    events: list[dict[str, Any]] = []
    statuses: list[dict[str, Any]] = []
    meter_values: list[dict[str, Any]] = []

    @on("TransactionEvent")
    def on_transaction_event(self, **kwargs: Any) -> call_result201.TransactionEvent:
        self.events.append(kwargs)
        return super().on_transaction_event(**kwargs)

    @on("StatusNotification")
    def on_status(self, **kwargs: Any) -> call_result201.StatusNotification:
        self.statuses.append(kwargs)
        return call_result201.StatusNotification()

    @on("MeterValues")
    def on_meter_values(self, **kwargs: Any) -> call_result201.MeterValues:
        self.meter_values.append(kwargs)
        return call_result201.MeterValues()


async def test_the_2_0_1_fleet_charges_with_transaction_events() -> None:
    """Sessions of TransactionEvent Started/Updated/Ended with the station's own
    transactionId and seqNo from 0; StatusNotification per EVSE and connector; MeterValues
    between sessions. The anchor checks every payload against the 2.0.1 schemas."""
    Recording201.events, Recording201.statuses, Recording201.meter_values = [], [], []
    async with Anchor(ocpp="2.0.1", charge_point=Recording201) as anchor:
        summary = await simulate(SimConfig(
            url=anchor.url, ocpp="2.0.1", chargers=4, profile="fleet", charging_share=0.5,
            heartbeat_interval=0.5, meter_interval=0.3, session_seconds=1.0, duration=4,
            progress=False,
        ))
    assert summary.error_count == 0, summary.errors
    assert summary.ocpp == "2.0.1"
    for action in ("BootNotification", "StatusNotification", "Heartbeat", "Authorize",
                   "TransactionEvent", "MeterValues"):
        assert summary.by_action[action] > 0, action
    assert "StartTransaction" not in summary.by_action
    started, stopped = summary.transactions["started"], summary.transactions["stopped"]
    assert started >= 2 and started == stopped  # the run's end stops what is open
    by_transaction: dict[str, list[dict[str, Any]]] = {}
    for event in Recording201.events:
        by_transaction.setdefault(event["transaction_info"]["transaction_id"], []).append(event)
    assert len(by_transaction) == started
    for events in by_transaction.values():
        assert [e["seq_no"] for e in events] == list(range(len(events)))
        kinds = [e["event_type"] for e in events]
        assert kinds[0] == "Started" and kinds[-1] == "Ended"
        assert set(kinds[1:-1]) <= {"Updated"}
        assert events[0]["evse"] == {"id": 1, "connector_id": 1}
        assert events[0]["id_token"]["id_token"] == "SIM-TAG"
        for updated in events[1:-1]:
            assert updated["trigger_reason"] == "MeterValuePeriodic"
            assert updated["meter_value"][0]["sampled_value"]
    assert any(len(events) > 2 for events in by_transaction.values())
    assert {(s["evse_id"], s["connector_id"]) for s in Recording201.statuses} == {(1, 1)}
    assert {s["connector_status"] for s in Recording201.statuses} == {"Available", "Occupied"}
    assert all(m["evse_id"] == 1 for m in Recording201.meter_values)


class Commanding201(AnchorChargePoint201):
    """A 2.0.1 anchor that reports what the simulated station sends after a command."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        loop = asyncio.get_running_loop()
        self.boots: asyncio.Queue[str] = asyncio.Queue()
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.reports: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.triggered: asyncio.Future[None] = loop.create_future()

    @on("BootNotification")
    def on_boot(self, **kwargs: Any) -> call_result201.BootNotification:
        self.boots.put_nowait(kwargs["reason"])
        return super().on_boot(**kwargs)

    @on("TransactionEvent")
    def on_transaction_event(self, **kwargs: Any) -> call_result201.TransactionEvent:
        self.events.put_nowait(kwargs)
        return super().on_transaction_event(**kwargs)

    @on("NotifyReport")
    def on_notify_report(self, **kwargs: Any) -> call_result201.NotifyReport:
        self.reports.put_nowait(kwargs)
        return call_result201.NotifyReport()

    @on("Heartbeat")
    def on_heartbeat(self) -> call_result201.Heartbeat:
        if not self.triggered.done():
            self.triggered.set_result(None)
        return super().on_heartbeat()


async def test_the_simulated_2_0_1_station_acts_on_commands() -> None:
    """RequestStartTransaction -> TransactionEvent Started with the remoteStartId,
    RequestStopTransaction -> Ended, Get/SetVariables per item, GetBaseReport ->
    NotifyReport, TriggerMessage -> the message, Reset -> a reconnect booting for
    RemoteReset; the anchor's client checks each answer against the 2.0.1 schemas."""
    async with Anchor(ocpp="2.0.1", charge_point=Commanding201) as anchor:
        stop = asyncio.Event()
        config = SimConfig(url=anchor.url, ocpp="2.0.1", chargers=1, profile="fleet",
                           charging_share=0, duration=60, progress=False)
        run = asyncio.create_task(simulate(config, stop=stop))
        try:
            async with asyncio.timeout(30):
                cp = await anchor.wait_for("SIM-00001")
                assert isinstance(cp, Commanding201)
                assert await cp.boots.get() == "PowerUp"
                token = {"id_token": "TAG-1", "type": "Central"}
                answer = await cp.call(call201.RequestStartTransaction(
                    id_token=token, remote_start_id=17, evse_id=1))
                assert answer.status == "Accepted"
                started = await cp.events.get()
                assert (started["event_type"], started["trigger_reason"], started["seq_no"]) == (
                    "Started", "RemoteStart", 0)
                info = started["transaction_info"]
                assert info["remote_start_id"] == 17 and started["id_token"] == token
                busy = await cp.call(call201.RequestStartTransaction(
                    id_token=token, remote_start_id=18, evse_id=1))
                assert busy.status == "Rejected"
                answer = await cp.call(call201.RequestStopTransaction(
                    transaction_id=info["transaction_id"]))
                assert answer.status == "Accepted"
                ended = await cp.events.get()
                assert (ended["event_type"], ended["trigger_reason"], ended["seq_no"]) == (
                    "Ended", "RemoteStop", 1)
                assert ended["transaction_info"]["stopped_reason"] == "Remote"
                got = await cp.call(call201.GetVariables(get_variable_data=[
                    {"component": {"name": "OCPPCommCtrlr"},
                     "variable": {"name": "HeartbeatInterval"}},
                    {"component": {"name": "Nope"}, "variable": {"name": "X"}},
                    {"component": {"name": "SecurityCtrlr"},
                     "variable": {"name": "BasicAuthPassword"}},
                ]))
                assert [(r["attribute_status"], r.get("attribute_value"))
                        for r in got.get_variable_result] == [
                    ("Accepted", "300"), ("UnknownComponent", None), ("Rejected", None)]
                done = await cp.call(call201.SetVariables(set_variable_data=[
                    {"component": {"name": "OCPPCommCtrlr"},
                     "variable": {"name": "HeartbeatInterval"}, "attribute_value": "60"},
                    {"component": {"name": "OCPPCommCtrlr"},
                     "variable": {"name": "Nope"}, "attribute_value": "1"},
                ]))
                assert [r["attribute_status"] for r in done.set_variable_result] == [
                    "Accepted", "UnknownVariable"]
                report = await cp.call(call201.GetBaseReport(
                    request_id=5, report_base="FullInventory"))
                assert report.status == "Accepted"
                reported = await cp.reports.get()
                assert reported["request_id"] == 5 and reported["seq_no"] == 0
                assert {"component": {"name": "OCPPCommCtrlr"},
                        "variable": {"name": "HeartbeatInterval"},
                        "variable_attribute": [{"type": "Actual", "mutability": "ReadWrite",
                                                "value": "60"}],
                        "variable_characteristics": {"data_type": "integer",
                                                     "supports_monitoring": False},
                        } in reported["report_data"]
                trigger = await cp.call(call201.TriggerMessage(requested_message="Heartbeat"))
                assert trigger.status == "Accepted"
                await cp.triggered
                status = await cp.call(call201.GetTransactionStatus(
                    transaction_id=info["transaction_id"]))
                assert (status.messages_in_queue, status.ongoing_indicator) == (False, False)
                assert (await cp.call(call201.Reset(type="Immediate"))).status == "Accepted"
                again = await anchor.wait_for("SIM-00001", other_than=cp)
                assert isinstance(again, Commanding201)
                assert await again.boots.get() == "RemoteReset"
        finally:
            stop.set()
        summary = await asyncio.wait_for(run, 30)
    assert summary.error_count == 0, summary.errors
    assert summary.reconnects == 1
    assert summary.commands_answered == 9
    assert summary.transactions == {"started": 1, "stopped": 1}


# One request per command whose answer depends on it; the others are answered from {}.
REQUESTS_201: dict[str, dict[str, Any]] = {
    "GetVariables": {"getVariableData": [
        {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}]},
    "SetVariables": {"setVariableData": [
        {"component": {"name": "AuthCtrlr"}, "variable": {"name": "AuthorizeRemoteStart"},
         "attributeValue": "true"}]},
    "SetVariableMonitoring": {"setMonitoringData": [
        {"value": 1, "type": "Delta", "severity": 5, "component": {"name": "EVSE"},
         "variable": {"name": "AvailabilityState"}}]},
    "ClearVariableMonitoring": {"id": [1, 2]},
    "RequestStartTransaction": {"idToken": {"idToken": "T", "type": "Central"},
                                "remoteStartId": 1},
    "RequestStopTransaction": {"transactionId": "nope"},
    "Reset": {"type": "OnIdle"},
    "TriggerMessage": {"requestedMessage": "SignChargingStationCertificate"},
    "GetBaseReport": {"requestId": 1, "reportBase": "FullInventory"},
    "GetReport": {"requestId": 2, "componentVariable": [{"component": {"name": "Nothing"}}]},
    "CustomerInformation": {"requestId": 3, "report": True, "clear": False},
    "GetTransactionStatus": {"transactionId": "nope"},
    "GetLog": {"logType": "DiagnosticsLog", "requestId": 4, "log": {"remoteLocation": "x"}},
}


@pytest.mark.parametrize("schema_dir", ["v201", "v21"])
def test_every_2_0_1_command_gets_a_schema_valid_answer(schema_dir: str) -> None:
    """Without a connection: the answers alone, against the 2.0.1 and the 2.1 schemas
    (an --ocpp 2.1 station answers with the same code)."""
    assert v201.CSMS_INITIATED <= responder201.ANSWERED
    schemas = SchemaSet(ocpp_schema_dir(schema_dir), request_suffix="Request")
    charger = Charger201("SIM-00001", SimConfig(ocpp="2.0.1"), Stats())
    for action in sorted(v201.CSMS_INITIATED):
        request = REQUESTS_201.get(action, {})
        result = responder201.answer(charger, action, request)
        assert result.error is None and result.payload is not None, action
        schemas.validate_response(action, result.payload)


# What a 2.1 station answers to the commands new in 2.1, one request each.
REQUESTS_21: dict[str, dict[str, Any]] = {
    "SetDefaultTariff": {"evseId": 0, "tariff": {"tariffId": "T-1", "currency": "EUR"}},
    "GetTariffs": {"evseId": 1},
    "ClearTariffs": {"tariffIds": ["T-1", "T-2"]},
    "ChangeTransactionTariff": {"transactionId": "nope",
                                "tariff": {"tariffId": "T-3", "currency": "EUR"}},
    "UsePriorityCharging": {"transactionId": "nope", "activate": True},
}


def test_a_2_1_station_answers_2_1_s_new_commands() -> None:
    from csms.versions import v21

    assert v21.CSMS_INITIATED <= responder201.ANSWERED_21
    schemas = SchemaSet(ocpp_schema_dir("v21"), request_suffix="Request")
    charger = Charger201("SIM-00001", SimConfig(ocpp="2.1"), Stats())
    answers = {}
    for action in sorted(v21.CSMS_INITIATED):
        request = REQUESTS_21.get(action, REQUESTS_201.get(action, {}))
        result = responder201.answer(charger, action, request)
        assert result.error is None and result.payload is not None, action
        schemas.validate_response(action, result.payload)
        answers[action] = result.payload
    assert answers["ChangeTransactionTariff"] == {"status": "TxNotFound"}
    # A default tariff kept, reported and cleared.
    fresh = Charger201("SIM-00003", SimConfig(ocpp="2.1"), Stats())
    for action in ("SetDefaultTariff", "GetTariffs", "ClearTariffs", "GetTariffs"):
        answers[action] = responder201.answer(fresh, action, REQUESTS_21[action]).payload
        if action == "ClearTariffs":
            assert answers["GetTariffs"] == {"status": "Accepted", "tariffAssignments": [
                {"tariffId": "T-1", "tariffKind": "DefaultTariff", "evseIds": [0]}]}
    assert answers["ClearTariffs"] == {"clearTariffsResult": [
        {"tariffId": "T-1", "status": "Accepted"}, {"tariffId": "T-2", "status": "NoTariff"}]}
    assert answers["GetTariffs"] == {"status": "NoTariff"}
    # A 2.0.1 station knows none of them.
    station201 = Charger201("SIM-00002", SimConfig(ocpp="2.0.1"), Stats())
    assert responder201.answer(station201, "GetTariffs", {"evseId": 0}).error == (
        "NotImplemented")
