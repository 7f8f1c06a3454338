"""OCPP 2.0.1 provisioning (part 2, B): registration status at boot, and the device
model the charger reports (NotifyReport)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from csms.domain.device_model import VariableAttribute
from csms.domain.model import BootInfo, RegisteredChargePoint, RegistrationStatus
from csms.ports import Directory, RuntimeRecords, TenantStore


class ProvisioningService:
    def __init__(self, directory: Directory, store: TenantStore, records: RuntimeRecords) -> None:
        self._directory = directory
        self._store = store
        self._records = records

    def boot(
        self, tenant_id: str, charge_point_id: str, boot: BootInfo, now: datetime
    ) -> RegistrationStatus:
        """The answer to the charger's BootNotification: what the operator set. It is
        kept as what the charger is until its next boot (a write only when it changes)."""
        registered = self._directory.get_charge_point(charge_point_id)
        status = _registration(registered)
        if registered is not None and registered.boot_status != status.value:
            self._directory.update_charge_point(charge_point_id, {"boot_status": status.value})
        self._records.boot(tenant_id, charge_point_id, boot, now)
        return status

    def status_since_boot(self, charge_point_id: str) -> RegistrationStatus:
        """What the charger is now: what its last BootNotification was answered, however
        the operator's setting changed since; a charger that never booted here is what
        the operator set, and one no longer registered is Rejected."""
        registered = self._directory.get_charge_point(charge_point_id)
        if registered is None or registered.boot_status is None:
            return _registration(registered)
        return _status(registered.boot_status)

    def report(
        self,
        tenant_id: str,
        charge_point_id: str,
        attributes: Sequence[VariableAttribute],
    ) -> None:
        """One part of a report: its attributes replace the stored ones (parts may come
        in any order; each is stored as it arrives)."""
        self._store.for_tenant(tenant_id).device_model.put(charge_point_id, attributes)


def _registration(registered: RegisteredChargePoint | None) -> RegistrationStatus:
    if registered is None:
        return RegistrationStatus.REJECTED
    return _status(registered.registration_status)


def _status(value: str) -> RegistrationStatus:
    try:
        return RegistrationStatus(value)
    except ValueError:
        return RegistrationStatus.ACCEPTED
