"""The interfaces services depend on; adapters implement them per technology."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from csms.domain.model import (
    BootInfo,
    ConnectionInfo,
    ConnectionStatus,
    ConnectorStatus,
    IdTag,
    MeterValue,
    RegisteredChargePoint,
    StartRequest,
    StopRequest,
    Tenant,
    Transaction,
)


class ConnectionRegistry(Protocol):
    """connectionId -> who is connected, and chargePointId -> its current connectionId."""

    def register(self, connection: ConnectionInfo) -> str | None:
        """Record a new connection; returns the connection it replaces, if any."""

    def lookup(self, connection_id: str) -> ConnectionInfo | None: ...

    def connection_of(self, charge_point_id: str) -> str | None: ...

    def unregister(self, connection: ConnectionInfo) -> bool:
        """Forget a connection; True when it was still the charge point's current one."""


class PendingCalls(Protocol):
    """CSMS-initiated Calls awaiting the charger's CallResult/CallError."""

    def add(self, charge_point_id: str, message_id: str, request: str) -> None: ...

    def get(self, charge_point_id: str, message_id: str) -> str | None: ...

    def has(self, charge_point_id: str, message_id: str) -> bool: ...

    def delete(self, charge_point_id: str, message_id: str) -> bool: ...

    def clear(self, charge_point_id: str) -> None: ...


class ReplayCache(Protocol):
    """The reply sent for each (charge point, message id), so retries get the same one."""

    def get(self, charge_point_id: str, message_id: str) -> str | None: ...

    def put(self, charge_point_id: str, message_id: str, response: str) -> None: ...


class ConnectionGateway(Protocol):
    """Reaches live WebSocket connections (API Gateway's @connections API)."""

    def close(self, connection_id: str) -> None: ...


class Directory(Protocol):
    """The global database: tenants and the charge point registry."""

    def create_tenant(self, tenant: Tenant) -> None: ...

    def get_tenant(self, tenant_id: str) -> Tenant | None: ...

    def add_charge_point(self, charge_point: RegisteredChargePoint) -> None: ...

    def get_charge_point(self, charge_point_id: str) -> RegisteredChargePoint | None: ...

    def set_charge_point_enabled(self, charge_point_id: str, enabled: bool) -> bool: ...

    def set_charge_point_password(self, charge_point_id: str, password_hash: str) -> bool: ...


class ChargePointState(Protocol):
    """Runtime state of a tenant's charge points."""

    def record_boot(self, charge_point_id: str, boot: BootInfo, at: datetime) -> None: ...

    def record_heartbeat(self, charge_point_id: str, at: datetime) -> None: ...

    def record_connector_status(self, charge_point_id: str, status: ConnectorStatus) -> None: ...

    def record_connection(
        self, charge_point_id: str, status: ConnectionStatus, at: datetime
    ) -> None: ...

    def record_notification(
        self, charge_point_id: str, kind: str, data: dict[str, Any], at: datetime
    ) -> None:
        """Diagnostics/firmware/log status and similar: latest state plus a history entry."""

    def set_current_transaction(
        self, charge_point_id: str, connector_id: int, transaction_id: int | None
    ) -> None: ...


class Transactions(Protocol):
    def start(self, request: StartRequest, id_tag_status: str) -> Transaction:
        """Create a transaction; the same request twice returns the first one."""

    def stop(self, request: StopRequest) -> Transaction | None: ...

    def get(self, transaction_id: int) -> Transaction | None: ...

    def active_for_id_tag(self, id_tag: str) -> Transaction | None: ...


class IdTags(Protocol):
    def get(self, id_tag: str) -> IdTag | None: ...

    def put(self, id_tag: IdTag) -> None: ...


class MeterValues(Protocol):
    def add(self, values: Sequence[MeterValue]) -> None: ...


class Sessions(Protocol):
    def opened(self, connection: ConnectionInfo, source_ip: str | None) -> None: ...

    def closed(
        self, connection_id: str, at: datetime, status_code: int | None, reason: str | None
    ) -> None: ...


class MessageLog(Protocol):
    def record(self, entries: Sequence[dict[str, Any]]) -> None: ...


class TenantData(Protocol):
    """Everything stored in one tenant's database."""

    @property
    def charge_points(self) -> ChargePointState: ...

    @property
    def transactions(self) -> Transactions: ...

    @property
    def id_tags(self) -> IdTags: ...

    @property
    def meter_values(self) -> MeterValues: ...

    @property
    def sessions(self) -> Sessions: ...

    @property
    def messages(self) -> MessageLog: ...


class TenantStore(Protocol):
    def for_tenant(self, tenant_id: str) -> TenantData: ...
