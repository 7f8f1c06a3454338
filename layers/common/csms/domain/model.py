"""The CSMS's nouns, in OCPP's words."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any


class AuthorizationStatus(StrEnum):
    ACCEPTED = "Accepted"
    BLOCKED = "Blocked"
    EXPIRED = "Expired"
    INVALID = "Invalid"
    CONCURRENT_TX = "ConcurrentTx"


class TransactionStatus(StrEnum):
    ACTIVE = "Active"
    COMPLETED = "Completed"


class ConnectionStatus(StrEnum):
    CONNECTED = "Connected"
    DISCONNECTED = "Disconnected"


DEFAULT_API_RATE_LIMIT = 600  # requests per minute, per tenant
DEFAULT_MQTT_TOPIC_PREFIX = "ocpp"
DEFAULT_MESSAGE_RETENTION_DAYS = 30
DEFAULT_METER_VALUE_RETENTION_DAYS = 90
DEFAULT_CONCURRENT_TX_WINDOW_MINUTES = 60


class RegistrationStatus(StrEnum):
    """How the CSMS answers a charger's BootNotification (set by its operator)."""

    ACCEPTED = "Accepted"
    PENDING = "Pending"
    REJECTED = "Rejected"


class ConcurrentTransactions(StrEnum):
    """Whether one id tag may be in transactions at several charge points at once."""

    ALLOW = "allow"  # never answer ConcurrentTx to an Accepted id tag
    REJECT = "reject"  # ConcurrentTx while another live charge point has one open


@dataclass(frozen=True, slots=True)
class Tenant:
    tenant_id: str
    name: str
    active: bool = True
    # None: no limit on how many charge points the tenant may register.
    max_charge_points: int | None = None
    api_rate_limit: int = DEFAULT_API_RATE_LIMIT
    mqtt_topic_prefix: str = DEFAULT_MQTT_TOPIC_PREFIX
    # How long the message log and meter values are kept (TTL indexes).
    message_retention_days: int = DEFAULT_MESSAGE_RETENTION_DAYS
    meter_value_retention_days: int = DEFAULT_METER_VALUE_RETENTION_DAYS
    concurrent_transactions: ConcurrentTransactions = ConcurrentTransactions.ALLOW
    # With REJECT, another charge point's open transaction counts only while that charge
    # point was heard from within this many minutes: a dead charger locks no one out.
    concurrent_tx_window_minutes: int = DEFAULT_CONCURRENT_TX_WINDOW_MINUTES
    # OCPP 2.0.1 C16: id tokens of this group may stop any transaction, never start one.
    master_pass_group_id: str | None = None
    # OCPP 2.0.1 M: where Get15118EVCertificate and GetCertificateStatus are forwarded
    # (https, or http to loopback); None answers them Failed (NoEndpoint).
    certificate_endpoint: str | None = None

    @property
    def rejects_concurrent_transactions(self) -> bool:
        return self.concurrent_transactions == ConcurrentTransactions.REJECT


@dataclass(frozen=True, slots=True)
class RegisteredChargePoint:
    """A charge point's entry in the global registry: who it belongs to, how it logs in."""

    charge_point_id: str
    tenant_id: str
    password_hash: str
    enabled: bool = True
    description: str | None = None
    # The subprotocol it negotiated last: commands queued while it is offline speak it.
    ocpp_version: str | None = None
    # What its BootNotification is answered (OCPP 2.0.1 RegistrationStatusEnumType).
    registration_status: str = "Accepted"
    # What its last BootNotification was answered: what it is until it boots again
    # (B02: an operator's change reaches a running charger at its next boot). None
    # before its first boot here.
    boot_status: str | None = None


@dataclass(frozen=True, slots=True)
class ConnectionInfo:
    """One live WebSocket connection, as shared between Lambdas."""

    connection_id: str
    charge_point_id: str
    tenant_id: str
    subprotocol: str
    connected_at: datetime


@dataclass(frozen=True, slots=True)
class IdTagInfo:
    status: AuthorizationStatus
    expiry_date: datetime | None = None
    parent_id_tag: str | None = None


@dataclass(frozen=True, slots=True)
class IdTag:
    id_tag: str
    status: AuthorizationStatus
    expiry_date: datetime | None = None
    parent_id_tag: str | None = None
    # OCPP 2.0.1 IdTokenType.type (Central, eMAID, ISO14443, ...) and groupIdToken.
    id_token_type: str | None = None
    group_id_token: str | None = None

    def info(self, now: datetime) -> IdTagInfo:
        status = self.status
        if status is AuthorizationStatus.ACCEPTED and self.expiry_date and self.expiry_date <= now:
            status = AuthorizationStatus.EXPIRED
        return IdTagInfo(status, self.expiry_date, self.parent_id_tag)


def authorize(id_tag: IdTag | None, now: datetime) -> IdTagInfo:
    """What the CSMS answers for an id tag: unknown tags are Invalid."""
    if id_tag is None:
        return IdTagInfo(AuthorizationStatus.INVALID)
    return id_tag.info(now)


@dataclass(frozen=True, slots=True)
class BootInfo:
    charge_point_vendor: str
    charge_point_model: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EvseConnector:
    """Where on a charging station, in either version: an EVSE (0: the station as a
    whole) and, within it, a connector. OCPP 1.6 knows connectors only: its connector n
    is EVSE n with one connector, 1."""

    evse_id: int
    connector_id: int | None = None

    @classmethod
    def of_16_connector(cls, connector_id: int) -> EvseConnector:
        return cls(connector_id, 1 if connector_id > 0 else None)


@dataclass(frozen=True, slots=True)
class ConnectorStatus:
    # The EVSE the status is for: a 1.6 connector id is its EVSE id (see EvseConnector).
    # The runtime state keeps one status per EVSE.
    connector_id: int
    status: str
    error_code: str
    timestamp: datetime
    info: str | None = None
    vendor_id: str | None = None
    vendor_error_code: str | None = None
    # 2.0.1: the connector within the EVSE; None for 1.6 (its EVSE has connector 1).
    evse_connector_id: int | None = None

    @property
    def address(self) -> EvseConnector:
        if self.evse_connector_id is None:
            return EvseConnector.of_16_connector(self.connector_id)
        return EvseConnector(self.connector_id, self.evse_connector_id)


@dataclass(frozen=True, slots=True)
class StartRequest:
    """A charger's report that a transaction has started (OCPP 1.6 StartTransaction)."""

    charge_point_id: str
    connector_id: int
    id_tag: str
    meter_start: int
    timestamp: datetime
    reservation_id: int | None = None

    @property
    def dedup_key(self) -> str:
        # A retried StartTransaction repeats every field; a new one differs at least in
        # its timestamp. This key lets storage refuse the second copy.
        return (
            f"{self.charge_point_id}|{self.connector_id}|{self.id_tag}|"
            f"{self.meter_start}|{self.timestamp.isoformat()}"
        )


@dataclass(frozen=True, slots=True)
class StopRequest:
    charge_point_id: str
    transaction_id: int
    meter_stop: int
    timestamp: datetime
    id_tag: str | None = None
    reason: str | None = None


# Stop reasons of transactions the CSMS closed itself (not OCPP 1.6 Reason values: the
# charger never sent a StopTransaction for them).
SUPERSEDED = "Superseded"  # a newer StartTransaction arrived for the same connector
CLOSED_BY_OPERATOR = "ClosedByOperator"  # closed through the tenant API


@dataclass(slots=True)
class Transaction:
    transaction_id: int
    charge_point_id: str
    connector_id: int
    id_tag: str
    meter_start: int
    start_timestamp: datetime
    id_tag_status: AuthorizationStatus
    status: TransactionStatus = TransactionStatus.ACTIVE
    meter_stop: int | None = None
    stop_timestamp: datetime | None = None
    stop_reason: str | None = None
    stop_id_tag: str | None = None
    reservation_id: int | None = None
    # Set when the CSMS closed the transaction (the charger never stopped it): when, and
    # who (the operator's token subject; None when the CSMS decided, as for Superseded).
    closed_at: datetime | None = None
    closed_by: str | None = None

    @property
    def energy_wh(self) -> int | None:
        """Energy delivered; a meter that went backwards (replaced meter) counts as zero."""
        if self.meter_stop is None:
            return None
        return max(0, self.meter_stop - self.meter_start)

    @property
    def active(self) -> bool:
        return self.status is TransactionStatus.ACTIVE

    def closed(
        self,
        meter_stop: int | None,
        stopped_at: datetime,
        reason: str,
        closed_at: datetime,
        closed_by: str | None = None,
    ) -> Transaction:
        """This transaction as the CSMS stops it. `meter_stop` None: no reading is known,
        so neither is the energy (unknown, which is not zero)."""
        return replace(
            self,
            status=TransactionStatus.COMPLETED,
            meter_stop=meter_stop,
            # Never before the start: a charger whose clock reset still gets no negative
            # duration.
            stop_timestamp=max(stopped_at, self.start_timestamp),
            stop_reason=reason,
            closed_at=closed_at,
            closed_by=closed_by,
        )


@dataclass(frozen=True, slots=True)
class MeterValue:
    charge_point_id: str
    connector_id: int
    timestamp: datetime
    sampled_values: list[dict[str, Any]]
    # 1.6: the CSMS's integer id; 2.0.1: the charger's own string id.
    transaction_id: int | str | None = None


ENERGY_REGISTER = "Energy.Active.Import.Register"  # OCPP 1.6's default measurand


def energy_register_wh(readings: Sequence[MeterValue]) -> int | None:
    """The latest Energy.Active.Import.Register reading among `readings`, in Wh; None
    when none has one. Per-phase values and signed data are not the register's total."""
    latest: tuple[datetime, int] | None = None
    for reading in readings:
        wh = _register_wh(reading.sampled_values)
        if wh is not None and (latest is None or reading.timestamp > latest[0]):
            latest = (reading.timestamp, wh)
    return None if latest is None else latest[1]


def _register_wh(sampled_values: Sequence[dict[str, Any]]) -> int | None:
    for sampled in sampled_values:
        if sampled.get("measurand", ENERGY_REGISTER) != ENERGY_REGISTER:
            continue
        if sampled.get("phase") is not None or sampled.get("format", "Raw") != "Raw":
            continue
        scale = {"Wh": 1, "kWh": 1000}.get(sampled.get("unit", "Wh"))
        try:
            value = float(sampled["value"])
        except (KeyError, TypeError, ValueError):
            continue
        if scale is not None:
            return round(value * scale)
    return None


class ReservationStatus(StrEnum):
    ACTIVE = "Active"
    USED = "Used"
    CANCELLED = "Cancelled"


@dataclass(frozen=True, slots=True)
class Reservation:
    """Made when a charger accepts ReserveNow; StartTransaction with its id uses it."""

    reservation_id: int
    charge_point_id: str
    connector_id: int
    id_tag: str
    expiry_date: datetime
    parent_id_tag: str | None = None
    status: ReservationStatus = ReservationStatus.ACTIVE
    transaction_id: int | None = None


# Runtime state changes, as the event worker applies them in bulk. Each carries the time
# it happened: an older change never overwrites a newer one, whatever order they arrive in.


@dataclass(frozen=True, slots=True)
class Heartbeat:
    charge_point_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Booted:
    charge_point_id: str
    boot: BootInfo
    at: datetime


@dataclass(frozen=True, slots=True)
class ConnectorStatusChanged:
    charge_point_id: str
    status: ConnectorStatus


@dataclass(frozen=True, slots=True)
class ConnectionChanged:
    charge_point_id: str
    status: ConnectionStatus
    at: datetime


@dataclass(frozen=True, slots=True)
class Notified:
    """DiagnosticsStatusNotification and kin: latest state plus one history entry."""

    charge_point_id: str
    kind: str
    data: dict[str, Any]
    at: datetime
    record_id: str  # the history entry's identity: stored once however often delivered


StateChange = Heartbeat | Booted | ConnectorStatusChanged | ConnectionChanged | Notified


@dataclass(frozen=True, slots=True)
class SessionChange:
    """A connection's history entry: $connect opens it (charge point, subprotocol,
    connected_at, source_ip), $disconnect closes it (disconnected_at, close code and
    reason). Either may be applied first; each only sets its own fields."""

    connection_id: str
    fields: dict[str, Any]
