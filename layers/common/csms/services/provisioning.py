"""OCPP 2.0.1 provisioning (part 2, B): registration status at boot, and the device
model the charger reports (NotifyReport)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from csms.domain.device_model import VariableAttribute
from csms.domain.model import BootInfo, RegistrationStatus
from csms.ports import Directory, RuntimeRecords, TenantStore


class ProvisioningService:
    def __init__(self, directory: Directory, store: TenantStore, records: RuntimeRecords) -> None:
        self._directory = directory
        self._store = store
        self._records = records

    def registration(self, charge_point_id: str) -> RegistrationStatus:
        """What the operator set for the charger (Accepted when nothing is set); a
        charger no longer registered is Rejected."""
        registered = self._directory.get_charge_point(charge_point_id)
        if registered is None:
            return RegistrationStatus.REJECTED
        try:
            return RegistrationStatus(registered.registration_status)
        except ValueError:
            return RegistrationStatus.ACCEPTED

    def boot(
        self, tenant_id: str, charge_point_id: str, boot: BootInfo, now: datetime
    ) -> RegistrationStatus:
        status = self.registration(charge_point_id)
        self._records.boot(tenant_id, charge_point_id, boot, now)
        return status

    def report(
        self,
        tenant_id: str,
        charge_point_id: str,
        attributes: Sequence[VariableAttribute],
    ) -> None:
        """One part of a report: its attributes replace the stored ones (parts may come
        in any order; each is stored as it arrives)."""
        self._store.for_tenant(tenant_id).device_model.put(charge_point_id, attributes)
