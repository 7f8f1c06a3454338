"""Diagnostics (OCPP 2.0.1 block N) as the charger reports them: log upload progress,
monitoring reports, events and customer information. What a tenant reacts to is
published: each NotifyEvent (`charger_event`), log upload progress (`log_status`) and a
customer information report once assembled (`customer_information`, without its text:
that stays behind the tenant API)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from csms.domain.diagnostics import asks_for_every_monitor, reported_monitors
from csms.ports import RuntimeRecords, TenantStore

Payload = dict[str, Any]


class DiagnosticsService:
    def __init__(self, store: TenantStore, records: RuntimeRecords) -> None:
        self._store = store
        self._records = records

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
        report: Sequence[Payload], more_to_come: bool, at: datetime,
    ) -> None:
        data = self._store.for_tenant(tenant_id)
        data.diagnostics.put_monitors(charge_point_id, reported_monitors(report), at, request_id)
        if more_to_come:
            return
        asked = data.commands.find_by_request(
            charge_point_id, "GetMonitoringReport", "requestId", request_id
        )
        if asked is not None and asks_for_every_monitor(asked.request):
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
