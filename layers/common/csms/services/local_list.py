"""Pushing the tenant's id tokens to chargers as their local authorization list (OCPP
2.0.1 D01, D02): a Full list, or the Differential that turns what the charger was last
sent into what the tenant has now. The update goes out as a SendLocalList command, worded
by the charger's version and split into parts the charger takes (see
versions/v201/command_effects.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from csms.domain.commands import Command, UnknownCommand
from csms.domain.local_list import (
    DIFFERENTIAL,
    FULL,
    LocalList,
    desired_entries,
    difference,
    next_version,
)
from csms.ports import TenantStore
from csms.services.commands import CommandService

Payload = dict[str, Any]


class LocalListService:
    def __init__(
        self, store: TenantStore, commands: CommandService, clock: Callable[[], datetime]
    ) -> None:
        self._store = store
        self._commands = commands
        self._clock = clock

    def update(self, tenant_id: str, charge_point_id: str, update_type: str
               ) -> tuple[int, str, list[Payload]]:
        """The list version, update type and entries that bring the charger up to the
        tenant's tokens."""
        data = self._store.for_tenant(tenant_id)
        current = data.local_lists.get(charge_point_id)
        desired = desired_entries(data.local_lists.tenant_id_tags(), self._clock())
        if update_type == FULL or current is None or current.in_sync is False:
            # A charger never sent a list gets the whole of it, whatever was asked; so
            # does one whose reported version is not the one sent (its list was changed
            # elsewhere, or an update was lost): a differential needs a known base.
            return next_version(current), FULL, list(desired.values())
        return next_version(current), update_type, difference(current.entries, desired)

    def push(
        self,
        tenant_id: str,
        charge_point_id: str,
        update_type: str = DIFFERENTIAL,
        queue_if_offline: bool = False,
    ) -> Command:
        version, shapes = self._commands.shapes_of(charge_point_id)
        if shapes.send_local_list is None:
            # 1.6 lists are sent as raw SendLocalList commands.
            raise UnknownCommand("a local list push", version)
        payload = shapes.send_local_list(*self.update(tenant_id, charge_point_id, update_type))
        return self._commands.submit(
            tenant_id, charge_point_id, "SendLocalList", payload, queue_if_offline
        )

    def of(self, tenant_id: str, charge_point_id: str) -> LocalList:
        found = self._store.for_tenant(tenant_id).local_lists.get(charge_point_id)
        return found or LocalList(charge_point_id)

    def all(self, tenant_id: str, limit: int, offset: int) -> list[LocalList]:
        return self._store.for_tenant(tenant_id).local_lists.all(limit, offset)
