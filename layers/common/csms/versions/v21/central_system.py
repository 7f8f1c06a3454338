"""The CSMS's side of OCPP 2.1: the 2.0.1 handlers for the messages 2.1 keeps (their
payloads gained only optional fields, and the router validates them against the 2.1
schemas), and answers to the charger-initiated messages new in 2.1.

Periodic event streams (block N) are taken: a stream the charger opens is recorded on
its charge point until it closes it, and the values it sends as SEND frames
(NotifyPeriodicEventStream, never answered) are stored and published. The other new
messages have no behaviour behind them yet (no DER control, tariffs, payment terminals
or battery swap stations here), so each is stored as a notification of the charger and
answered the way the spec has a CSMS answer when it does not offer the feature: an empty
answer where the spec defines no status, Rejected (with a statusInfo saying why) where
it asks the CSMS to take something on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from csms.protocol.router import CallContext, Handler
from csms.protocol.timestamps import format_timestamp, parse_timestamp
from csms.versions.v201.central_system import ALLOWED_WHILE_PENDING, CentralSystem201

Payload = dict[str, Any]

# Stored (as notifications of these kinds) and acknowledged with an empty answer: the
# spec gives these responses no fields the CSMS must fill.
NOTIFICATIONS_21 = {
    "BatterySwap": "battery_swap",
    "NotifyDERAlarm": "der_alarm",
    "NotifyDERStartStop": "der_start_stop",
    "NotifyPriorityCharging": "priority_charging",
    # The payment terminal's settlement: kept for the operator's accounting; no receipt
    # is issued here (receiptUrl and receiptId are optional).
    "NotifySettlement": "settlement",
    "ReportDERControl": "der_control_report",
}

# B02 for 2.1: ReportDERControl answers a GetDERControl the CSMS sent, like NotifyReport.
ALLOWED_WHILE_PENDING_21 = ALLOWED_WHILE_PENDING | {"ReportDERControl"}

# How long a charger may rely on a "Failed" revocation answer before asking again.
CERTIFICATE_STATUS_RETRY = timedelta(hours=1)


def _status_info(reason_code: str, text: str) -> Payload:
    # reasonCode is a CiString20; the words after it explain to an operator reading logs.
    return {"reasonCode": reason_code, "additionalInfo": text}


@dataclass(frozen=True)
class _Stored21:
    """Records the message as a notification and answers `answer`."""

    central_system: CentralSystem21
    kind: str
    answer: Payload

    def __call__(self, ctx: CallContext, payload: Payload) -> Payload:
        self.central_system.notify(ctx, self.kind, payload)
        return dict(self.answer)


class CentralSystem21(CentralSystem201):
    OCPP_VERSION = "ocpp2.1"

    def handlers(self) -> dict[str, Handler]:
        handlers = super().handlers()
        new: dict[str, Handler] = {
            "OpenPeriodicEventStream": self.on_open_periodic_event_stream,
            "ClosePeriodicEventStream": self.on_close_periodic_event_stream,
            # A SEND: the router runs it for SEND frames only, and nothing is answered.
            "NotifyPeriodicEventStream": self.on_notify_periodic_event_stream,
            "GetCertificateChainStatus": self.on_get_certificate_chain_status,
            "PullDynamicScheduleUpdate": self.on_pull_dynamic_schedule_update,
            "VatNumberValidation": self.on_vat_number_validation,
        }
        for action, kind in NOTIFICATIONS_21.items():
            new[action] = _Stored21(self, kind, {})
        handlers.update(
            {action: self._registered(action, handler) for action, handler in new.items()}
        )
        return handlers

    def _registered(self, action: str, handler: Handler) -> Handler:
        if action in ALLOWED_WHILE_PENDING_21:
            return handler
        return super()._registered(action, handler)

    # N (2.1): periodic event streams. The charger opens one to send a monitor's events
    # in batches, as SEND frames; the CSMS takes every stream (the values are stored and
    # published like any other charger event).

    def on_open_periodic_event_stream(self, ctx: CallContext, payload: Payload) -> Payload:
        self.notify(ctx, "periodic_event_stream_request", payload)
        stream = payload["constantStreamData"]
        self._diagnostics.stream_opened(
            ctx.tenant_id, ctx.charge_point_id, stream["id"], stream["variableMonitoringId"],
            stream["params"], ctx.received_at)
        return {"status": "Accepted"}

    def on_close_periodic_event_stream(self, ctx: CallContext, payload: Payload) -> Payload:
        self.notify(ctx, "periodic_event_stream_closed", payload)
        self._diagnostics.stream_closed(
            ctx.tenant_id, ctx.charge_point_id, payload["id"], ctx.received_at)
        return {}

    def on_notify_periodic_event_stream(self, ctx: CallContext, payload: Payload) -> Payload:
        self.notify(ctx, "periodic_event_stream", payload)
        self._diagnostics.stream_values(
            ctx.tenant_id, ctx.charge_point_id, payload["id"], payload["pending"],
            _stream_values(payload["basetime"], payload["data"]), ctx.received_at)
        return {}

    # M (2.1): the revocation status of a whole chain, asked of the CSMS on the charger's
    # behalf. No OCSP responder or CRL source is configured: each certificate Failed.

    def on_get_certificate_chain_status(self, ctx: CallContext, payload: Payload) -> Payload:
        self.notify(ctx, "certificate_chain_status_request", payload)
        next_update = format_timestamp(self._clock() + CERTIFICATE_STATUS_RETRY)
        return {"certificateStatus": [
            {"certificateHashData": request["certificateHashData"],
             "source": request["source"],
             "status": "Failed",
             "nextUpdate": next_update}
            for request in payload["certificateStatusRequests"]
        ]}

    # K (2.1): dynamic charging profiles. No profile of this CSMS is dynamic.

    def on_pull_dynamic_schedule_update(self, ctx: CallContext, payload: Payload) -> Payload:
        self.notify(ctx, "dynamic_schedule_pull", payload)
        return {"status": "Rejected",
                "statusInfo": _status_info("UnknownProfile",
                                           "this CSMS sets no dynamic charging profiles")}

    # C (2.1): an ad hoc payment's VAT number. No validation service is configured, so
    # the number is not confirmed (the charger then leaves it off the invoice).

    def on_vat_number_validation(self, ctx: CallContext, payload: Payload) -> Payload:
        self.notify(ctx, "vat_number_validation", payload)
        answer: Payload = {"vatNumber": payload["vatNumber"], "status": "Rejected",
                           "statusInfo": _status_info(
                               "NoEndpoint", "no VAT number validation service is configured")}
        if "evseId" in payload:
            answer["evseId"] = payload["evseId"]
        return answer


def _stream_values(basetime: str, data: list[Payload]) -> list[Payload]:
    """Each element's time is an offset in seconds from the message's basetime."""
    base = parse_timestamp(basetime, "basetime")
    return [{"timestamp": format_timestamp(base + timedelta(seconds=element["t"])),
             "value": element["v"]}
            for element in data]


__all__ = ["CentralSystem21"]
