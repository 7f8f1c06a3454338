"""The interfaces services depend on; adapters implement them per technology."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from csms.domain.charger_transactions import ChargerTransaction, TransactionEventData
from csms.domain.charging_profiles import ChargingProfile, ProfileCriteria
from csms.domain.commands import Command, CommandStatus, Taken
from csms.domain.data_transfer import VendorHandler
from csms.domain.device_model import ACTUAL, VariableAttribute, VariableKey
from csms.domain.display_messages import DisplayMessage
from csms.domain.local_list import LocalList
from csms.domain.model import (
    BootInfo,
    ConnectionInfo,
    ConnectionStatus,
    ConnectorStatus,
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
)
from csms.domain.reservations import EvseReservation, ReservationState

if TYPE_CHECKING:
    from cryptography.x509 import CertificateSigningRequest


class ConnectionRegistry(Protocol):
    """connectionId -> who is connected, and chargePointId -> its current connectionId."""

    def register(self, connection: ConnectionInfo) -> str | None:
        """Record a new connection; returns the connection it replaces, if any."""

    def lookup(self, connection_id: str) -> ConnectionInfo | None: ...

    def connection_of(self, charge_point_id: str) -> str | None: ...

    def connections_of(self, charge_point_ids: Sequence[str]) -> dict[str, str | None]:
        """connection_of for many charge points in one round trip (API lists)."""

    def unregister(self, connection: ConnectionInfo) -> bool:
        """Forget a connection; True when it was still the charge point's current one."""


class PendingCalls(Protocol):
    """CSMS-initiated Calls awaiting the charger's CallResult/CallError."""

    def delete(self, charge_point_id: str, message_id: str) -> bool: ...

    def take(self, charge_point_id: str, message_id: str) -> str | None:
        """Get and delete in one step: of two deliveries of an answer, one gets it."""

    def release_connection(self, charge_point_id: str, connection_id: str) -> str | None:
        """Remove the outstanding command if it was sent on this connection; its id.
        Of everyone trying to end that command, only the one who removed it gets it."""

    def expire(self, charge_point_id: str, message_id: str, now: datetime) -> bool:
        """Remove this pending Call if its deadline has passed; True if this removed it."""


class DeadLetters(Protocol):
    """Where the event worker puts a record it gives up on, with the reason."""

    def put(self, body: str, reason: str, source_message_id: str, group: str | None) -> None:
        ...


class VerifiedCredentials(Protocol):
    """Logins verified lately, by keyed hash (see domain.credentials.credential_tag)."""

    def get(self, charge_point_id: str) -> str | None: ...

    def put(self, charge_point_id: str, tag: str) -> None: ...


class ReplayCache(Protocol):
    """The reply sent for each (charge point, message id), so retries get the same one."""

    def get(self, charge_point_id: str, message_id: str) -> str | None: ...

    def put(self, charge_point_id: str, message_id: str, response: str) -> None: ...


class CallLookup(Protocol):
    """A Call's two reads before any work: who sent it, and the reply already sent for
    its message id (a retry). Together, so a store can answer both in one round trip."""

    def lookup_call(
        self, connection_id: str, message_id: str
    ) -> tuple[ConnectionInfo | None, str | None]: ...


class ConnectionGateway(Protocol):
    """Reaches live WebSocket connections (API Gateway's @connections API)."""

    def close(self, connection_id: str) -> None: ...

    def post(self, connection_id: str, data: str) -> bool:
        """Send one frame; False when the connection is gone (410)."""


class CommandQueue(Protocol):
    """Per charge point, commands waiting to be sent, in order, one outstanding at a time.

    The outstanding one is the charge point's entry in PendingCalls: taking the next
    command moves it there atomically, and only when nothing is outstanding.
    """

    def push(self, charge_point_id: str, command_id: str, frame: str) -> None: ...

    def take_next(
        self, charge_point_id: str, connection_id: str, now: datetime, answer_by: datetime
    ) -> Taken | None:
        """Make the oldest queued command outstanding on `connection_id`, to be answered
        by `answer_by`. None while another Call is pending and not yet overdue; an
        overdue one is taken over atomically and named in the result."""

    def queued(self, charge_point_id: str) -> int: ...

    def signal_done(self, command_id: str) -> None:
        """Wake whoever waits for this command, in whichever process they run."""

    def wait_done(self, command_id: str, seconds: float) -> bool: ...


class Directory(Protocol):
    """The global database: tenants and the charge point registry."""

    def create_tenant(self, tenant: Tenant) -> None: ...

    def get_tenant(self, tenant_id: str) -> Tenant | None: ...

    def add_charge_point(self, charge_point: RegisteredChargePoint) -> None: ...

    def get_charge_point(self, charge_point_id: str) -> RegisteredChargePoint | None: ...

    def set_charge_point_password(self, charge_point_id: str, password_hash: str) -> bool: ...

    def list_tenants(self, limit: int, offset: int) -> list[Tenant]: ...

    def update_tenant(self, tenant_id: str, changes: dict[str, Any]) -> Tenant | None: ...

    def list_charge_points(
        self, tenant_id: str, limit: int, offset: int, enabled: bool | None = None
    ) -> list[RegisteredChargePoint]: ...

    def count_charge_points(self, tenant_id: str) -> int: ...

    def update_charge_point(
        self, charge_point_id: str, changes: dict[str, Any]
    ) -> RegisteredChargePoint | None: ...

    def delete_charge_point(self, charge_point_id: str) -> bool: ...


class ChargePointState(Protocol):
    """Runtime state of a tenant's charge points."""

    def set_current_transaction(
        self, charge_point_id: str, connector_id: int, transaction_id: int | None
    ) -> None: ...

    def clear_current_transaction(
        self, charge_point_id: str, connector_id: int, transaction_id: int
    ) -> None:
        """Clear the connector's current transaction if it still is `transaction_id`
        (a late stop of an old transaction leaves a newer one in place)."""

    def heard_from_since(self, charge_point_id: str, since: datetime) -> bool:
        """Whether the charge point sent anything at or after `since`."""

    def record_configuration(
        self, charge_point_id: str, keys: Sequence[dict[str, Any]], unknown: Sequence[str]
    ) -> None:
        """What GetConfiguration reported: key -> {value, readonly}."""

    def set_configuration_value(self, charge_point_id: str, key: str, value: str) -> None: ...

    def record_command_effect(self, charge_point_id: str, field: str, value: Any) -> None:
        """A fact a command established (local list version, availability, certificates)."""

    def forget(self, charge_point_id: str) -> None: ...

    def sync(self, changes: Sequence[StateChange]) -> None:
        """Apply runtime state changes in bulk; idempotent, and never older over newer."""


class Transactions(Protocol):
    def start(self, request: StartRequest, id_tag_status: str) -> Transaction:
        """Create a transaction; the same request twice returns the first one."""

    def stop(self, request: StopRequest) -> Transaction | None: ...

    def get(self, transaction_id: int) -> Transaction | None: ...

    def active(
        self,
        *,
        id_tag: str | None = None,
        charge_point_id: str | None = None,
        connector_id: int | None = None,
    ) -> list[Transaction]:
        """Open transactions matching every criterion given, newest first."""

    def close(self, transaction: Transaction) -> bool:
        """Store `transaction` as the CSMS stopped it (Transaction.closed), unless it is
        no longer open; True when this call stopped it."""


class ChargerTransactions(Protocol):
    """Transactions with charger-assigned ids (OCPP 2.0.1), built from their events."""

    def apply(
        self, event: TransactionEventData, id_token_status: str | None
    ) -> ChargerTransaction | None:
        """Apply the event; None when its (transactionId, seqNo) was applied already."""

    def get(self, charge_point_id: str, transaction_id: str) -> ChargerTransaction | None: ...

    def active(
        self,
        *,
        charge_point_id: str | None = None,
        evse_id: int | None = None,
        id_token: str | None = None,
    ) -> list[ChargerTransaction]:
        """Open transactions matching every criterion given."""

    def close(self, transaction: ChargerTransaction) -> bool:
        """Store `transaction` as the CSMS closed it, unless it is no longer open."""


class IdTags(Protocol):
    def get(self, id_tag: str) -> IdTag | None: ...

    def put(self, id_tag: IdTag) -> None: ...

    def delete(self, id_tag: str) -> bool: ...


class MeterValues(Protocol):
    def add(self, values: Sequence[MeterValue], keep_for: timedelta | None = None) -> None:
        """Store readings once each (a retried delivery adds nothing); `keep_for` sets
        when each expires (TTL index)."""

    def latest(self, transaction_id: int, limit: int) -> list[MeterValue]:
        """A transaction's newest `limit` readings, newest first."""


class Sessions(Protocol):
    def sync(self, changes: Sequence[SessionChange]) -> None:
        """Apply opened/closed changes in bulk; idempotent."""


class Reservations(Protocol):
    def put(self, reservation: Reservation) -> None: ...

    def set_status(
        self,
        charge_point_id: str,
        reservation_id: int,
        status: ReservationStatus,
        transaction_id: int | None = None,
    ) -> bool: ...


class ChargingProfiles(Protocol):
    def put(self, charge_point_id: str, profile: ChargingProfile, as_sent: dict[str, Any]
            ) -> None:
        """A profile the charger accepted (one with the same id replaces it); `as_sent`
        is the profile as the charger got it, kept for the operator."""

    def clear(self, charge_point_id: str, criteria: ProfileCriteria) -> int:
        """Remove the profiles the criteria select; the number removed."""


class CommandLog(Protocol):
    def insert(self, command: Command) -> None: ...

    def get(self, command_id: str) -> Command | None: ...

    def mark_sent(self, command_id: str, at: datetime, expires_at: datetime) -> bool:
        """queued -> sent; False when the command was not queued (cancelled, expired)."""

    def finish(
        self,
        command_id: str,
        status: CommandStatus,
        at: datetime,
        response: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
    ) -> bool:
        """Any non-final status -> a final one; False when it was final already."""

    def overdue(self, now: datetime, limit: int) -> list[Command]:
        """Queued or sent commands whose deadline has passed, oldest deadline first."""

    def queued_charge_points(self, limit: int) -> list[str]:
        """Charge points that have commands waiting to be sent."""

    def find_by_request(
        self, charge_point_id: str, action: str, field: str, value: Any
    ) -> Command | None:
        """The newest of the charge point's `action` commands whose request's `field`
        is `value` (a RequestStartTransaction by its remoteStartId)."""

    def set_transaction(self, command_id: str, transaction_id: int | str) -> None:
        """Note the transaction a command brought about."""


class DeviceModel(Protocol):
    """Each charge point's device model (OCPP 2.0.1), one entry per variable attribute."""

    def put(self, charge_point_id: str, attributes: Sequence[VariableAttribute]) -> None:
        """Store or replace these attributes (others stay as they are)."""

    def of(self, charge_point_id: str) -> list[VariableAttribute]:
        """All stored attributes of the charge point, ordered by variable path."""

    def get(
        self, charge_point_id: str, key: VariableKey, attribute_type: str = ACTUAL
    ) -> VariableAttribute | None: ...


class LocalAuthLists(Protocol):
    """Each charger's local authorization list as the CSMS sent it (OCPP 2.0.1 D)."""

    def get(self, charge_point_id: str) -> LocalList | None: ...

    def apply(
        self,
        charge_point_id: str,
        version: int,
        full: bool,
        entries: Sequence[dict[str, Any]],
        at: datetime,
    ) -> None:
        """An accepted SendLocalList (or one accepted part of it): the charger's list is
        at `version` now."""

    def reported(self, charge_point_id: str, version: int, at: datetime) -> None:
        """The version the charger reported (GetLocalListVersion)."""

    def all(self, limit: int, offset: int) -> list[LocalList]:
        """Every charger's list, by charge point id (entries left out)."""

    def tenant_id_tags(self) -> list[IdTag]:
        """The tenant's id tokens: what every list is made of."""


class EvseReservations(Protocol):
    """Reservations of both versions (the `reservations` records), as OCPP 2.0.1's
    block H and the CSMS's expiry check use them."""

    def put(self, reservation: EvseReservation) -> None: ...

    def get(self, charge_point_id: str, reservation_id: int) -> EvseReservation | None: ...

    def end(
        self,
        charge_point_id: str,
        reservation_id: int,
        status: ReservationState,
        at: datetime,
        transaction_id: int | str | None = None,
    ) -> EvseReservation | None:
        """Active -> `status`; None when it was not active (ended already, or unknown)."""

    def due(self, now: datetime, limit: int) -> list[EvseReservation]:
        """Active reservations whose expiry has passed, oldest first."""

    def active(self, charge_point_id: str) -> list[EvseReservation]: ...

    def next_id(self, charge_point_id: str) -> int:
        """A reservation id this charger has not had from the CSMS."""


class DisplayMessages(Protocol):
    """What each charger shows drivers (OCPP 2.0.1 O), as MessageInfoType payloads."""

    def put(
        self,
        charge_point_id: str,
        message: dict[str, Any],
        at: datetime,
        source: str,
        request_id: int | None = None,
    ) -> None:
        """Store or replace the message with this id; `source` is "set" or "reported"."""

    def remove(self, charge_point_id: str, message_id: int) -> bool: ...

    def keep_only(self, charge_point_id: str, request_id: int) -> int:
        """Remove the charger's messages not reported for `request_id`; how many."""

    def of(self, charge_point_id: str) -> list[DisplayMessage]: ...


class Diagnostics(Protocol):
    """OCPP 2.0.1 block N: log uploads, variable monitors, the charger's events and
    customer information reports, as 2.0.1 payload fields."""

    def log_requested(
        self, charge_point_id: str, request: dict[str, Any], response: dict[str, Any],
        at: datetime,
    ) -> None:
        """An accepted GetLog."""

    def log_status(
        self, charge_point_id: str, request_id: int | None, status: str, at: datetime
    ) -> dict[str, Any] | None:
        """A LogStatusNotification; the log request it belongs to, None if unknown."""

    def logs(self, charge_point_id: str, limit: int, offset: int) -> list[dict[str, Any]]: ...

    def put_monitors(
        self, charge_point_id: str, monitors: Sequence[dict[str, Any]], at: datetime,
        request_id: int | None = None,
    ) -> None:
        """Store or replace monitors by id (`request_id`: the report that listed them)."""

    def remove_monitors(self, charge_point_id: str, ids: Sequence[int]) -> int: ...

    def keep_reported_monitors(self, charge_point_id: str, request_id: int) -> int:
        """Remove the monitors a complete report for `request_id` did not list."""

    def monitors(self, charge_point_id: str) -> list[dict[str, Any]]: ...

    def charger_events(
        self, charge_point_id: str, limit: int, offset: int
    ) -> list[dict[str, Any]]:
        """The charger's NotifyEvent messages as stored, newest first."""

    def customer_information_requested(
        self, charge_point_id: str, request: dict[str, Any], at: datetime
    ) -> None: ...

    def customer_information_part(
        self, charge_point_id: str, request_id: int, seq_no: int, data: str, last: bool,
        at: datetime,
    ) -> dict[str, Any] | None:
        """Keep one NotifyCustomerInformation; the assembled report once it is whole
        (returned once), else None."""

    def customer_information(
        self, charge_point_id: str, request_id: int
    ) -> dict[str, Any] | None: ...


class DataTransfers(Protocol):
    """The tenant's DataTransfer handler per vendorId, and the messages handled."""

    def handler(self, vendor_id: str) -> VendorHandler | None: ...

    def put_handler(self, handler: VendorHandler) -> None: ...

    def delete_handler(self, vendor_id: str) -> bool: ...

    def handlers(self) -> list[VendorHandler]: ...

    def record(self, charge_point_id: str, entry: dict[str, Any], at: datetime) -> None: ...

    def messages(
        self, charge_point_id: str, limit: int, offset: int
    ) -> list[dict[str, Any]]: ...


class VendorEndpoint(Protocol):
    """Reaches a tenant's DataTransfer endpoint."""

    def post(
        self, url: str, body: bytes, headers: dict[str, str], timeout: float
    ) -> dict[str, Any]:
        """The endpoint's JSON reply; raises when it cannot be had in time."""


class Firmware(Protocol):
    """Each charger's firmware update and publication with their status histories, and
    the tenant's rollouts (OCPP 2.0.1 L, 1.6 firmware)."""

    def update_requested(
        self, charge_point_id: str, summary: dict[str, Any], at: datetime
    ) -> None: ...

    def update_status(
        self, charge_point_id: str, status: str, request_id: int | None, at: datetime
    ) -> dict[str, Any] | None:
        """A FirmwareStatusNotification; the update it belongs to, None if unknown.
        Without `request_id`, the charger's current update (1.6 names none)."""

    def last_status(
        self, charge_point_id: str, status: str, request_id: int | None, at: datetime
    ) -> None:
        """A status about no update the CSMS follows (2.0.1 Idle without requestId)."""

    def publish_requested(
        self, charge_point_id: str, request: dict[str, Any], at: datetime
    ) -> None: ...

    def publish_status(
        self, charge_point_id: str, status: str, request_id: int | None,
        locations: list[str], at: datetime,
    ) -> dict[str, Any] | None: ...

    def unpublished(self, charge_point_id: str, checksum: str, at: datetime) -> None: ...

    def of(self, charge_point_id: str) -> dict[str, Any] | None: ...

    def of_many(self, charge_point_ids: list[str]) -> dict[str, dict[str, Any]]: ...

    def next_request_id(self) -> int:
        """A firmware requestId unused in this tenant."""

    def add_rollout(self, rollout: dict[str, Any]) -> None: ...

    def rollout(self, rollout_id: str) -> dict[str, Any] | None: ...

    def rollouts(self, limit: int, offset: int) -> list[dict[str, Any]]: ...


class MessageLog(Protocol):
    def record(self, entries: Sequence[dict[str, Any]]) -> None:
        """Store entries; one whose `_id` is stored already is skipped (redelivery)."""


class TenantData(Protocol):
    """Everything stored in one tenant's database."""

    @property
    def charge_points(self) -> ChargePointState: ...

    @property
    def transactions(self) -> Transactions: ...

    @property
    def id_tags(self) -> IdTags: ...

    @property
    def charger_transactions(self) -> ChargerTransactions: ...

    @property
    def meter_values(self) -> MeterValues: ...

    @property
    def sessions(self) -> Sessions: ...

    @property
    def messages(self) -> MessageLog: ...

    @property
    def commands(self) -> CommandLog: ...

    @property
    def reservations(self) -> Reservations: ...

    @property
    def charging_profiles(self) -> ChargingProfiles: ...

    @property
    def device_model(self) -> DeviceModel: ...

    @property
    def local_lists(self) -> LocalAuthLists: ...

    @property
    def evse_reservations(self) -> EvseReservations: ...

    @property
    def display_messages(self) -> DisplayMessages: ...

    @property
    def diagnostics(self) -> Diagnostics: ...

    @property
    def data_transfers(self) -> DataTransfers: ...

    @property
    def firmware(self) -> Firmware: ...


class TenantStore(Protocol):
    def for_tenant(self, tenant_id: str) -> TenantData: ...


class RateLimiter(Protocol):
    def hit(self, tenant_id: str, limit_per_minute: int, now: float) -> int | None:
        """None when the request may go ahead, else seconds until it may be retried."""


class RuntimeRecords(Protocol):
    """What happened during one invocation that no reply depends on: the message log,
    runtime state and events. Buffered per invocation and handed on by flush() (to SQS,
    for the event worker to store in bulk and publish)."""

    def message(self, tenant_id: str, entry: dict[str, Any]) -> None: ...

    def boot(self, tenant_id: str, charge_point_id: str, boot: BootInfo, at: datetime) -> None:
        ...

    def heartbeat(self, tenant_id: str, charge_point_id: str, at: datetime) -> None: ...

    def connector_status(
        self, tenant_id: str, charge_point_id: str, status: ConnectorStatus
    ) -> None: ...

    def connection(
        self, tenant_id: str, charge_point_id: str, status: ConnectionStatus, at: datetime
    ) -> None: ...

    def session(self, tenant_id: str, charge_point_id: str, change: SessionChange) -> None:
        """A connection opened or closed (the sessions history)."""

    def notification(
        self, tenant_id: str, charge_point_id: str, kind: str, data: dict[str, Any], at: datetime
    ) -> None: ...

    def meter_values(self, tenant_id: str, values: Sequence[MeterValue]) -> None: ...

    def event(
        self, tenant_id: str, charge_point_id: str, kind: str, data: dict[str, Any], at: datetime
    ) -> None:
        """Publish-only: transaction started/stopped, command completed."""

    def flush(self) -> None:
        """Hand on everything buffered by this invocation; raises if it could not."""

    def discard(self) -> None:
        """Drop this invocation's buffer (its work is being answered with an error)."""


class RecordQueue(Protocol):
    def send(self, envelopes: Sequence[dict[str, Any]]) -> None: ...


class EventPublisher(Protocol):
    def publish(self, topic: str, event: dict[str, Any]) -> None:
        """QoS 1: returns once the broker has the event, raises otherwise."""


class CsrSigner(Protocol):
    """Signs a checked CSR with the tenant's CA: the chain for CertificateSigned (PEM,
    the leaf first). Raises BadCsr when the CA refuses the CSR itself."""

    def sign_csr(self, tenant_id: str, csr: CertificateSigningRequest, now: datetime) -> str: ...
