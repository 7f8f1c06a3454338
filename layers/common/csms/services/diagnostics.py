"""Diagnostics (OCPP 2.0.1 block N) as the charger reports them: log upload progress,
monitoring reports, events and customer information. What a tenant reacts to is
published: each NotifyEvent (`charger_event`), log upload progress (`log_status`) and a
customer information report once assembled (`customer_information`, without its text:
that stays behind the tenant API). OCPP 2.1 adds periodic event streams: the ones a
charger opened are kept on its charge point (`event_streams`), and each batch of their
values is published (`periodic_event_stream`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from csms.domain.commands import AskedFor
from csms.ports import RuntimeRecords, TenantStore

Payload = dict[str, Any]

PERIODIC_EVENT_STREAM = "periodic_event_stream"


class DiagnosticsService:
    def __init__(self, store: TenantStore, records: RuntimeRecords,
                 monitoring_report: AskedFor | None = None) -> None:
        self._store = store
        self._records = records
        # The command a monitoring report answers (GetMonitoringReport in 2.0.1).
        self._monitoring_report = monitoring_report

    def log_status(
        self, tenant_id: str, charge_point_id: str, request_id: int | None, status: str,
        at: datetime,
    ) -> None:
        diagnostics = self._store.for_tenant(tenant_id).diagnostics
        found = diagnostics.log_status(charge_point_id, request_id, status, at)
        event: Payload = {"request_id": request_id, "status": status}
        if found is not None:
            event |= {"request_id": found["request_id"], "log_type": found["log_type"],
                      "filename": found.get("filename")}
        self._records.event(tenant_id, charge_point_id, "log_status", event, at)

    def monitoring_report(
        self, tenant_id: str, charge_point_id: str, request_id: int,
        monitors: Sequence[Payload], more_to_come: bool, at: datetime,
    ) -> None:
        """One part of a monitoring report: the monitors it lists, as the version's
        plug-in read them."""
        data = self._store.for_tenant(tenant_id)
        data.diagnostics.put_monitors(charge_point_id, list(monitors), at, request_id)
        if more_to_come or self._monitoring_report is None:
            return
        by = self._monitoring_report
        asked = data.commands.find_by_request(
            charge_point_id, by.action, by.echoed_field, request_id
        )
        if asked is not None and by.asks_for_everything(asked.request):
            # A complete report of every monitor: the ones it leaves out are gone.
            data.diagnostics.keep_reported_monitors(charge_point_id, request_id)

    def events(
        self, tenant_id: str, charge_point_id: str, generated_at: str, seq_no: int,
        more_to_come: bool, event_data: Sequence[Payload], at: datetime,
    ) -> None:
        self._records.event(tenant_id, charge_point_id, "charger_event", {
            "generated_at": generated_at,
            "seq_no": seq_no,
            "tbc": more_to_come,
            "events": list(event_data),
        }, at)

    def customer_information(
        self, tenant_id: str, charge_point_id: str, request_id: int, seq_no: int, data: str,
        more_to_come: bool, at: datetime,
    ) -> None:
        diagnostics = self._store.for_tenant(tenant_id).diagnostics
        whole = diagnostics.customer_information_part(
            charge_point_id, request_id, seq_no, data, not more_to_come, at
        )
        if whole is not None:
            self._records.event(tenant_id, charge_point_id, "customer_information", {
                "request_id": request_id,
                "parts": len(whole.get("parts", [])),
                "size": len(whole.get("data", "")),
            }, at)

    def stream_opened(
        self, tenant_id: str, charge_point_id: str, stream_id: int, monitor_id: int,
        params: Payload, at: datetime,
    ) -> None:
        """The charger opened a periodic event stream of monitor `monitor_id`'s events."""
        self._store.for_tenant(tenant_id).charge_points.record_command_effect(
            charge_point_id, f"event_streams.{stream_id}",
            {"status": "Open", "variable_monitoring_id": monitor_id, "params": params,
             "opened_at": at},
        )

    def stream_closed(
        self, tenant_id: str, charge_point_id: str, stream_id: int, at: datetime
    ) -> None:
        charge_points = self._store.for_tenant(tenant_id).charge_points
        # Field by field: what the stream was opened with stays readable.
        charge_points.record_command_effect(
            charge_point_id, f"event_streams.{stream_id}.status", "Closed"
        )
        charge_points.record_command_effect(
            charge_point_id, f"event_streams.{stream_id}.closed_at", at
        )

    def stream_values(
        self, tenant_id: str, charge_point_id: str, stream_id: int, pending: int,
        values: Sequence[Payload], at: datetime,
    ) -> None:
        """A batch of a stream's values (`timestamp`, `value`); `pending` more wait."""
        self._records.event(tenant_id, charge_point_id, PERIODIC_EVENT_STREAM, {
            "stream_id": stream_id,
            "pending": pending,
            "values": list(values),
        }, at)
