"""Events operators receive over MQTT: topics and payloads (JSON schemas in
docs/events/). Every event has an id that is stable across redeliveries, so a consumer
can drop the duplicates at-least-once delivery may bring."""

from __future__ import annotations

from typing import Any

STATUS = "status"  # {prefix}/status/{tenant}/{cp}: boot, connector status, connection
SESSION = "session"  # {prefix}/events/{tenant}/{cp}/session: transactions and meter values
COMMANDS = "commands"  # {prefix}/events/{tenant}/{cp}/commands: command completions
# OCPP 2.0.1 blocks (1.6 firmware and data transfer too), a stream each.
RESERVATIONS = "reservations"  # reservation expired, removed, used, cancelled
DIAGNOSTICS = "diagnostics"  # NotifyEvent, log uploads, customer information
FIRMWARE = "firmware"  # firmware update and publication progress
DATA_TRANSFER = "data_transfer"  # vendor DataTransfer messages kept for the tenant

# Which stream each event type belongs to.
STREAM_OF = {
    "boot": STATUS,
    "connector_status": STATUS,
    "connected": STATUS,
    "disconnected": STATUS,
    "transaction_started": SESSION,
    "meter_values": SESSION,
    "transaction_stopped": SESSION,
    "command_completed": COMMANDS,
    "reservation_status": RESERVATIONS,
    "charger_event": DIAGNOSTICS,
    "log_status": DIAGNOSTICS,
    "customer_information": DIAGNOSTICS,
    "periodic_event_stream": DIAGNOSTICS,
    "firmware_status": FIRMWARE,
    "publish_firmware_status": FIRMWARE,
    "data_transfer": DATA_TRANSFER,
}


def topic(prefix: str, stream: str, tenant_id: str, charge_point_id: str) -> str:
    if stream == STATUS:
        return f"{prefix}/status/{tenant_id}/{charge_point_id}"
    return f"{prefix}/events/{tenant_id}/{charge_point_id}/{stream}"


def event(
    event_id: str,
    event_type: str,
    tenant_id: str,
    charge_point_id: str,
    timestamp: str,
    data: dict[str, Any],
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": event_type,
        "tenant_id": tenant_id,
        "charge_point_id": charge_point_id,
        "timestamp": timestamp,
        "data": data,
    }
