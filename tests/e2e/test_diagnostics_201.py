"""OCPP 2.0.1 block N through the local gateway and the event pipeline: a log upload
followed to Uploaded, monitors set, reported and cleared, NotifyEvent stored and
published, a customer information report assembled from its parts; events match their
schemas."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.event_schemas import validate_event
from tests.mqtt_subscriber import Subscriber

from .conftest import api_for
from .test_commands_201 import command, station
from .test_events import evented_gateway  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.e2e]

Payload = dict[str, Any]
HEARTBEAT = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
TEMPERATURE = {"component": {"name": "EVSE", "evse": {"id": 1}},
               "variable": {"name": "Temperature"}}


def now() -> str:
    return datetime.now(UTC).isoformat()


def monitoring_results(request: Payload) -> Payload:
    return {"setMonitoringResult": [
        {"id": 100 + index, "status": "Accepted", "type": item["type"],
         "severity": item["severity"], "component": item["component"],
         "variable": item["variable"]}
        for index, item in enumerate(request["setMonitoringData"])]}


async def test_diagnostics_are_tracked_and_published(
    evented_gateway, fleet, mqtt_url  # noqa: F811
):
    gateway = evented_gateway
    cp_id = fleet.add_charge_point("DIAG201")
    operator = api_for(gateway, fleet.tenant_id, "operator")
    viewer = api_for(gateway, fleet.tenant_id, "viewer")
    subscriber = Subscriber(mqtt_url, f"ocpp/events/{fleet.tenant_id}/{cp_id}/diagnostics")
    async with station(gateway, cp_id) as cs:
        # N01: a log upload, followed to the end.
        cs.answers["GetLog"] = lambda _: {"status": "Accepted", "filename": "diag.zip"}
        log = await command(operator, cp_id, "GetLog", {
            "logType": "DiagnosticsLog", "requestId": 31,
            "log": {"remoteLocation": "https://logs.example.com/up"}}, wait=10)
        for status in ("Uploading", "Uploaded"):
            await cs.call("LogStatusNotification", {"status": status, "requestId": 31})

        # N04, N02, N06: monitors set, reported, cleared.
        cs.answers["SetVariableMonitoring"] = monitoring_results
        monitored = await command(operator, cp_id, "SetVariableMonitoring", {
            "setMonitoringData": [
                {"value": 60, "type": "UpperThreshold", "severity": 4, **TEMPERATURE},
                {"value": 600, "type": "Periodic", "severity": 8, **HEARTBEAT}]}, wait=10)
        base = await command(operator, cp_id, "SetMonitoringBase",
                             {"monitoringBase": "FactoryDefault"}, wait=10)
        level = await command(operator, cp_id, "SetMonitoringLevel", {"severity": 5}, wait=10)
        reported = asyncio.Event()

        async def report(request: Payload) -> None:
            await cs.call("NotifyMonitoringReport", {
                "requestId": request["requestId"], "seqNo": 0, "generatedAt": now(),
                "monitor": [{**TEMPERATURE, "variableMonitoring": [
                    {"id": 100, "transaction": False, "value": 55, "type": "UpperThreshold",
                     "severity": 4}]}]})
            reported.set()

        cs.after["GetMonitoringReport"] = report
        asked = await command(operator, cp_id, "GetMonitoringReport", {"requestId": 41},
                              wait=10)
        await asyncio.wait_for(reported.wait(), 10)
        after_report = viewer.get(f"/v1/charge-points/{cp_id}/monitors").json["items"]
        cs.answers["ClearVariableMonitoring"] = lambda request: {"clearMonitoringResult": [
            {"id": i, "status": "Accepted"} for i in request["id"]]}
        cleared = await command(operator, cp_id, "ClearVariableMonitoring", {"id": [100]},
                                wait=10)

        # N07: an event.
        await cs.call("NotifyEvent", {"generatedAt": now(), "seqNo": 0, "eventData": [{
            "eventId": 7, "timestamp": now(), "trigger": "Alerting", "actualValue": "61",
            "eventNotificationType": "CustomMonitor", "variableMonitoringId": 100,
            **TEMPERATURE}]})

        # N09: customer information in two parts, the second arriving first.
        info = await command(operator, cp_id, "CustomerInformation", {
            "requestId": 51, "report": True, "clear": False,
            "idToken": {"idToken": "ACCEPTED", "type": "ISO14443"}}, wait=10)
        await cs.call("NotifyCustomerInformation", {"data": "part two", "seqNo": 1,
                                                    "generatedAt": now(), "requestId": 51})
        partial = operator.get(f"/v1/charge-points/{cp_id}/customer-information/51").json
        await cs.call("NotifyCustomerInformation", {"data": "part one, ", "seqNo": 0,
                                                    "tbc": True, "generatedAt": now(),
                                                    "requestId": 51})
        await asyncio.sleep(0.5)

    assert [r.json["status"] for r in (log, monitored, base, level, asked, cleared, info)] \
        == ["completed"] * 7, log.text
    [upload] = viewer.get(f"/v1/charge-points/{cp_id}/logs").json["items"]
    assert (upload["request_id"], upload["status"], upload["filename"]) == (
        31, "Uploaded", "diag.zip")
    assert [h["status"] for h in upload["history"]] == ["Uploading", "Uploaded"]

    # The complete report (no criteria) lists 100 only: 101 is gone, 100 has its value.
    assert [(m["id"], m["value"]) for m in after_report] == [(100, 55)]
    assert viewer.get(f"/v1/charge-points/{cp_id}/monitors").json["items"] == []
    state = viewer.get(f"/v1/charge-points/{cp_id}").json["state"]
    assert (state["monitoring_base"], state["monitoring_level"]) == ("FactoryDefault", 5)

    events = viewer.get(f"/v1/charge-points/{cp_id}/events").json["items"]
    assert events[0]["eventData"][0]["eventId"] == 7

    assert partial["complete"] is False
    whole = operator.get(f"/v1/charge-points/{cp_id}/customer-information/51").json
    assert (whole["complete"], whole["data"]) == (True, "part one, part two")
    assert whole["request"]["idToken"]["idToken"] == "ACCEPTED"
    assert viewer.get(f"/v1/charge-points/{cp_id}/customer-information/51").status == 403

    received = await asyncio.to_thread(subscriber.wait_for, lambda m: len(m) >= 4)
    subscriber.close()
    for _, event in received:
        validate_event(event)
    assert [e["type"] for _, e in received] == [
        "log_status", "log_status", "charger_event", "customer_information"]
    assert received[1][1]["data"] == {"request_id": 31, "status": "Uploaded",
                                      "log_type": "DiagnosticsLog", "filename": "diag.zip"}
    assert received[3][1]["data"] == {"request_id": 51, "parts": 2, "size": 18}
