"""What tenants and platform administrators change through the API: tenants, the charge
point registry and id tags. Every charge point operation starts from ownership."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from csms.domain.credentials import generate_password, hash_password
from csms.domain.model import (
    AuthorizationStatus,
    ConnectionStatus,
    IdTag,
    RegisteredChargePoint,
    Tenant,
)
from csms.ports import (
    ConnectionGateway,
    ConnectionRegistry,
    Directory,
    RuntimeRecords,
    TenantStore,
)

logger = logging.getLogger(__name__)


# Messages never repeat what the caller asked for: nothing to reflect, nothing to compare.


class NotFound(Exception):
    """Absent, or owned by another tenant: the two are indistinguishable on purpose."""


class Conflict(Exception):
    pass


class LimitReached(Exception):
    pass


class FleetService:
    def __init__(
        self,
        directory: Directory,
        store: TenantStore,
        registry: ConnectionRegistry,
        gateway: Callable[[], ConnectionGateway],
        clock: Callable[[], datetime],
        records: RuntimeRecords,
    ) -> None:
        self._records = records
        self._directory = directory
        self._store = store
        self._registry = registry
        self._gateway = gateway
        self._clock = clock

    # Tenants (platform administrators)

    def create_tenant(self, tenant: Tenant) -> Tenant:
        if self._directory.get_tenant(tenant.tenant_id) is not None:
            raise Conflict("a tenant with this id exists")
        self._directory.create_tenant(tenant)
        return tenant

    def tenant(self, tenant_id: str) -> Tenant:
        tenant = self._directory.get_tenant(tenant_id)
        if tenant is None:
            raise NotFound("no such tenant")
        return tenant

    def update_tenant(self, tenant_id: str, changes: dict[str, Any]) -> Tenant:
        self.tenant(tenant_id)
        updated = self._directory.update_tenant(tenant_id, changes) if changes else None
        return updated or self.tenant(tenant_id)

    # Charge points (a tenant's administrators)

    def owned(self, tenant_id: str, charge_point_id: str) -> RegisteredChargePoint:
        registered = self._directory.get_charge_point(charge_point_id)
        if registered is None or registered.tenant_id != tenant_id:
            raise NotFound("no such charge point")
        return registered

    def register(
        self,
        tenant_id: str,
        charge_point_id: str,
        password: str | None,
        description: str | None,
    ) -> tuple[RegisteredChargePoint, str]:
        """The registry entry and the password (shown once: only its hash is kept)."""
        limit = self.tenant(tenant_id).max_charge_points
        if limit is not None and self._directory.count_charge_points(tenant_id) >= limit:
            raise LimitReached(f"the tenant may register at most {limit} charge points")
        if self._directory.get_charge_point(charge_point_id) is not None:
            # Identities are global (they are the charger's login), so the clash is said.
            raise Conflict("a charge point with this id is registered already")
        password = password or generate_password()
        registered = RegisteredChargePoint(
            charge_point_id, tenant_id, hash_password(password), True, description
        )
        self._directory.add_charge_point(registered)
        return registered, password

    def update(
        self, tenant_id: str, charge_point_id: str, changes: dict[str, Any]
    ) -> RegisteredChargePoint:
        current = self.owned(tenant_id, charge_point_id)
        updated = self._directory.update_charge_point(charge_point_id, changes) if changes else None
        if changes.get("enabled") is False:
            self._disconnect(tenant_id, charge_point_id)
        return updated or replace(current, **changes)

    def rotate_password(
        self, tenant_id: str, charge_point_id: str, password: str | None
    ) -> str:
        self.owned(tenant_id, charge_point_id)
        password = password or generate_password()
        self._directory.set_charge_point_password(charge_point_id, hash_password(password))
        return password

    def delete(self, tenant_id: str, charge_point_id: str) -> None:
        self.owned(tenant_id, charge_point_id)
        self._directory.delete_charge_point(charge_point_id)
        self._disconnect(tenant_id, charge_point_id)
        # Transactions, meter values and the message log stay: they are the tenant's history.
        self._store.for_tenant(tenant_id).charge_points.forget(charge_point_id)

    def _disconnect(self, tenant_id: str, charge_point_id: str) -> None:
        connection_id = self._registry.connection_of(charge_point_id)
        if connection_id is None:
            return
        try:
            self._gateway().close(connection_id)
        except Exception:
            logger.warning("could not close the charge point's connection", exc_info=True)
        self._records.connection(
            tenant_id, charge_point_id, ConnectionStatus.DISCONNECTED, self._clock()
        )

    def connection_of(self, charge_point_id: str) -> str | None:
        return self._registry.connection_of(charge_point_id)

    def connections_of(self, charge_point_ids: list[str]) -> dict[str, str | None]:
        return self._registry.connections_of(charge_point_ids)

    # Id tags

    def id_tag(self, tenant_id: str, id_tag: str) -> IdTag:
        tag = self._store.for_tenant(tenant_id).id_tags.get(id_tag)
        if tag is None:
            raise NotFound("no such id tag")
        return tag

    def create_id_tag(self, tenant_id: str, tag: IdTag) -> IdTag:
        id_tags = self._store.for_tenant(tenant_id).id_tags
        if id_tags.get(tag.id_tag) is not None:
            raise Conflict("this id tag exists")
        id_tags.put(tag)
        return tag

    def replace_id_tag(self, tenant_id: str, tag: IdTag) -> IdTag:
        self.id_tag(tenant_id, tag.id_tag)
        self._store.for_tenant(tenant_id).id_tags.put(tag)
        return tag

    def delete_id_tag(self, tenant_id: str, id_tag: str) -> None:
        if not self._store.for_tenant(tenant_id).id_tags.delete(id_tag):
            raise NotFound("no such id tag")


def id_tag_from(
    id_tag: str, status: str, expiry_date: datetime | None, parent_id_tag: str | None
) -> IdTag:
    return IdTag(id_tag, AuthorizationStatus(status), expiry_date, parent_id_tag)
