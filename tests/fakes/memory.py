"""In-memory adapters: the same ports, for unit tests of services and handlers (kept with
the tests, out of the Lambda layer)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from csms.domain.charger_transactions import ChargerTransaction, TransactionEventData, applied
from csms.domain.commands import Command, CommandStatus, Taken
from csms.domain.device_model import ACTUAL, VariableAttribute, VariableKey
from csms.domain.model import (
    AuthorizationStatus,
    Booted,
    ConnectionChanged,
    ConnectionInfo,
    ConnectorStatusChanged,
    Heartbeat,
    IdTag,
    MeterValue,
    RegisteredChargePoint,
    Reservation,
    ReservationStatus,
    SessionChange,
    StartRequest,
    StateChange,
    StopRequest,
    Tenant,
    Transaction,
    TransactionStatus,
)


class MemoryConnectionRegistry:
    def __init__(self) -> None:
        self.connections: dict[str, ConnectionInfo] = {}
        self.current: dict[str, str] = {}

    def register(self, connection: ConnectionInfo) -> str | None:
        self.connections[connection.connection_id] = connection
        previous = self.current.get(connection.charge_point_id)
        self.current[connection.charge_point_id] = connection.connection_id
        return previous

    def lookup(self, connection_id: str) -> ConnectionInfo | None:
        return self.connections.get(connection_id)

    def connection_of(self, charge_point_id: str) -> str | None:
        return self.current.get(charge_point_id)

    def connections_of(self, charge_point_ids: Sequence[str]) -> dict[str, str | None]:
        return {cp: self.current.get(cp) for cp in charge_point_ids}

    def unregister(self, connection: ConnectionInfo) -> bool:
        self.connections.pop(connection.connection_id, None)
        if self.current.get(connection.charge_point_id) == connection.connection_id:
            del self.current[connection.charge_point_id]
            return True
        return False


class MemoryPendingCalls:
    def __init__(self) -> None:
        self.calls: dict[str, dict[str, str]] = {}
        # charge point -> (outstanding command id, its connection, its deadline)
        self.inflight: dict[str, tuple[str, str, datetime]] = {}

    def add(self, charge_point_id: str, message_id: str, request: str) -> None:
        self.calls.setdefault(charge_point_id, {})[message_id] = request

    def get(self, charge_point_id: str, message_id: str) -> str | None:
        return self.calls.get(charge_point_id, {}).get(message_id)

    def has(self, charge_point_id: str, message_id: str) -> bool:
        return message_id in self.calls.get(charge_point_id, {})

    def delete(self, charge_point_id: str, message_id: str) -> bool:
        return self.calls.get(charge_point_id, {}).pop(message_id, None) is not None

    def take(self, charge_point_id: str, message_id: str) -> str | None:
        request = self.calls.get(charge_point_id, {}).pop(message_id, None)
        owner = self.inflight.get(charge_point_id)
        if owner is not None and owner[0] == message_id:
            del self.inflight[charge_point_id]
        return request

    def release_connection(self, charge_point_id: str, connection_id: str) -> str | None:
        owner = self.inflight.get(charge_point_id)
        if owner is None or owner[1] != connection_id:
            return None
        self.take(charge_point_id, owner[0])
        return owner[0]

    def expire(self, charge_point_id: str, message_id: str, now: datetime) -> bool:
        if message_id not in self.calls.get(charge_point_id, {}):
            return False
        owner = self.inflight.get(charge_point_id)
        if owner is not None and owner[0] == message_id and owner[2] > now:
            return False
        self.take(charge_point_id, message_id)
        return True

    def clear(self, charge_point_id: str) -> None:
        self.calls.pop(charge_point_id, None)
        self.inflight.pop(charge_point_id, None)


class MemoryVerifiedCredentials:
    def __init__(self) -> None:
        self.tags: dict[str, str] = {}

    def get(self, charge_point_id: str) -> str | None:
        return self.tags.get(charge_point_id)

    def put(self, charge_point_id: str, tag: str) -> None:
        self.tags[charge_point_id] = tag


class MemoryReplayCache:
    def __init__(self) -> None:
        self.replies: dict[tuple[str, str], str] = {}

    def get(self, charge_point_id: str, message_id: str) -> str | None:
        return self.replies.get((charge_point_id, message_id))

    def put(self, charge_point_id: str, message_id: str, response: str) -> None:
        self.replies[(charge_point_id, message_id)] = response


class MemoryGateway:
    def __init__(self) -> None:
        self.closed: list[str] = []
        self.sent: list[tuple[str, str]] = []
        self.gone: set[str] = set()

    def close(self, connection_id: str) -> None:
        self.closed.append(connection_id)

    def post(self, connection_id: str, data: str) -> bool:
        if connection_id in self.gone:
            return False
        self.sent.append((connection_id, data))
        return True


class MemoryCommandQueue:
    """Shares the pending-call store with the message service, as Redis does."""

    def __init__(self, pending: MemoryPendingCalls) -> None:
        self._pending = pending
        self.queues: dict[str, list[tuple[str, str]]] = {}
        self.signals: set[str] = set()

    def push(self, charge_point_id: str, command_id: str, frame: str) -> None:
        self.queues.setdefault(charge_point_id, []).append((command_id, frame))

    def take_next(
        self, charge_point_id: str, connection_id: str, now: datetime, answer_by: datetime
    ) -> Taken | None:
        overdue = None
        if self._pending.calls.get(charge_point_id):
            owner = self._pending.inflight.get(charge_point_id)
            if owner is None or owner[2] > now:
                return None
            overdue = owner[0]
            self._pending.clear(charge_point_id)
        queue = self.queues.get(charge_point_id)
        if not queue:
            return Taken(None, "", overdue)
        command_id, frame = queue.pop(0)
        self._pending.add(charge_point_id, command_id, frame)
        self._pending.inflight[charge_point_id] = (command_id, connection_id, answer_by)
        return Taken(command_id, frame, overdue)

    def queued(self, charge_point_id: str) -> int:
        return len(self.queues.get(charge_point_id, []))

    def signal_done(self, command_id: str) -> None:
        self.signals.add(command_id)

    def wait_done(self, command_id: str, seconds: float) -> bool:
        if command_id in self.signals:
            self.signals.discard(command_id)
            return True
        return False


class MemoryDirectory:
    def __init__(self) -> None:
        self.tenants: dict[str, Tenant] = {}
        self.charge_points: dict[str, RegisteredChargePoint] = {}

    def create_tenant(self, tenant: Tenant) -> None:
        self.tenants[tenant.tenant_id] = tenant

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        return self.tenants.get(tenant_id)

    def add_charge_point(self, charge_point: RegisteredChargePoint) -> None:
        self.charge_points[charge_point.charge_point_id] = charge_point

    def get_charge_point(self, charge_point_id: str) -> RegisteredChargePoint | None:
        return self.charge_points.get(charge_point_id)

    def set_charge_point_enabled(self, charge_point_id: str, enabled: bool) -> bool:
        cp = self.charge_points.get(charge_point_id)
        if cp is None:
            return False
        self.charge_points[charge_point_id] = replace(cp, enabled=enabled)
        return True

    def set_charge_point_password(self, charge_point_id: str, password_hash: str) -> bool:
        cp = self.charge_points.get(charge_point_id)
        if cp is None:
            return False
        self.charge_points[charge_point_id] = replace(cp, password_hash=password_hash)
        return True

    def list_tenants(self, limit: int, offset: int) -> list[Tenant]:
        return sorted(self.tenants.values(), key=lambda t: t.tenant_id)[offset : offset + limit]

    def update_tenant(self, tenant_id: str, changes: dict[str, Any]) -> Tenant | None:
        tenant = self.tenants.get(tenant_id)
        if tenant is None:
            return None
        self.tenants[tenant_id] = replace(tenant, **changes)
        return self.tenants[tenant_id]

    def list_charge_points(
        self, tenant_id: str, limit: int, offset: int, enabled: bool | None = None
    ) -> list[RegisteredChargePoint]:
        mine = [
            cp
            for cp in sorted(self.charge_points.values(), key=lambda c: c.charge_point_id)
            if cp.tenant_id == tenant_id and (enabled is None or cp.enabled == enabled)
        ]
        return mine[offset : offset + limit]

    def count_charge_points(self, tenant_id: str) -> int:
        return sum(1 for cp in self.charge_points.values() if cp.tenant_id == tenant_id)

    def update_charge_point(
        self, charge_point_id: str, changes: dict[str, Any]
    ) -> RegisteredChargePoint | None:
        cp = self.charge_points.get(charge_point_id)
        if cp is None:
            return None
        self.charge_points[charge_point_id] = replace(cp, **changes)
        return self.charge_points[charge_point_id]

    def delete_charge_point(self, charge_point_id: str) -> bool:
        return self.charge_points.pop(charge_point_id, None) is not None


class MemoryChargePointState:
    def __init__(self, messages: MemoryMessageLog | None = None) -> None:
        self.state: dict[str, dict[str, Any]] = {}
        self.notifications: list[tuple[str, str, dict[str, Any]]] = []
        # The tenant's message log: what each charger sent, and when (as in MongoDB).
        self._messages = messages if messages is not None else MemoryMessageLog()

    def _cp(self, charge_point_id: str) -> dict[str, Any]:
        return self.state.setdefault(charge_point_id, {"connectors": {}})

    def set_current_transaction(
        self, charge_point_id: str, connector_id: int, transaction_id: int | None
    ) -> None:
        connectors = self._cp(charge_point_id)["connectors"]
        connectors.setdefault(connector_id, {})["transaction_id"] = transaction_id

    def clear_current_transaction(
        self, charge_point_id: str, connector_id: int, transaction_id: int
    ) -> None:
        connector = self._cp(charge_point_id)["connectors"].get(connector_id, {})
        if connector.get("transaction_id") == transaction_id:
            connector["transaction_id"] = None

    def heard_from_since(self, charge_point_id: str, since: datetime) -> bool:
        return any(
            e.get("charge_point_id") == charge_point_id
            and e.get("direction") == "in"
            and e["timestamp"] >= since
            for e in self._messages.entries
        )

    def record_configuration(
        self, charge_point_id: str, keys: Sequence[dict[str, Any]], unknown: Sequence[str]
    ) -> None:
        self._cp(charge_point_id)["configuration"] = {
            k["key"]: {"value": k.get("value"), "readonly": k["readonly"]} for k in keys
        }

    def set_configuration_value(self, charge_point_id: str, key: str, value: str) -> None:
        configuration = self._cp(charge_point_id).setdefault("configuration", {})
        configuration.setdefault(key, {"readonly": False})["value"] = value

    def record_command_effect(self, charge_point_id: str, field: str, value: Any) -> None:
        self._cp(charge_point_id)[field] = value

    def forget(self, charge_point_id: str) -> None:
        self.state.pop(charge_point_id, None)

    def sync(self, changes: Sequence[StateChange]) -> None:
        for change in changes:
            state = self._cp(change.charge_point_id)
            if isinstance(change, Heartbeat):
                state["last_heartbeat"] = change.at
            elif isinstance(change, Booted):
                state.update(boot=change.boot, booted_at=change.at)
            elif isinstance(change, ConnectorStatusChanged):
                status = change.status
                connector = state["connectors"].setdefault(status.connector_id, {})
                current = connector.get("status")
                if current is None or current.timestamp <= status.timestamp:
                    connector["status"] = status
            elif isinstance(change, ConnectionChanged):
                state["connection_status"] = change.status
            else:
                self.notifications.append((change.charge_point_id, change.kind, change.data))


class MemoryReservations:
    def __init__(self) -> None:
        self.reservations: dict[tuple[str, int], Reservation] = {}

    def put(self, reservation: Reservation) -> None:
        self.reservations[(reservation.charge_point_id, reservation.reservation_id)] = reservation

    def set_status(
        self,
        charge_point_id: str,
        reservation_id: int,
        status: ReservationStatus,
        transaction_id: int | None = None,
    ) -> bool:
        key = (charge_point_id, reservation_id)
        if key not in self.reservations:
            return False
        self.reservations[key] = replace(
            self.reservations[key], status=status, transaction_id=transaction_id
        )
        return True


class MemoryChargingProfiles:
    def __init__(self) -> None:
        self.profiles: dict[tuple[str, int, int], dict[str, Any]] = {}

    def put(self, charge_point_id: str, connector_id: int, profile: dict[str, Any]) -> None:
        self.profiles[(charge_point_id, connector_id, profile["chargingProfileId"])] = profile

    def clear(self, charge_point_id: str, criteria: dict[str, Any]) -> int:
        doomed = [
            key
            for key, profile in self.profiles.items()
            if key[0] == charge_point_id and _profile_matches(key[1], profile, criteria)
        ]
        for key in doomed:
            del self.profiles[key]
        return len(doomed)


def _profile_matches(connector_id: int, profile: dict[str, Any], criteria: dict[str, Any]) -> bool:
    wanted = {
        "id": profile["chargingProfileId"],
        "connectorId": connector_id,
        "chargingProfilePurpose": profile["chargingProfilePurpose"],
        "stackLevel": profile["stackLevel"],
    }
    return all(wanted[k] == v for k, v in criteria.items() if k in wanted)


class MemoryCommandLog:
    def __init__(self) -> None:
        self.commands: dict[str, Command] = {}
        self.transactions: dict[str, int | str] = {}  # command id -> transaction it made

    def insert(self, command: Command) -> None:
        self.commands[command.command_id] = command

    def get(self, command_id: str) -> Command | None:
        return self.commands.get(command_id)

    def mark_sent(self, command_id: str, at: datetime, expires_at: datetime) -> bool:
        command = self.commands.get(command_id)
        if command is None or command.status is not CommandStatus.QUEUED:
            return False
        self.commands[command_id] = replace(
            command, status=CommandStatus.SENT, sent_at=at, expires_at=expires_at
        )
        return True

    def finish(
        self,
        command_id: str,
        status: CommandStatus,
        at: datetime,
        response: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
    ) -> bool:
        command = self.commands.get(command_id)
        if command is None or command.final:
            return False
        self.commands[command_id] = replace(
            command, status=status, completed_at=at, response=response, error=error
        )
        return True

    def overdue(self, now: datetime, limit: int) -> list[Command]:
        waiting = [c for c in self.commands.values() if c.expired(now)]
        return sorted(waiting, key=lambda c: c.expires_at)[:limit]

    def queued_charge_points(self, limit: int) -> list[str]:
        queued = {c.charge_point_id for c in self.commands.values()
                  if c.status is CommandStatus.QUEUED}
        return sorted(queued)[:limit]

    def find_by_request(
        self, charge_point_id: str, action: str, field: str, value: Any
    ) -> Command | None:
        found = [c for c in self.commands.values()
                 if c.charge_point_id == charge_point_id and c.action == action
                 and c.request.get(field) == value]
        return max(found, key=lambda c: c.created_at) if found else None

    def set_transaction(self, command_id: str, transaction_id: int | str) -> None:
        self.transactions[command_id] = transaction_id


class MemoryTransactions:
    def __init__(self) -> None:
        self.by_id: dict[int, Transaction] = {}
        self.by_key: dict[str, int] = {}

    def start(self, request: StartRequest, id_tag_status: str) -> Transaction:
        if request.dedup_key in self.by_key:
            return self.by_id[self.by_key[request.dedup_key]]
        transaction = Transaction(
            transaction_id=len(self.by_id) + 1,
            charge_point_id=request.charge_point_id,
            connector_id=request.connector_id,
            id_tag=request.id_tag,
            meter_start=request.meter_start,
            start_timestamp=request.timestamp,
            id_tag_status=AuthorizationStatus(id_tag_status),
            reservation_id=request.reservation_id,
        )
        self.by_id[transaction.transaction_id] = transaction
        self.by_key[request.dedup_key] = transaction.transaction_id
        return transaction

    def stop(self, request: StopRequest) -> Transaction | None:
        transaction = self.by_id.get(request.transaction_id)
        if transaction is None or transaction.charge_point_id != request.charge_point_id:
            return None
        if transaction.status is TransactionStatus.ACTIVE:
            transaction.status = TransactionStatus.COMPLETED
            transaction.meter_stop = request.meter_stop
            transaction.stop_timestamp = request.timestamp
            transaction.stop_reason = request.reason
            transaction.stop_id_tag = request.id_tag
        return transaction

    def get(self, transaction_id: int) -> Transaction | None:
        return self.by_id.get(transaction_id)

    def active_for_id_tag(self, id_tag: str) -> Transaction | None:
        active = [
            t
            for t in self.by_id.values()
            if t.id_tag == id_tag and t.status is TransactionStatus.ACTIVE
        ]
        return active[-1] if active else None

    def active(
        self,
        *,
        id_tag: str | None = None,
        charge_point_id: str | None = None,
        connector_id: int | None = None,
    ) -> list[Transaction]:
        wanted = {"id_tag": id_tag, "charge_point_id": charge_point_id,
                  "connector_id": connector_id}
        matching = [
            t
            for t in self.by_id.values()
            if t.status is TransactionStatus.ACTIVE
            and all(v is None or getattr(t, k) == v for k, v in wanted.items())
        ]
        return sorted(matching, key=lambda t: (t.start_timestamp, t.transaction_id), reverse=True)

    def close(self, transaction: Transaction) -> bool:
        current = self.by_id.get(transaction.transaction_id)
        if current is None or current.status is not TransactionStatus.ACTIVE:
            return False
        self.by_id[transaction.transaction_id] = transaction
        return True


class MemoryChargerTransactions:
    def __init__(self) -> None:
        self.by_key: dict[tuple[str, str], ChargerTransaction] = {}

    def apply(
        self, event: TransactionEventData, id_token_status: str | None
    ) -> ChargerTransaction | None:
        key = (event.charge_point_id, event.transaction_id)
        current = self.by_key.get(key)
        if current is not None and event.seq_no in current.seq_nos:
            return None
        self.by_key[key] = applied(current, event, id_token_status)
        return self.by_key[key]

    def get(self, charge_point_id: str, transaction_id: str) -> ChargerTransaction | None:
        return self.by_key.get((charge_point_id, transaction_id))

    def active(
        self,
        *,
        charge_point_id: str | None = None,
        evse_id: int | None = None,
        id_token: str | None = None,
    ) -> list[ChargerTransaction]:
        wanted = {"charge_point_id": charge_point_id, "evse_id": evse_id, "id_token": id_token}
        return [
            t for t in self.by_key.values()
            if t.active and all(v is None or getattr(t, k) == v for k, v in wanted.items())
        ]

    def close(self, transaction: ChargerTransaction) -> bool:
        key = (transaction.charge_point_id, transaction.transaction_id)
        current = self.by_key.get(key)
        if current is None or not current.active:
            return False
        self.by_key[key] = transaction
        return True


class MemoryIdTags:
    def __init__(self) -> None:
        self.tags: dict[str, IdTag] = {}

    def get(self, id_tag: str) -> IdTag | None:
        return self.tags.get(id_tag)

    def put(self, id_tag: IdTag) -> None:
        self.tags[id_tag.id_tag] = id_tag

    def delete(self, id_tag: str) -> bool:
        return self.tags.pop(id_tag, None) is not None


class MemoryMeterValues:
    def __init__(self) -> None:
        self.values: list[MeterValue] = []

    def add(self, values: Sequence[MeterValue], keep_for: timedelta | None = None) -> None:
        self.values.extend(v for v in values if v not in self.values)

    def latest(self, transaction_id: int, limit: int) -> list[MeterValue]:
        mine = [v for v in self.values if v.transaction_id == transaction_id]
        return sorted(mine, key=lambda v: v.timestamp, reverse=True)[:limit]


class MemorySessions:
    def __init__(self) -> None:
        self.sessions: dict[str, dict[str, Any]] = {}

    def sync(self, changes: Sequence[SessionChange]) -> None:
        for change in changes:
            self.sessions.setdefault(change.connection_id, {}).update(change.fields)


class MemoryMessageLog:
    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def record(self, entries: Sequence[dict[str, Any]]) -> None:
        stored = {e.get("_id") for e in self.entries}
        self.entries.extend(e for e in entries if "_id" not in e or e["_id"] not in stored)


class MemoryDeviceModel:
    def __init__(self) -> None:
        self.attributes: dict[tuple[str, str, str], VariableAttribute] = {}

    def put(self, charge_point_id: str, attributes: Sequence[VariableAttribute]) -> None:
        for a in attributes:
            self.attributes[(charge_point_id, a.key.path, a.attribute_type)] = a

    def of(self, charge_point_id: str) -> list[VariableAttribute]:
        return [a for (cp, _, _), a in sorted(self.attributes.items()) if cp == charge_point_id]

    def get(
        self, charge_point_id: str, key: VariableKey, attribute_type: str = ACTUAL
    ) -> VariableAttribute | None:
        return self.attributes.get((charge_point_id, key.path, attribute_type))


class MemoryTenantData:
    def __init__(self) -> None:
        self.messages = MemoryMessageLog()
        self.charge_points = MemoryChargePointState(self.messages)
        self.transactions = MemoryTransactions()
        self.id_tags = MemoryIdTags()
        self.meter_values = MemoryMeterValues()
        self.sessions = MemorySessions()
        self.commands = MemoryCommandLog()
        self.reservations = MemoryReservations()
        self.charging_profiles = MemoryChargingProfiles()
        self.device_model = MemoryDeviceModel()
        self.charger_transactions = MemoryChargerTransactions()

    def ensure_indexes(self) -> None:
        """Nothing to index; the tenant API calls this when it creates a tenant."""


class MemoryTenantStore:
    def __init__(self) -> None:
        self.tenants: dict[str, MemoryTenantData] = {}

    def for_tenant(self, tenant_id: str) -> MemoryTenantData:
        return self.tenants.setdefault(tenant_id, MemoryTenantData())


class MemoryPublisher:
    def __init__(self) -> None:
        self.published: list[tuple[str, dict[str, Any]]] = []

    def publish(self, topic: str, event: dict[str, Any]) -> None:
        self.published.append((topic, event))


class MemoryDeadLetters:
    def __init__(self) -> None:
        # (source message id, reason, body)
        self.letters: list[tuple[str, str, str]] = []

    def put(self, body: str, reason: str, source_message_id: str, group: str | None) -> None:
        self.letters.append((source_message_id, reason, body))
