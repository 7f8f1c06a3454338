"""The scheduled sweep: no command waits forever for a charger that never answers or
never comes back (EventBridge every minute on AWS, the local stack's scheduler)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime

from csms.ports import Directory, TenantStore
from csms.services.commands import CommandService

logger = logging.getLogger(__name__)

_TENANT_PAGE = 200


class CommandSweeper:
    def __init__(
        self,
        directory: Directory,
        store: TenantStore,
        commands: CommandService,
        clock: Callable[[], datetime],
        batch: int = 1000,
    ) -> None:
        self._directory = directory
        self._store = store
        self._commands = commands
        self._clock = clock
        self._batch = batch

    def sweep(self) -> dict[str, int]:
        """End every command past its deadline as `timed_out`, then send the next queued
        command of each charger concerned (it may be waiting behind one that timed out),
        and of each charger with commands queued."""
        now = self._clock()
        timed_out = 0
        chargers: set[tuple[str, str]] = set()
        for tenant_id in self._tenant_ids():
            log = self._store.for_tenant(tenant_id).commands
            for command in log.overdue(now, self._batch):
                if self._commands.expire(tenant_id, command):
                    timed_out += 1
                chargers.add((tenant_id, command.charge_point_id))
            # A safety net: queued commands of a connected charger that no event released
            # (a lost event worker run, say) go out now; offline ones stay queued.
            chargers.update((tenant_id, cp) for cp in log.queued_charge_points(self._batch))
        for tenant_id, charge_point_id in sorted(chargers):
            try:
                self._commands.dispatch_next(tenant_id, charge_point_id)
            except Exception:
                # One charger's trouble must not keep the others' commands waiting.
                logger.exception(
                    "dispatch after the sweep failed",
                    extra={"tenant_id": tenant_id, "charge_point_id": charge_point_id},
                )
        return {"timed_out": timed_out, "charge_points": len(chargers)}

    def _tenant_ids(self) -> Iterator[str]:
        offset = 0
        while True:
            page = self._directory.list_tenants(_TENANT_PAGE, offset)
            yield from (tenant.tenant_id for tenant in page)
            if len(page) < _TENANT_PAGE:
                return
            offset += _TENANT_PAGE
