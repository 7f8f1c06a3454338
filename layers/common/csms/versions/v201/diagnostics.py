"""How 2.0.1 reports what the diagnostics (N) and display message (O) blocks keep:
variable monitors as SetVariableMonitoring made them and NotifyMonitoringReport lists
them, and which Get requests ask for everything (their complete reports then replace
what is kept)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from csms.domain.commands import AskedFor

Payload = dict[str, Any]

# GetDisplayMessages criteria: a request without any asks for every message.
_DISPLAY_CRITERIA = ("id", "priority", "state")


def monitor(component: Payload, variable: Payload, monitoring: Payload) -> Payload:
    """One variable monitor as kept: where it watches (2.0.1's component and variable, the
    device model's own address) and what it watches for."""
    return {
        "id": monitoring["id"],
        "component": component,
        "variable": variable,
        "type": monitoring["type"],
        "severity": monitoring["severity"],
        "value": monitoring["value"],
        "transaction": monitoring.get("transaction", False),
    }


def accepted_monitors(request: Payload, response: Payload) -> list[Payload]:
    """The monitors a SetVariableMonitoring made or replaced, with the ids the charger
    gave them. Results answer the request's items in order (B: one result per item)."""
    asked = request.get("setMonitoringData", [])
    results = response.get("setMonitoringResult", [])
    made = []
    for index, result in enumerate(results):
        if result.get("status") != "Accepted" or "id" not in result:
            continue
        item = asked[index] if index < len(asked) else {}
        made.append(monitor(result["component"], result["variable"], {
            "id": result["id"],
            "type": result["type"],
            "severity": result["severity"],
            "value": item.get("value"),
            "transaction": item.get("transaction", False),
        }))
    return made


def reported_monitors(report: Sequence[Payload]) -> list[Payload]:
    """The monitors listed in a NotifyMonitoringReport's `monitor` items."""
    return [
        monitor(item["component"], item["variable"], monitoring)
        for item in report
        for monitoring in item["variableMonitoring"]
    ]


def asks_for_every_monitor(request: Payload) -> bool:
    """A GetMonitoringReport without criteria or components reports every monitor."""
    return not request.get("monitoringCriteria") and not request.get("componentVariable")


def asks_for_every_message(request: Payload) -> bool:
    """A GetDisplayMessages without criteria: its complete answer lists all the charger
    shows, and anything else kept is gone."""
    return not any(request.get(name) for name in _DISPLAY_CRITERIA)


MONITORING_REPORT = AskedFor("GetMonitoringReport", "requestId", asks_for_every_monitor)
DISPLAY_MESSAGES_REPORT = AskedFor("GetDisplayMessages", "requestId", asks_for_every_message)
REMOTE_START = AskedFor("RequestStartTransaction", "remoteStartId")
