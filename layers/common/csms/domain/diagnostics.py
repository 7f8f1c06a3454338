"""Diagnostics (OCPP 2.0.1 block N): log uploads (GetLog, LogStatusNotification),
variable monitors (SetVariableMonitoring, NotifyMonitoringReport,
ClearVariableMonitoring), the charger's events (NotifyEvent) and customer information
reports (NotifyCustomerInformation), kept in 2.0.1's own terms."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Payload = dict[str, Any]

# LogStatusNotification statuses after which nothing more comes for that request.
FINAL_LOG_STATUSES = frozenset(
    {"Uploaded", "UploadFailure", "BadMessage", "NotSupportedOperation", "PermissionDenied",
     "AcceptedCanceled"}
)


def monitor(component: Payload, variable: Payload, monitoring: Payload) -> Payload:
    """One variable monitor as kept: the VariableMonitoringType and where it watches."""
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
