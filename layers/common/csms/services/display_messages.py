"""Display messages (OCPP 2.0.1 O02-O04): the charger's report replaces what the CSMS
kept of the messages it lists, and a complete report of every message (GetDisplayMessages
without criteria) also drops the ones it no longer shows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from csms.domain.commands import AskedFor
from csms.domain.display_messages import DisplayMessage
from csms.ports import TenantStore

Payload = dict[str, Any]


class DisplayMessageService:
    def __init__(self, store: TenantStore, report: AskedFor | None = None) -> None:
        self._store = store
        # The command a report of the messages answers (GetDisplayMessages in 2.0.1).
        self._report = report

    def reported(
        self,
        tenant_id: str,
        charge_point_id: str,
        request_id: int,
        messages: Sequence[Payload],
        more_to_come: bool,
        at: datetime,
    ) -> None:
        data = self._store.for_tenant(tenant_id)
        for message in messages:
            data.display_messages.put(charge_point_id, message, at, "reported", request_id)
        if more_to_come or self._report is None:
            return
        asked = data.commands.find_by_request(
            charge_point_id, self._report.action, self._report.echoed_field, request_id
        )
        if asked is not None and self._report.asks_for_everything(asked.request):
            data.display_messages.keep_only(charge_point_id, request_id)

    def of(self, tenant_id: str, charge_point_id: str) -> list[DisplayMessage]:
        return self._store.for_tenant(tenant_id).display_messages.of(charge_point_id)
