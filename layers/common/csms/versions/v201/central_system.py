"""The CSMS's side of OCPP 2.0.1: one `on_<action>` per charger-initiated Call.

Each handler receives a payload that already passed the 2.0.1 JSON schema, turns it
into domain values, calls a service and builds the response payload (validated again
by the router)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from csms.domain.charger_transactions import TransactionEventData
from csms.domain.device_model import VariableAttribute, VariableKey
from csms.domain.id_tokens import IdToken, IdTokenInfo
from csms.domain.model import BootInfo, ConnectorStatus, MeterValue, RegistrationStatus
from csms.domain.reservations import ReservationState
from csms.protocol.errors import ErrorKind, OcppError
from csms.protocol.router import CallContext, Handler
from csms.protocol.timestamps import format_timestamp, parse_timestamp
from csms.services.data_transfer import DataTransferService
from csms.services.diagnostics import DiagnosticsService
from csms.services.display_messages import DisplayMessageService
from csms.services.firmware import FirmwareService
from csms.services.provisioning import ProvisioningService
from csms.services.reservations import ReservationService
from csms.services.transaction_events import TransactionEventService
from csms.versions.v201 import certificates, smart_charging
from csms.versions.v201.diagnostics import (
    DISPLAY_MESSAGES_REPORT,
    MONITORING_REPORT,
    REMOTE_START,
    reported_monitors,
)

if TYPE_CHECKING:
    from csms.versions import CentralSystemParts

Payload = dict[str, Any]

# How long a Pending or Rejected charger waits before its next BootNotification (s).
BOOT_RETRY_INTERVAL = 60

# B02: while Pending, only these come from the charger: BootNotification, and the
# messages that answer what the CSMS asked for (reports it requested).
ALLOWED_WHILE_PENDING = frozenset(
    {"BootNotification", "NotifyReport", "NotifyMonitoringReport",
     "NotifyCustomerInformation", "NotifyDisplayMessages", "ReportChargingProfiles"}
)

# The charger-initiated messages that are stored (as notifications) and acknowledged.
NOTIFICATIONS = {
    "NotifyChargingLimit": "charging_limit",
    "ClearedChargingLimit": "charging_limit_cleared",
    "ReportChargingProfiles": "charging_profiles_report",
    "SecurityEventNotification": "security_event",
}


@dataclass(frozen=True)
class _Stored:
    """A handler that records the message as a notification and answers `answer`."""

    central_system: CentralSystem201
    kind: str
    answer: Payload

    def __call__(self, ctx: CallContext, payload: Payload) -> Payload:
        self.central_system.notify(ctx, self.kind, payload)
        return dict(self.answer)


class CentralSystem201:
    # The subprotocol its records name (2.1's central system reuses this one).
    OCPP_VERSION = "ocpp2.0.1"

    def __init__(self, parts: CentralSystemParts) -> None:
        if parts.store is None or parts.records is None:
            raise ValueError("OCPP 2.0.1 needs the tenant store and the records")
        self._parts = parts
        self._charging = parts.charging
        self._clock = parts.clock
        self._heartbeat_interval = parts.heartbeat_interval
        self._provisioning = ProvisioningService(parts.directory, parts.store, parts.records)
        self._transactions = TransactionEventService(
            parts.store, parts.records, parts.directory, remote_start=REMOTE_START
        )
        self._reservations = ReservationService(parts.store, parts.records)
        self._display_messages = DisplayMessageService(parts.store, DISPLAY_MESSAGES_REPORT)
        self._diagnostics = DiagnosticsService(parts.store, parts.records, MONITORING_REPORT)
        self._data_transfer = DataTransferService(parts.store, parts.records)
        self._firmware = FirmwareService(parts.store, parts.records)

    def handlers(self) -> dict[str, Handler]:
        own: dict[str, Handler] = {
            "BootNotification": self.on_boot_notification,
            "Heartbeat": self.on_heartbeat,
            "StatusNotification": self.on_status_notification,
            "MeterValues": self.on_meter_values,
            "Authorize": self.on_authorize,
            "TransactionEvent": self.on_transaction_event,
            "NotifyReport": self.on_notify_report,
            "DataTransfer": self.on_data_transfer,
            "NotifyEVChargingSchedule": self.on_notify_ev_charging_schedule,
            "ReservationStatusUpdate": self.on_reservation_status_update,
            "NotifyDisplayMessages": self.on_notify_display_messages,
            "LogStatusNotification": self.on_log_status_notification,
            "NotifyMonitoringReport": self.on_notify_monitoring_report,
            "NotifyEvent": self.on_notify_event,
            "NotifyCustomerInformation": self.on_notify_customer_information,
            "FirmwareStatusNotification": self.on_firmware_status_notification,
            "PublishFirmwareStatusNotification": self.on_publish_firmware_status_notification,
        }
        for action, kind in NOTIFICATIONS.items():
            own[action] = _Stored(self, kind, {})
        # K: charging limits, profile reports and EV charging needs (which the site
        # limit controller uses).
        own.update(smart_charging.handlers(self._parts))
        own.update(certificates.handlers(self._parts))
        return {action: self._registered(action, handler) for action, handler in own.items()}

    def _registered(self, action: str, handler: Handler) -> Handler:
        """B02/B03: a charger whose last boot was not Accepted gets SecurityError for
        other requests (an operator's Accepted counts from its next boot)."""
        if action in ALLOWED_WHILE_PENDING:
            return handler
        provisioning = self._provisioning

        def guarded(ctx: CallContext, payload: Payload) -> Payload:
            status = provisioning.status_since_boot(ctx.charge_point_id)
            if status is not RegistrationStatus.ACCEPTED:
                raise OcppError(
                    ErrorKind.SECURITY_ERROR,
                    f"the charging station is not accepted ({status.value}): "
                    "send BootNotification",
                )
            return handler(ctx, payload)

        return guarded

    # B: provisioning

    def on_boot_notification(self, ctx: CallContext, payload: Payload) -> Payload:
        station = payload["chargingStation"]
        boot = BootInfo(
            charge_point_vendor=station["vendorName"],
            charge_point_model=station["model"],
            details={"reason": payload["reason"]}
            | {k: v for k, v in station.items() if k not in ("vendorName", "model")},
        )
        status = self._provisioning.boot(ctx.tenant_id, ctx.charge_point_id, boot,
                                         ctx.received_at)
        accepted = status is RegistrationStatus.ACCEPTED
        return {
            "currentTime": format_timestamp(self._clock()),
            "interval": self._heartbeat_interval if accepted else BOOT_RETRY_INTERVAL,
            "status": status.value,
        }

    def on_heartbeat(self, ctx: CallContext, payload: Payload) -> Payload:
        self._charging.heartbeat(ctx.tenant_id, ctx.charge_point_id, ctx.received_at)
        return {"currentTime": format_timestamp(self._clock())}

    def on_notify_report(self, ctx: CallContext, payload: Payload) -> Payload:
        generated_at = parse_timestamp(payload["generatedAt"])
        attributes = [
            attribute
            for report in payload.get("reportData", [])
            for attribute in _variable_attributes(report, generated_at)
        ]
        self._provisioning.report(ctx.tenant_id, ctx.charge_point_id, attributes)
        self.notify(ctx, "report", {
            "requestId": payload["requestId"],
            "seqNo": payload["seqNo"],
            "tbc": payload.get("tbc", False),
            "generatedAt": payload["generatedAt"],
            "variables": len(payload.get("reportData", [])),
        })
        return {}

    # G: availability

    def on_status_notification(self, ctx: CallContext, payload: Payload) -> Payload:
        # The runtime state keeps one status per EVSE (as 1.6 does per connector), with
        # the connector within it.
        status = ConnectorStatus(
            connector_id=payload["evseId"],
            status=payload["connectorStatus"],
            error_code="NoError",  # 2.0.1 reports faults through NotifyEvent
            timestamp=parse_timestamp(payload["timestamp"]),
            evse_connector_id=payload["connectorId"],
        )
        self._charging.connector_status(ctx.tenant_id, ctx.charge_point_id, status)
        return {}

    # J: meter values

    def on_meter_values(self, ctx: CallContext, payload: Payload) -> Payload:
        readings = _meter_values(ctx.charge_point_id, payload["evseId"], None,
                                 payload["meterValue"])
        self._charging.meter_values(ctx.tenant_id, readings)
        return {}

    # C: authorization

    def on_authorize(self, ctx: CallContext, payload: Payload) -> Payload:
        token = _id_token(payload["idToken"])
        info = self._transactions.authorize(ctx.tenant_id, token, self._clock())
        return {"idTokenInfo": _id_token_info(info)}

    # E: transactions

    def on_transaction_event(self, ctx: CallContext, payload: Payload) -> Payload:
        info = payload["transactionInfo"]
        evse = payload.get("evse") or {}
        token = payload.get("idToken")
        transaction_id = info["transactionId"]
        event = TransactionEventData(
            charge_point_id=ctx.charge_point_id,
            transaction_id=transaction_id,
            event_type=payload["eventType"],
            seq_no=payload["seqNo"],
            timestamp=parse_timestamp(payload["timestamp"]),
            trigger_reason=payload["triggerReason"],
            offline=payload.get("offline", False),
            evse_id=evse.get("id"),
            connector_id=evse.get("connectorId"),
            charging_state=info.get("chargingState"),
            stopped_reason=info.get("stoppedReason"),
            id_token=None if token is None else token["idToken"],
            id_token_type=None if token is None else token["type"],
            remote_start_id=info.get("remoteStartId"),
            meter_values=_meter_values(
                ctx.charge_point_id, evse.get("id", 0), transaction_id,
                payload.get("meterValue", []),
            ),
            ocpp_version=self.OCPP_VERSION,
        )
        answer = self._transactions.transaction_event(ctx.tenant_id, event, self._clock())
        reservation_id = payload.get("reservationId")
        if reservation_id is not None:
            # H01: the transaction that carries the reservation's id uses it up.
            self._reservations.end(ctx.tenant_id, ctx.charge_point_id, reservation_id,
                                   ReservationState.USED, event.timestamp, transaction_id)
        result: Payload = {}
        if answer.id_token_info is not None:
            result["idTokenInfo"] = _id_token_info(answer.id_token_info)
        if answer.total_cost is not None:
            # I: the running cost (Updated) or the final one (Ended), tenant's tariff.
            result["totalCost"] = float(answer.total_cost)
        return result

    # H: reservations

    def on_reservation_status_update(self, ctx: CallContext, payload: Payload) -> Payload:
        # Expired: the charger's own expiry; Removed: it dropped the reservation (an
        # EVSE went out of service, say). An unknown or ended one is only noted.
        status = ReservationState(payload["reservationUpdateStatus"])
        self._reservations.end(ctx.tenant_id, ctx.charge_point_id, payload["reservationId"],
                               status, ctx.received_at)
        self.notify(ctx, "reservation_status", payload)
        return {}

    # O: display messages

    def on_notify_display_messages(self, ctx: CallContext, payload: Payload) -> Payload:
        messages = payload.get("messageInfo", [])
        self._display_messages.reported(ctx.tenant_id, ctx.charge_point_id,
                                        payload["requestId"], messages,
                                        payload.get("tbc", False), ctx.received_at)
        self.notify(ctx, "display_messages", {"requestId": payload["requestId"],
                                              "tbc": payload.get("tbc", False),
                                              "messages": len(messages)})
        return {}

    # N: diagnostics

    def on_log_status_notification(self, ctx: CallContext, payload: Payload) -> Payload:
        self.notify(ctx, "log_status", payload)
        self._diagnostics.log_status(ctx.tenant_id, ctx.charge_point_id,
                                     payload.get("requestId"), payload["status"],
                                     ctx.received_at)
        return {}

    def on_notify_monitoring_report(self, ctx: CallContext, payload: Payload) -> Payload:
        monitors = payload.get("monitor", [])
        self._diagnostics.monitoring_report(ctx.tenant_id, ctx.charge_point_id,
                                            payload["requestId"], reported_monitors(monitors),
                                            payload.get("tbc", False), ctx.received_at)
        self.notify(ctx, "monitoring_report", {
            "requestId": payload["requestId"], "seqNo": payload["seqNo"],
            "tbc": payload.get("tbc", False), "generatedAt": payload["generatedAt"],
            "monitors": len(monitors),
        })
        return {}

    def on_notify_event(self, ctx: CallContext, payload: Payload) -> Payload:
        # Stored with the charger's notifications (the event worker writes them in bulk),
        # and published: a fault or an alerting monitor is what tenants act on.
        self.notify(ctx, "event", payload)
        self._diagnostics.events(ctx.tenant_id, ctx.charge_point_id, payload["generatedAt"],
                                 payload["seqNo"], payload.get("tbc", False),
                                 payload["eventData"], ctx.received_at)
        return {}

    def on_notify_customer_information(self, ctx: CallContext, payload: Payload) -> Payload:
        # Assembled in its own collection (parts may arrive in any order); the frames
        # themselves are in the message log like every other.
        self._diagnostics.customer_information(
            ctx.tenant_id, ctx.charge_point_id, payload["requestId"], payload["seqNo"],
            payload["data"], payload.get("tbc", False), ctx.received_at)
        return {}

    # L: firmware

    def on_firmware_status_notification(self, ctx: CallContext, payload: Payload) -> Payload:
        self.notify(ctx, "firmware_status", payload)
        # Only Idle may come without requestId (L01); it is then about no update.
        self._firmware.update_status(ctx.tenant_id, ctx.charge_point_id, payload["status"],
                                     payload.get("requestId"), ctx.received_at,
                                     unnamed_is_current=False)
        return {}

    def on_publish_firmware_status_notification(
        self, ctx: CallContext, payload: Payload
    ) -> Payload:
        self.notify(ctx, "publish_firmware_status", payload)
        self._firmware.publish_status(ctx.tenant_id, ctx.charge_point_id, payload["status"],
                                      payload.get("requestId"), payload.get("location", []),
                                      ctx.received_at)
        return {}

    # P: data transfer

    def on_data_transfer(self, ctx: CallContext, payload: Payload) -> Payload:
        # The tenant's handler for the vendorId answers (none: UnknownVendorId).
        self.notify(ctx, "data_transfer", payload)
        answer = self._data_transfer.handle(
            ctx.tenant_id, ctx.charge_point_id, payload["vendorId"], payload.get("messageId"),
            payload.get("data"), self.OCPP_VERSION, ctx.received_at)
        result: Payload = {"status": answer.status}
        if answer.data is not None:
            result["data"] = answer.data
        if answer.reason is not None:
            result["statusInfo"] = {"reasonCode": answer.reason}
        return result

    def on_notify_ev_charging_schedule(self, ctx: CallContext, payload: Payload) -> Payload:
        self.notify(ctx, "ev_charging_schedule", payload)
        return {"status": "Accepted"}

    def notify(self, ctx: CallContext, kind: str, payload: Payload) -> None:
        self._charging.notification(
            ctx.tenant_id, ctx.charge_point_id, kind, payload, ctx.received_at
        )


def _id_token(payload: Payload) -> IdToken:
    return IdToken(payload["idToken"], payload["type"])


def _id_token_info(info: IdTokenInfo) -> Payload:
    result: Payload = {"status": info.status.value}
    if info.cache_expiry is not None:
        result["cacheExpiryDateTime"] = format_timestamp(info.cache_expiry)
    if info.group_id_token is not None:
        result["groupIdToken"] = {"idToken": info.group_id_token, "type": "Central"}
    return result


def _meter_values(
    charge_point_id: str, evse_id: int, transaction_id: str | None, entries: list[Payload]
) -> list[MeterValue]:
    return [
        MeterValue(
            charge_point_id=charge_point_id,
            connector_id=evse_id,
            timestamp=parse_timestamp(entry["timestamp"]),
            sampled_values=[_sampled_value(s) for s in entry["sampledValue"]],
            transaction_id=transaction_id,
        )
        for entry in entries
    ]


def _sampled_value(sampled: Payload) -> Payload:
    """A 2.0.1 SampledValueType in the shape meter values are stored in (1.6's: value as
    text, the unit beside it), with the 2.0.1 fields kept."""
    unit = (sampled.get("unitOfMeasure") or {})
    value: Payload = {k: v for k, v in sampled.items() if k not in ("value", "unitOfMeasure")}
    number = sampled["value"] * 10 ** unit.get("multiplier", 0)
    value["value"] = str(number)
    value["unit"] = unit.get("unit", "Wh")
    return value


def _variable_attributes(report: Payload, at: Any) -> list[VariableAttribute]:
    component, variable = report["component"], report["variable"]
    evse = component.get("evse") or {}
    key = VariableKey(
        component=component["name"],
        variable=variable["name"],
        component_instance=component.get("instance"),
        evse_id=evse.get("id"),
        connector_id=evse.get("connectorId"),
        variable_instance=variable.get("instance"),
    )
    characteristics = report.get("variableCharacteristics") or {}
    return [
        VariableAttribute(
            key=key,
            updated_at=at,
            attribute_type=a.get("type", "Actual"),
            value=a.get("value"),
            mutability=a.get("mutability", "ReadWrite"),
            persistent=a.get("persistent", False),
            constant=a.get("constant", False),
            characteristics=characteristics,
        )
        for a in report["variableAttribute"]
    ]


__all__ = ["CentralSystem201"]
