"""In-memory adapters: the same ports, for unit tests of services and handlers (kept with
the tests, out of the Lambda layer)."""

from __future__ import annotations

from collections.abc import Sequence
from copy import deepcopy
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from csms.domain.charger_transactions import ChargerTransaction, TransactionEventData, applied
from csms.domain.charging_profiles import ChargingProfile, ProfileCriteria
from csms.domain.commands import Command, CommandStatus, Taken
from csms.domain.data_transfer import VendorHandler
from csms.domain.device_model import ACTUAL, VariableAttribute, VariableKey
from csms.domain.display_messages import DisplayMessage
from csms.domain.local_list import LocalList, entry_key
from csms.domain.local_list import applied as list_applied
from csms.domain.message_log import entries_of
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
from csms.domain.reservations import EvseReservation, ReservationState

Doc = dict[str, Any]


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
        # The `notifications` history as MongoDB keeps it (with times, once per record
        # id): what Diagnostics.charger_events reads.
        self.history: dict[str, Doc] = {}
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
                self.history.setdefault(change.record_id, {
                    "charge_point_id": change.charge_point_id, "kind": change.kind,
                    "data": change.data, "timestamp": change.at,
                })


class MemoryReservationRecords:
    """The `reservations` documents both versions' stores share, keyed (charger, id):
    a 1.6 reservation is one the 2.0.1 store lists and expires, as in MongoDB."""

    def __init__(self) -> None:
        self.docs: dict[tuple[str, int], Doc] = {}


class MemoryReservations:
    def __init__(self, records: MemoryReservationRecords | None = None) -> None:
        self._records = records if records is not None else MemoryReservationRecords()

    @property
    def reservations(self) -> dict[tuple[str, int], Reservation]:
        """The records as 1.6 sees them, for tests to inspect; one ended in a state 1.6
        has no name for (Expired, Removed) is left out."""
        known = {s.value for s in ReservationStatus}
        return {
            key: Reservation(
                reservation_id=d["reservation_id"],
                charge_point_id=d["charge_point_id"],
                connector_id=d["connector_id"],
                id_tag=d["id_tag"],
                expiry_date=d["expiry_date"],
                parent_id_tag=d.get("parent_id_tag"),
                status=ReservationStatus(d["status"]),
                transaction_id=d.get("transaction_id"),
            )
            for key, d in self._records.docs.items()
            if d["status"] in known
        }

    def put(self, reservation: Reservation) -> None:
        # ReserveNow with a known id replaces that reservation (OCPP 1.6, 5.13).
        self._records.docs[(reservation.charge_point_id, reservation.reservation_id)] = {
            "reservation_id": reservation.reservation_id,
            "charge_point_id": reservation.charge_point_id,
            "connector_id": reservation.connector_id,
            "id_tag": reservation.id_tag,
            "expiry_date": reservation.expiry_date,
            "parent_id_tag": reservation.parent_id_tag,
            "status": reservation.status.value,
            "transaction_id": reservation.transaction_id,
        }

    def set_status(
        self,
        charge_point_id: str,
        reservation_id: int,
        status: ReservationStatus,
        transaction_id: int | None = None,
    ) -> bool:
        doc = self._records.docs.get((charge_point_id, reservation_id))
        if doc is None:
            return False
        doc["status"] = status.value
        if transaction_id is not None:  # as MongoDB: None leaves the stored one
            doc["transaction_id"] = transaction_id
        return True


class MemoryEvseReservations:
    def __init__(self, records: MemoryReservationRecords | None = None) -> None:
        self._records = records if records is not None else MemoryReservationRecords()
        self.counters: dict[str, int] = {}  # charger -> last reservation id handed out

    def put(self, reservation: EvseReservation) -> None:
        # ReserveNow with a known id replaces that reservation (2.0.1 H01.FR.02).
        self._records.docs[(reservation.charge_point_id, reservation.reservation_id)] = {
            "reservation_id": reservation.reservation_id,
            "charge_point_id": reservation.charge_point_id,
            "connector_id": reservation.connector_id,
            "evse_id": reservation.evse_id,
            "id_tag": reservation.id_tag,
            "id_token_type": reservation.id_token_type,
            "parent_id_tag": reservation.parent_id_tag,
            "connector_type": reservation.connector_type,
            "expiry_date": reservation.expiry_date,
            "status": reservation.status.value,
            "transaction_id": reservation.transaction_id,
            "ocpp_version": reservation.ocpp_version,
            "ended_at": reservation.ended_at,
        }

    def get(self, charge_point_id: str, reservation_id: int) -> EvseReservation | None:
        doc = self._records.docs.get((charge_point_id, reservation_id))
        return _evse_reservation(doc) if doc else None

    def end(
        self,
        charge_point_id: str,
        reservation_id: int,
        status: ReservationState,
        at: datetime,
        transaction_id: int | str | None = None,
    ) -> EvseReservation | None:
        doc = self._records.docs.get((charge_point_id, reservation_id))
        # Only an active one ends: of two enders (use, expiry), one gets it.
        if doc is None or doc["status"] != ReservationState.ACTIVE.value:
            return None
        doc.update(status=status.value, ended_at=at)
        if transaction_id is not None:
            doc["transaction_id"] = transaction_id
        return _evse_reservation(doc)

    def due(self, now: datetime, limit: int) -> list[EvseReservation]:
        due = [d for d in self._records.docs.values()
               if d["status"] == ReservationState.ACTIVE.value and d["expiry_date"] <= now]
        due.sort(key=lambda d: d["expiry_date"])
        return [_evse_reservation(d) for d in due[:limit]]

    def active(self, charge_point_id: str) -> list[EvseReservation]:
        mine = [d for d in self._records.docs.values()
                if d["charge_point_id"] == charge_point_id
                and d["status"] == ReservationState.ACTIVE.value]
        mine.sort(key=lambda d: d["expiry_date"])
        return [_evse_reservation(d) for d in mine]

    def next_id(self, charge_point_id: str) -> int:
        # A counter per charger, from 1, as MongoDB's `counters` document.
        self.counters[charge_point_id] = self.counters.get(charge_point_id, 0) + 1
        return self.counters[charge_point_id]


def _evse_reservation(doc: Doc) -> EvseReservation:
    # 1.6 records have a connector and no EVSE; connector 0 is the whole station.
    evse_id = doc.get("evse_id", doc.get("connector_id"))
    return EvseReservation(
        reservation_id=doc["reservation_id"],
        charge_point_id=doc["charge_point_id"],
        evse_id=evse_id or None,
        id_tag=doc["id_tag"],
        expiry_date=doc["expiry_date"],
        id_token_type=doc.get("id_token_type"),
        parent_id_tag=doc.get("parent_id_tag"),
        connector_type=doc.get("connector_type"),
        status=ReservationState(doc.get("status", ReservationState.ACTIVE.value)),
        transaction_id=doc.get("transaction_id"),
        ocpp_version=doc.get("ocpp_version") or "ocpp1.6",
        ended_at=doc.get("ended_at"),
    )


class MemoryChargingProfiles:
    def __init__(self) -> None:
        # (charge point, evse, profile id) -> (the profile, as the charger got it)
        self.profiles: dict[tuple[str, int, int], tuple[ChargingProfile, dict[str, Any]]] = {}

    def put(self, charge_point_id: str, profile: ChargingProfile, as_sent: dict[str, Any]
            ) -> None:
        for key in [k for k in self.profiles if k[0] == charge_point_id
                    and k[2] == profile.profile_id]:
            del self.profiles[key]
        self.profiles[(charge_point_id, profile.evse_id, profile.profile_id)] = (profile, as_sent)

    def clear(self, charge_point_id: str, criteria: ProfileCriteria) -> int:
        doomed = [key for key, (profile, _) in self.profiles.items()
                  if key[0] == charge_point_id and criteria.matches(profile)]
        for key in doomed:
            del self.profiles[key]
        return len(doomed)


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
        self.documents: list[dict[str, Any]] = []

    def record(self, entries: Sequence[dict[str, Any]]) -> None:
        stored = {e.get("_id") for e in self.documents}
        self.documents.extend(e for e in entries if "_id" not in e or e["_id"] not in stored)

    @property
    def entries(self) -> list[dict[str, Any]]:
        """One per frame, in the order they were logged (an exchange: Call, then reply)."""
        return [e for d in self.documents for e in reversed(entries_of(d))]


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


class MemoryLocalAuthLists:
    def __init__(self, id_tags: MemoryIdTags | None = None) -> None:
        self.docs: dict[str, Doc] = {}  # charger -> its list document
        # The tenant's id tokens, which every list is made of (the `id_tags` collection).
        self._id_tags = id_tags if id_tags is not None else MemoryIdTags()

    def get(self, charge_point_id: str) -> LocalList | None:
        doc = self.docs.get(charge_point_id)
        return _local_list(charge_point_id, doc) if doc is not None else None

    def apply(
        self,
        charge_point_id: str,
        version: int,
        full: bool,
        entries: Sequence[dict[str, Any]],
        at: datetime,
    ) -> None:
        current = self.get(charge_point_id)
        known = current.entries if current is not None else {}
        result = list_applied(known, full, deepcopy(list(entries)))
        self.docs.setdefault(charge_point_id, {}).update(
            version=version, entries=list(result.values()), updated_at=at
        )

    def reported(self, charge_point_id: str, version: int, at: datetime) -> None:
        self.docs.setdefault(charge_point_id, {}).update(
            reported_version=version, reported_at=at
        )

    def all(self, limit: int, offset: int) -> list[LocalList]:
        page = sorted(self.docs.items())[offset : offset + limit]
        # Entries left out, as MongoDB's projection does.
        return [_local_list(cp, {k: v for k, v in doc.items() if k != "entries"})
                for cp, doc in page]

    def tenant_id_tags(self) -> list[IdTag]:
        return [tag for _, tag in sorted(self._id_tags.tags.items())]


def _local_list(charge_point_id: str, doc: Doc) -> LocalList:
    entries = deepcopy(doc.get("entries") or [])
    return LocalList(
        charge_point_id=charge_point_id,
        version=doc.get("version", 0),
        entries={entry_key(entry): entry for entry in entries},
        updated_at=doc.get("updated_at"),
        reported_version=doc.get("reported_version"),
        reported_at=doc.get("reported_at"),
    )


class MemoryDisplayMessages:
    def __init__(self) -> None:
        self.docs: dict[tuple[str, int], Doc] = {}  # (charger, message id) -> document

    def put(
        self,
        charge_point_id: str,
        message: dict[str, Any],
        at: datetime,
        source: str,
        request_id: int | None = None,
    ) -> None:
        # A message with a known id replaces the old one (O01: ids are the CSMS's to pick).
        self.docs[(charge_point_id, message["id"])] = {
            "message": deepcopy(message), "updated_at": at, "source": source,
            "request_id": request_id,
        }

    def remove(self, charge_point_id: str, message_id: int) -> bool:
        return self.docs.pop((charge_point_id, message_id), None) is not None

    def keep_only(self, charge_point_id: str, request_id: int) -> int:
        doomed = [key for key, d in self.docs.items()
                  if key[0] == charge_point_id and d["request_id"] != request_id]
        for key in doomed:
            del self.docs[key]
        return len(doomed)

    def of(self, charge_point_id: str) -> list[DisplayMessage]:
        return [
            DisplayMessage(cp, message_id, deepcopy(d["message"]), d["updated_at"],
                           d["source"], d["request_id"])
            for (cp, message_id), d in sorted(self.docs.items(), key=lambda kv: kv[0][1])
            if cp == charge_point_id
        ]


class MemoryDiagnostics:
    def __init__(self, charge_points: MemoryChargePointState | None = None) -> None:
        self.logs_by_key: dict[tuple[str, int], Doc] = {}
        self.monitors_by_key: dict[tuple[str, int], Doc] = {}
        self.customer: dict[tuple[str, int], Doc] = {}
        # NotifyEvent is stored by the record applier in the charge point state's history.
        self._charge_points = (
            charge_points if charge_points is not None else MemoryChargePointState()
        )

    # GetLog and LogStatusNotification

    def log_requested(
        self, charge_point_id: str, request: dict[str, Any], response: dict[str, Any],
        at: datetime,
    ) -> None:
        doc = self.logs_by_key.setdefault(
            (charge_point_id, request["requestId"]), {"history": []}
        )
        doc.update(
            charge_point_id=charge_point_id,
            request_id=request["requestId"],
            log_type=request["logType"],
            remote_location=request["log"]["remoteLocation"],
            filename=response.get("filename"),
            status=response["status"],
            requested_at=at,
            updated_at=at,
        )

    def log_status(
        self, charge_point_id: str, request_id: int | None, status: str, at: datetime
    ) -> dict[str, Any] | None:
        # Without a requestId (allowed for Idle), the charger's latest request is meant.
        mine = [d for (cp, rid), d in self.logs_by_key.items()
                if cp == charge_point_id and (request_id is None or rid == request_id)]
        if not mine:
            return None
        doc = max(mine, key=lambda d: d["requested_at"])
        doc.update(status=status, updated_at=at)
        doc["history"].append({"status": status, "at": at})
        return deepcopy(doc)

    def logs(self, charge_point_id: str, limit: int, offset: int) -> list[dict[str, Any]]:
        mine = [d for (cp, _), d in self.logs_by_key.items() if cp == charge_point_id]
        mine.sort(key=lambda d: d["requested_at"], reverse=True)
        return deepcopy(mine[offset : offset + limit])

    # Variable monitors

    def put_monitors(
        self, charge_point_id: str, monitors: Sequence[dict[str, Any]], at: datetime,
        request_id: int | None = None,
    ) -> None:
        for item in monitors:
            self.monitors_by_key[(charge_point_id, item["id"])] = {
                **deepcopy(item), "charge_point_id": charge_point_id, "updated_at": at,
                "request_id": request_id,
            }

    def remove_monitors(self, charge_point_id: str, ids: Sequence[int]) -> int:
        # set(): an id named twice is one monitor removed, as with MongoDB's $in.
        return sum(self.monitors_by_key.pop((charge_point_id, i), None) is not None
                   for i in set(ids))

    def keep_reported_monitors(self, charge_point_id: str, request_id: int) -> int:
        doomed = [key for key, d in self.monitors_by_key.items()
                  if key[0] == charge_point_id and d["request_id"] != request_id]
        for key in doomed:
            del self.monitors_by_key[key]
        return len(doomed)

    def monitors(self, charge_point_id: str) -> list[dict[str, Any]]:
        mine = [d for (cp, _), d in self.monitors_by_key.items() if cp == charge_point_id]
        return deepcopy(sorted(mine, key=lambda d: d["id"]))

    # NotifyEvent, as the record applier stored it

    def charger_events(
        self, charge_point_id: str, limit: int, offset: int
    ) -> list[dict[str, Any]]:
        events = [d for d in self._charge_points.history.values()
                  if d["charge_point_id"] == charge_point_id and d["kind"] == "event"]
        events.sort(key=lambda d: d["timestamp"], reverse=True)
        return [{"received_at": d["timestamp"], **deepcopy(d["data"])}
                for d in events[offset : offset + limit]]

    # CustomerInformation and NotifyCustomerInformation

    def customer_information_requested(
        self, charge_point_id: str, request: dict[str, Any], at: datetime
    ) -> None:
        doc = self.customer.setdefault(
            (charge_point_id, request["requestId"]), {"parts": [], "complete": False}
        )
        doc.update(charge_point_id=charge_point_id, request_id=request["requestId"],
                   request=deepcopy(request), requested_at=at)

    def customer_information_part(
        self, charge_point_id: str, request_id: int, seq_no: int, data: str, last: bool,
        at: datetime,
    ) -> dict[str, Any] | None:
        # Parts may come before the request is stored: the document is made by either.
        doc = self.customer.setdefault((charge_point_id, request_id), {})
        doc.update(charge_point_id=charge_point_id, request_id=request_id, updated_at=at)
        # A redelivered part replaces its earlier copy.
        parts = [p for p in doc.get("parts", []) if p["seq_no"] != seq_no]
        parts.append({"seq_no": seq_no, "data": data, "last": last})
        doc["parts"] = parts
        ordered = sorted(parts, key=lambda p: p["seq_no"])
        ends = [p["seq_no"] for p in ordered if p["last"]]
        if not ends or [p["seq_no"] for p in ordered] != list(range(ends[0] + 1)):
            return None  # the last part or one before it is still on its way
        if doc.get("complete") is True:
            return None  # a retried last part: the whole was returned once already
        doc.update(complete=True, data="".join(p["data"] for p in ordered), completed_at=at)
        return deepcopy(doc)

    def customer_information(
        self, charge_point_id: str, request_id: int
    ) -> dict[str, Any] | None:
        doc = self.customer.get((charge_point_id, request_id))
        return deepcopy(doc) if doc is not None else None


class MemoryDataTransfers:
    def __init__(self) -> None:
        self.vendors: dict[str, VendorHandler] = {}
        self.received: list[Doc] = []  # the `data_transfers` documents, in arrival order

    def handler(self, vendor_id: str) -> VendorHandler | None:
        return self.vendors.get(vendor_id)

    def put_handler(self, handler: VendorHandler) -> None:
        self.vendors[handler.vendor_id] = handler

    def delete_handler(self, vendor_id: str) -> bool:
        return self.vendors.pop(vendor_id, None) is not None

    def handlers(self) -> list[VendorHandler]:
        return [h for _, h in sorted(self.vendors.items())]

    def record(self, charge_point_id: str, entry: dict[str, Any], at: datetime) -> None:
        self.received.append(
            {**deepcopy(entry), "charge_point_id": charge_point_id, "received_at": at}
        )

    def messages(
        self, charge_point_id: str, limit: int, offset: int
    ) -> list[dict[str, Any]]:
        mine = [d for d in self.received if d["charge_point_id"] == charge_point_id]
        mine.sort(key=lambda d: d["received_at"], reverse=True)
        return deepcopy(mine[offset : offset + limit])


class MemoryFirmware:
    def __init__(self) -> None:
        self.docs: dict[str, Doc] = {}  # charger -> {update, publication, last_status}
        self.rollouts_by_id: dict[str, Doc] = {}
        self.last_request_id = 0

    def update_requested(
        self, charge_point_id: str, summary: dict[str, Any], at: datetime
    ) -> None:
        # A new update starts a new history: the statuses belong to one request.
        self.docs.setdefault(charge_point_id, {})["update"] = {
            **deepcopy(summary), "status": "Requested", "requested_at": at,
            "updated_at": at, "history": [],
        }

    def update_status(
        self, charge_point_id: str, status: str, request_id: int | None, at: datetime
    ) -> dict[str, Any] | None:
        update = self.docs.get(charge_point_id, {}).get("update")
        found = None
        if update is not None and (request_id is None or update.get("request_id") == request_id):
            update.update(status=status, updated_at=at)
            update["history"].append({"status": status, "at": at})
            found = deepcopy(update)
        # Kept in any case: the charger's latest word on its firmware.
        self.last_status(charge_point_id, status, request_id, at)
        return found

    def last_status(
        self, charge_point_id: str, status: str, request_id: int | None, at: datetime
    ) -> None:
        self.docs.setdefault(charge_point_id, {})["last_status"] = {
            "status": status, "request_id": request_id, "at": at,
        }

    def publish_requested(
        self, charge_point_id: str, request: dict[str, Any], at: datetime
    ) -> None:
        self.docs.setdefault(charge_point_id, {})["publication"] = {
            "request_id": request["requestId"], "location": request["location"],
            "checksum": request["checksum"], "status": "Requested", "locations": [],
            "requested_at": at, "updated_at": at, "history": [],
        }

    def publish_status(
        self, charge_point_id: str, status: str, request_id: int | None,
        locations: list[str], at: datetime,
    ) -> dict[str, Any] | None:
        publication = self.docs.get(charge_point_id, {}).get("publication")
        if publication is None or (
            request_id is not None and publication.get("request_id") != request_id
        ):
            return None
        publication.update(status=status, updated_at=at)
        if locations:  # a status without locations keeps the ones reported before
            publication["locations"] = list(locations)
        publication["history"].append({"status": status, "at": at})
        return deepcopy(publication)

    def unpublished(self, charge_point_id: str, checksum: str, at: datetime) -> None:
        publication = self.docs.get(charge_point_id, {}).get("publication")
        if publication is None or publication.get("checksum") != checksum:
            return  # no upsert: a different (or no) publication is left alone
        publication.update(status="Unpublished", updated_at=at, locations=[])
        publication["history"].append({"status": "Unpublished", "at": at})

    def of(self, charge_point_id: str) -> dict[str, Any] | None:
        doc = self.docs.get(charge_point_id)
        return deepcopy(doc) if doc is not None else None

    def of_many(self, charge_point_ids: list[str]) -> dict[str, dict[str, Any]]:
        return {cp: deepcopy(self.docs[cp]) for cp in charge_point_ids if cp in self.docs}

    def next_request_id(self) -> int:
        # One counter per tenant, from 1, as MongoDB's `counters` document.
        self.last_request_id += 1
        return self.last_request_id

    def add_rollout(self, rollout: dict[str, Any]) -> None:
        # insert_one: a rollout id stored already is an error (duplicate _id).
        if rollout["rollout_id"] in self.rollouts_by_id:
            raise ValueError(f"rollout {rollout['rollout_id']} exists already")
        self.rollouts_by_id[rollout["rollout_id"]] = deepcopy(rollout)

    def rollout(self, rollout_id: str) -> dict[str, Any] | None:
        doc = self.rollouts_by_id.get(rollout_id)
        return deepcopy(doc) if doc is not None else None

    def rollouts(self, limit: int, offset: int) -> list[dict[str, Any]]:
        newest = sorted(self.rollouts_by_id.values(), key=lambda d: d["created_at"],
                        reverse=True)
        # The per-charger list is left out of the listing, as MongoDB's projection does.
        return [{k: deepcopy(v) for k, v in d.items() if k != "chargers"}
                for d in newest[offset : offset + limit]]


class MemoryTenantData:
    def __init__(self) -> None:
        self.messages = MemoryMessageLog()
        self.charge_points = MemoryChargePointState(self.messages)
        self.transactions = MemoryTransactions()
        self.id_tags = MemoryIdTags()
        self.meter_values = MemoryMeterValues()
        self.sessions = MemorySessions()
        self.commands = MemoryCommandLog()
        # One `reservations` store for both versions, as in MongoDB.
        reservation_records = MemoryReservationRecords()
        self.reservations = MemoryReservations(reservation_records)
        self.charging_profiles = MemoryChargingProfiles()
        self.device_model = MemoryDeviceModel()
        self.charger_transactions = MemoryChargerTransactions()
        self.local_lists = MemoryLocalAuthLists(self.id_tags)
        self.evse_reservations = MemoryEvseReservations(reservation_records)
        self.display_messages = MemoryDisplayMessages()
        self.diagnostics = MemoryDiagnostics(self.charge_points)
        self.data_transfers = MemoryDataTransfers()
        self.firmware = MemoryFirmware()

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
