"""The Central System's side of OCPP 1.6J: one `on_<action>` per charger-initiated Call.

Each handler receives a payload that already passed the 1.6 JSON schema, turns it into
domain values, calls the charging service and builds the response payload.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from csms.domain.certificates import CHARGING_STATION_CERTIFICATE, BadCsr, check_csr
from csms.domain.model import (
    BootInfo,
    ConnectorStatus,
    IdTagInfo,
    MeterValue,
    StartRequest,
    StopRequest,
)
from csms.ports import RuntimeRecords, TenantStore
from csms.protocol.router import CallContext, Handler
from csms.protocol.timestamps import format_timestamp, parse_timestamp
from csms.services.certificates import SIGNING_REQUEST
from csms.services.charging import ChargingService
from csms.services.data_transfer import DataTransferService
from csms.services.firmware import FirmwareService

Payload = dict[str, Any]


class CentralSystem16:
    def __init__(
        self,
        charging: ChargingService,
        heartbeat_interval: int,
        clock: Callable[[], datetime],
        store: TenantStore | None = None,
        records: RuntimeRecords | None = None,
    ) -> None:
        self._charging = charging
        self._heartbeat_interval = heartbeat_interval
        self._clock = clock
        # DataTransfer and firmware status read and write tenant records beside the
        # charging service; until the plug-in hands them over, the charging service's own
        # store and records are the same objects.
        store = store or getattr(charging, "_store", None)
        records = records or getattr(charging, "_records", None)
        self._data_transfer: DataTransferService | None = None
        self._firmware: FirmwareService | None = None
        if store is not None and records is not None:
            self._data_transfer = DataTransferService(store, records)
            self._firmware = FirmwareService(store, records)

    def handlers(self) -> dict[str, Handler]:
        return {
            "Authorize": self.on_authorize,
            "BootNotification": self.on_boot_notification,
            "DataTransfer": self.on_data_transfer,
            "DiagnosticsStatusNotification": self.on_diagnostics_status_notification,
            "FirmwareStatusNotification": self.on_firmware_status_notification,
            "Heartbeat": self.on_heartbeat,
            "MeterValues": self.on_meter_values,
            "StartTransaction": self.on_start_transaction,
            "StatusNotification": self.on_status_notification,
            "StopTransaction": self.on_stop_transaction,
            "LogStatusNotification": self.on_log_status_notification,
            "SecurityEventNotification": self.on_security_event_notification,
            "SignCertificate": self.on_sign_certificate,
            "SignedFirmwareStatusNotification": self.on_signed_firmware_status_notification,
        }

    def on_boot_notification(self, ctx: CallContext, payload: Payload) -> Payload:
        boot = BootInfo(
            charge_point_vendor=payload["chargePointVendor"],
            charge_point_model=payload["chargePointModel"],
            details={k: v for k, v in payload.items() if k not in _BOOT_IDENTITY},
        )
        self._charging.boot(ctx.tenant_id, ctx.charge_point_id, boot, ctx.received_at)
        return {
            "status": "Accepted",
            "currentTime": format_timestamp(self._clock()),
            "interval": self._heartbeat_interval,
        }

    def on_heartbeat(self, ctx: CallContext, payload: Payload) -> Payload:
        self._charging.heartbeat(ctx.tenant_id, ctx.charge_point_id, ctx.received_at)
        return {"currentTime": format_timestamp(self._clock())}

    def on_status_notification(self, ctx: CallContext, payload: Payload) -> Payload:
        timestamp = payload.get("timestamp")
        status = ConnectorStatus(
            connector_id=payload["connectorId"],
            status=payload["status"],
            error_code=payload["errorCode"],
            timestamp=parse_timestamp(timestamp) if timestamp else ctx.received_at,
            info=payload.get("info"),
            vendor_id=payload.get("vendorId"),
            vendor_error_code=payload.get("vendorErrorCode"),
        )
        self._charging.connector_status(ctx.tenant_id, ctx.charge_point_id, status)
        return {}

    def on_authorize(self, ctx: CallContext, payload: Payload) -> Payload:
        info = self._charging.authorize(ctx.tenant_id, payload["idTag"], self._clock())
        return {"idTagInfo": _id_tag_info(info)}

    def on_start_transaction(self, ctx: CallContext, payload: Payload) -> Payload:
        request = StartRequest(
            charge_point_id=ctx.charge_point_id,
            connector_id=payload["connectorId"],
            id_tag=payload["idTag"],
            meter_start=payload["meterStart"],
            timestamp=parse_timestamp(payload["timestamp"]),
            reservation_id=payload.get("reservationId"),
        )
        transaction, info = self._charging.start_transaction(ctx.tenant_id, request, self._clock())
        return {"transactionId": transaction.transaction_id, "idTagInfo": _id_tag_info(info)}

    def on_stop_transaction(self, ctx: CallContext, payload: Payload) -> Payload:
        request = StopRequest(
            charge_point_id=ctx.charge_point_id,
            transaction_id=payload["transactionId"],
            meter_stop=payload["meterStop"],
            timestamp=parse_timestamp(payload["timestamp"]),
            id_tag=payload.get("idTag"),
            reason=payload.get("reason", "Local"),  # 1.6: absent reason means Local
        )
        readings = _meter_values(
            ctx.charge_point_id, None, request.transaction_id, payload.get("transactionData", [])
        )
        info = self._charging.stop_transaction(ctx.tenant_id, request, readings, self._clock())
        return {} if info is None else {"idTagInfo": _id_tag_info(info)}

    def on_meter_values(self, ctx: CallContext, payload: Payload) -> Payload:
        readings = _meter_values(
            ctx.charge_point_id,
            payload["connectorId"],
            payload.get("transactionId"),
            payload["meterValue"],
        )
        self._charging.meter_values(ctx.tenant_id, readings)
        return {}

    def on_data_transfer(self, ctx: CallContext, payload: Payload) -> Payload:
        # The tenant's handler for the vendorId answers (none: UnknownVendorId).
        self._notify(ctx, "data_transfer", payload)
        if self._data_transfer is None:
            return {"status": "UnknownVendorId"}
        answer = self._data_transfer.handle(
            ctx.tenant_id, ctx.charge_point_id, payload["vendorId"], payload.get("messageId"),
            payload.get("data"), "ocpp1.6", ctx.received_at)
        result: Payload = {"status": answer.status}
        if answer.data is not None:
            # 1.6 data is text: a structured answer goes as its JSON.
            data = answer.data
            result["data"] = data if isinstance(data, str) else json.dumps(data)
        return result

    def on_diagnostics_status_notification(self, ctx: CallContext, payload: Payload) -> Payload:
        self._notify(ctx, "diagnostics_status", payload)
        return {}

    def on_firmware_status_notification(self, ctx: CallContext, payload: Payload) -> Payload:
        # 1.6 names no request: the status is of the charger's current update.
        self._notify(ctx, "firmware_status", payload)
        if self._firmware is not None:
            self._firmware.update_status(ctx.tenant_id, ctx.charge_point_id, payload["status"],
                                         None, ctx.received_at)
        return {}

    def on_log_status_notification(self, ctx: CallContext, payload: Payload) -> Payload:
        self._notify(ctx, "log_status", payload)
        return {}

    def on_security_event_notification(self, ctx: CallContext, payload: Payload) -> Payload:
        self._notify(ctx, "security_event", payload)
        return {}

    def on_sign_certificate(self, ctx: CallContext, payload: Payload) -> Payload:
        # Checked now (a bad CSR is Rejected); the event worker signs a stored request
        # with the tenant's CA and sends CertificateSigned (services/certificates.py).
        try:
            check_csr(payload["csr"], ctx.charge_point_id)
        except BadCsr as bad:
            self._notify(ctx, "certificate_signing_rejected", {"reason": bad.reason})
            return {"status": "Rejected"}
        self._notify(ctx, SIGNING_REQUEST, {"csr": payload["csr"],
                                            "certificate_type": CHARGING_STATION_CERTIFICATE})
        return {"status": "Accepted"}

    def on_signed_firmware_status_notification(self, ctx: CallContext, payload: Payload) -> Payload:
        self._notify(ctx, "firmware_status", payload)
        if self._firmware is not None:
            self._firmware.update_status(ctx.tenant_id, ctx.charge_point_id, payload["status"],
                                         payload.get("requestId"), ctx.received_at)
        return {}

    def _notify(self, ctx: CallContext, kind: str, payload: Payload) -> None:
        self._charging.notification(
            ctx.tenant_id, ctx.charge_point_id, kind, payload, ctx.received_at
        )


_BOOT_IDENTITY = frozenset({"chargePointVendor", "chargePointModel"})


def _id_tag_info(info: IdTagInfo) -> Payload:
    result: Payload = {"status": info.status.value}
    if info.expiry_date is not None:
        result["expiryDate"] = format_timestamp(info.expiry_date)
    if info.parent_id_tag is not None:
        result["parentIdTag"] = info.parent_id_tag
    return result


def _meter_values(
    charge_point_id: str,
    connector_id: int | None,
    transaction_id: int | None,
    entries: list[Payload],
) -> list[MeterValue]:
    return [
        MeterValue(
            charge_point_id=charge_point_id,
            # transactionData in StopTransaction carries no connector: 0 marks "unknown"
            # and the transaction id ties the readings to their connector.
            connector_id=connector_id if connector_id is not None else 0,
            timestamp=parse_timestamp(entry["timestamp"]),
            sampled_values=entry["sampledValue"],
            transaction_id=transaction_id,
        )
        for entry in entries
    ]
