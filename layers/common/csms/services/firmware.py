"""Firmware updates followed per charger and rolled out to sets of chargers (OCPP 2.0.1
L01-L04, 1.6 UpdateFirmware and SignedUpdateFirmware). Every status a charger reports
is kept with its update and published (`firmware_status`, `publish_firmware_status`)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from csms.domain.commands import NotConnected, UnknownCommand
from csms.domain.firmware import FINAL_STATUSES, FirmwareImage
from csms.ports import RuntimeRecords, TenantStore
from csms.protocol.errors import OcppError
from csms.services.commands import CommandService
from csms.services.fleet import NotFound

Payload = dict[str, Any]


class FirmwareService:
    def __init__(
        self,
        store: TenantStore,
        records: RuntimeRecords,
        commands: CommandService | None = None,
        clock: Callable[[], datetime] | None = None,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self._store = store
        self._records = records
        self._commands = commands
        self._clock = clock
        self._new_id = new_id

    # What chargers report

    def update_status(
        self, tenant_id: str, charge_point_id: str, status: str, request_id: int | None,
        at: datetime, unnamed_is_current: bool = True,
    ) -> None:
        """`unnamed_is_current`: a status without requestId is about the current update
        (1.6, which has no requestIds); in 2.0.1 only Idle comes without one, and it is
        about no update at all."""
        firmware = self._store.for_tenant(tenant_id).firmware
        if request_id is None and not unnamed_is_current:
            firmware.last_status(charge_point_id, status, None, at)
            update = None
        else:
            update = firmware.update_status(charge_point_id, status, request_id, at)
        event: Payload = {"status": status, "request_id": request_id,
                          "final": status in FINAL_STATUSES}
        if update is not None:
            event |= {"request_id": update.get("request_id"), "location": update["location"]}
        self._records.event(tenant_id, charge_point_id, "firmware_status", event, at)

    def publish_status(
        self, tenant_id: str, charge_point_id: str, status: str, request_id: int | None,
        locations: Sequence[str], at: datetime,
    ) -> None:
        firmware = self._store.for_tenant(tenant_id).firmware
        firmware.publish_status(charge_point_id, status, request_id, list(locations), at)
        self._records.event(tenant_id, charge_point_id, "publish_firmware_status", {
            "status": status, "request_id": request_id, "locations": list(locations)}, at)

    # Rollouts

    def roll_out(self, tenant_id: str, charge_point_ids: Sequence[str],
                 image: FirmwareImage) -> Payload:
        """Send `image` to each charger in its version (queued for those offline), under
        one requestId; one charger's refusal (an unsigned image where only signed ones
        go, say) does not stop the others."""
        commands, clock = self._need()
        firmware = self._store.for_tenant(tenant_id).firmware
        request_id = firmware.next_request_id()
        chargers = []
        for charge_point_id in dict.fromkeys(charge_point_ids):
            version, shapes = commands.shapes_of(charge_point_id)
            entry: Payload = {"charge_point_id": charge_point_id, "action": None,
                              "command_id": None, "error": None}
            try:
                if shapes.firmware_update is None:
                    raise UnknownCommand("a firmware update", version)
                action, payload = shapes.firmware_update(image, request_id)
                entry["action"] = action
                command = commands.submit(tenant_id, charge_point_id, action, payload,
                                          queue_if_offline=True)
                entry["command_id"] = command.command_id
            except (UnknownCommand, OcppError, NotConnected) as refused:
                entry["error"] = str(getattr(refused, "description", refused))
            chargers.append(entry)
        rollout_id = self._new_id()
        rollout: Payload = {
            "rollout_id": rollout_id,
            "request_id": request_id,
            "created_at": clock(),
            "location": image.location,
            "signed": image.signed,
            "retrieve_at": image.retrieve_at,
            "install_at": image.install_at,
            "chargers": chargers,
        }
        firmware.add_rollout(rollout)
        return self.rollout(tenant_id, rollout_id)

    def rollout(self, tenant_id: str, rollout_id: str) -> Payload:
        """The rollout with each charger's command status and the firmware status it
        reported for this update."""
        commands, _ = self._need()
        firmware = self._store.for_tenant(tenant_id).firmware
        rollout = firmware.rollout(rollout_id)
        if rollout is None:
            raise NotFound("no such rollout")
        known = firmware.of_many([c["charge_point_id"] for c in rollout["chargers"]])
        counts: dict[str, int] = {}
        for charger in rollout["chargers"]:
            command = (commands.get(tenant_id, charger["command_id"])
                       if charger["command_id"] else None)
            charger["command_status"] = command.status.value if command else "not_sent"
            update = (known.get(charger["charge_point_id"]) or {}).get("update")
            mine = update is not None and _belongs(update, rollout)
            charger["firmware_status"] = update["status"] if mine and update else None
            charger["status_at"] = update["updated_at"] if mine and update else None
            state = charger["firmware_status"] or charger["command_status"]
            counts[state] = counts.get(state, 0) + 1
        rollout["summary"] = counts
        return rollout

    def rollouts(self, tenant_id: str, limit: int, offset: int) -> list[Payload]:
        return self._store.for_tenant(tenant_id).firmware.rollouts(limit, offset)

    def _need(self) -> tuple[CommandService, Callable[[], datetime]]:
        if self._commands is None or self._clock is None:
            raise RuntimeError("this FirmwareService sends no commands")
        return self._commands, self._clock


def _belongs(update: Payload, rollout: Payload) -> bool:
    """Whether the charger's current update is the rollout's: the same requestId, or for
    1.6's UpdateFirmware (which has none) one requested since the rollout began."""
    if update.get("request_id") is not None:
        return bool(update["request_id"] == rollout["request_id"])
    return bool(update["requested_at"] >= rollout["created_at"])
