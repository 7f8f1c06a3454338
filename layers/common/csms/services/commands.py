"""CSMS-initiated calls across Lambdas: queued by the tenant API, sent one at a time per
charger, completed by whichever $default invocation receives the charger's answer."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from csms.domain.commands import (
    CONNECTION_CLOSED,
    NO_ANSWER_IN_TIME,
    NOT_ONLINE_IN_TIME,
    PARTS_INCOMPLETE,
    Command,
    CommandStatus,
    NotConnected,
    UnknownCommand,
    outcome_of_result,
)
from csms.domain.credentials import generate_password, hash_password
from csms.domain.device_model import VariableAttribute, VariableKey
from csms.domain.firmware import FirmwareImage
from csms.domain.model import ConnectionStatus
from csms.domain.reservations import ReservationRequest
from csms.ports import (
    CommandQueue,
    ConnectionGateway,
    ConnectionRegistry,
    Directory,
    PendingCalls,
    RuntimeRecords,
    TenantData,
    TenantStore,
)
from csms.protocol.errors import OcppError
from csms.protocol.framing import Call, CallError, CallResult, serialize
from csms.protocol.schemas import SchemaSet

logger = logging.getLogger(__name__)

# API Gateway ends HTTP requests after 29 s; a waiting caller must be answered before.
MAX_WAIT_SECONDS = 25.0
_WAIT_SLICE_SECONDS = 1.0
# How long after $connect a 410 from @connections still means "handshake not finished".
_HANDSHAKE_GRACE = timedelta(seconds=5)
_HANDSHAKE_RETRY_SECONDS = 0.1
# A charger that has just rebooted sends BootNotification within this long of connecting.
_CONNECT_SETTLE = timedelta(seconds=0.5)
# A sent command whose pending entry is gone this long after its deadline has no one
# left to end it (Redis lost the entry): the sweep ends it all the same.
_LOST_ENTRY_GRACE = timedelta(seconds=5)


# What an accepted command changes in the tenant's records: (data, charge point id,
# request payload, response payload).
CommandEffect = Callable[[TenantData, str, dict[str, Any], dict[str, Any]], None]

Payload = dict[str, Any]
# A variable of the charger's stored device model (OCPP 2.0.1), its Actual attribute.
VariableLookup = Callable[[VariableKey], VariableAttribute | None]


@dataclass(frozen=True)
class Splitting:
    """How a request too large for the charger goes out in parts: `split` gives the
    parts (a single one when it fits) from the payload and the charger's device model,
    `merge` makes one response of the parts' responses, in order."""

    split: Callable[[Payload, VariableLookup], list[Payload]]
    merge: Callable[[list[Payload]], Payload]


@dataclass(frozen=True)
class PasswordChange:
    """How a version asks a charger to take a new HTTP Basic auth password."""

    action: str
    # The request payload carrying the password, and the same with the password hidden.
    request: Callable[[str], Payload]
    redact: Callable[[Payload], Payload]
    # Whether the charger's response takes the new password.
    accepted: Callable[[Payload], bool]


@dataclass(frozen=True)
class RequestShapes:
    """How a version words the requests services compose from domain values; None where
    the version has no such request (1.6 has no local list push of its own, say)."""

    # ReserveNow's payload.
    reserve_now: Callable[[ReservationRequest], Payload] | None = None
    # The action and payload installing a firmware image under a request id.
    firmware_update: Callable[[FirmwareImage, int], tuple[str, Payload]] | None = None
    # SendLocalList's payload from (list version, "Full"/"Differential", list entries as
    # domain.local_list keeps them).
    send_local_list: Callable[[int, str, list[Payload]], Payload] | None = None
    # CertificateSigned's payload from (PEM chain, certificate type).
    certificate_signed: Callable[[str, str], Payload] | None = None
    # CancelReservation's payload from the reservation id.
    cancel_reservation: Callable[[int], Payload] | None = None
    # CostUpdated's payload from (running total cost, transaction id).
    cost_updated: Callable[[float, str], Payload] | None = None


@dataclass(frozen=True)
class CommandVocabulary:
    """One OCPP version's CSMS-initiated actions, as its plug-in describes them."""

    schemas: SchemaSet
    actions: frozenset[str]
    # The `status` values of a CallResult that mean "done as asked"; others refuse.
    agreeing_statuses: frozenset[str]
    effects: Mapping[str, CommandEffect]
    # Actions whose requests may be too large for one message, by action.
    splittings: Mapping[str, Splitting] = field(default_factory=dict)
    password_change: PasswordChange | None = None
    # Rules beyond the schema, by action (a charging profile's stack level, say): each
    # raises OcppError naming the rule a request breaks.
    checks: Mapping[str, Callable[[dict[str, Any]], None]] = field(default_factory=dict)
    requests: RequestShapes = RequestShapes()


class PasswordPushUnsupported(UnknownCommand):
    """The charger's OCPP version has no way to set its password."""

    def __init__(self, version: str) -> None:
        super().__init__("a password push", version)


class CommandService:
    def __init__(
        self,
        registry: ConnectionRegistry,
        queue: CommandQueue,
        pending: PendingCalls,
        store: TenantStore,
        gateway: Callable[[], ConnectionGateway],
        vocabularies: Mapping[str, CommandVocabulary],
        directory: Directory,
        clock: Callable[[], datetime],
        answer_timeout: timedelta,
        queue_timeout: timedelta,
        records: RuntimeRecords,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._sleep = sleep
        self._records = records
        self._registry = registry
        self._queue = queue
        self._pending = pending
        self._store = store
        self._gateway = gateway
        # Subprotocol -> its actions; the first is the version of a charger never seen.
        self._vocabularies = dict(vocabularies)
        self._default_version = next(iter(self._vocabularies))
        self._directory = directory
        self._clock = clock
        self._answer_timeout = answer_timeout
        self._queue_timeout = queue_timeout
        self._new_id = new_id

    def version_of(self, charge_point_id: str) -> str:
        """The OCPP version a command to this charger speaks: its live connection's, else
        the one it negotiated last (a command queued while it is offline)."""
        connection_id = self._registry.connection_of(charge_point_id)
        connection = self._registry.lookup(connection_id) if connection_id else None
        if connection is not None and connection.subprotocol in self._vocabularies:
            return connection.subprotocol
        registered = self._directory.get_charge_point(charge_point_id)
        last = registered.ocpp_version if registered is not None else None
        return last if last is not None and last in self._vocabularies else self._default_version

    def shapes_of(self, charge_point_id: str) -> tuple[str, RequestShapes]:
        """The charger's version and how that version words composed requests."""
        version = self.version_of(charge_point_id)
        return version, self._vocabularies[version].requests

    def validate(self, action: str, payload: dict[str, Any], version: str | None = None) -> None:
        """Raise UnknownCommand, or OcppError naming what breaks the action's schema."""
        vocabulary = self._vocabularies[version or self._default_version]
        if action not in vocabulary.actions:
            raise UnknownCommand(action, version or self._default_version)
        vocabulary.schemas.validate_request(action, payload)
        check = vocabulary.checks.get(action)
        if check is not None:
            check(payload)

    def submit(
        self,
        tenant_id: str,
        charge_point_id: str,
        action: str,
        payload: dict[str, Any],
        queue_if_offline: bool = False,
    ) -> Command:
        """Queue a command and send it at once if the charger is free; the caller has
        checked that the charge point belongs to the tenant."""
        version = self.version_of(charge_point_id)
        self.validate(action, payload, version)
        if not queue_if_offline and self._registry.connection_of(charge_point_id) is None:
            raise NotConnected(charge_point_id)
        return self._enqueue(tenant_id, charge_point_id, action, payload, version)

    def push_password(
        self, tenant_id: str, charge_point_id: str, queue_if_offline: bool = False
    ) -> Command:
        """Send the charger a new password. Only the charger gets it: the stored request
        hides it, nobody is shown it, and the registry switches to its hash when the
        charger's answer takes it, whenever that comes."""
        version = self.version_of(charge_point_id)
        change = self._vocabularies[version].password_change
        if change is None:
            raise PasswordPushUnsupported(version)
        password = generate_password()
        payload = change.request(password)
        self.validate(change.action, payload, version)
        if not queue_if_offline and self._registry.connection_of(charge_point_id) is None:
            raise NotConnected(charge_point_id)
        command = self._enqueue(
            tenant_id,
            charge_point_id,
            change.action,
            payload,
            version,
            stored_request=change.redact(payload),
            new_password_hash=hash_password(password),
        )
        return command

    def password_accepted(self, command: Command) -> bool | None:
        """A password push's outcome: None until the charger answered, then whether it
        took the new password."""
        if not command.final:
            return None
        change = self._vocabulary(command.ocpp_version).password_change
        return (
            change is not None
            and command.status is CommandStatus.COMPLETED
            and command.response is not None
            and change.accepted(command.response)
        )

    def _enqueue(
        self,
        tenant_id: str,
        charge_point_id: str,
        action: str,
        payload: Payload,
        version: str,
        stored_request: Payload | None = None,
        new_password_hash: str | None = None,
    ) -> Command:
        """Store the command and queue its Call (or its parts' Calls), then send."""
        now = self._clock()
        splitting = self._vocabularies[version].splittings.get(action)
        parts = self._split(tenant_id, charge_point_id, splitting, payload)
        command = Command(
            command_id=self._new_id(),
            charge_point_id=charge_point_id,
            action=action,
            request=payload if stored_request is None else stored_request,
            status=CommandStatus.QUEUED,
            created_at=now,
            expires_at=now + self._queue_timeout,
            ocpp_version=version,
            new_password_hash=new_password_hash,
        )
        commands = self._store.for_tenant(tenant_id).commands
        if len(parts) <= 1:
            commands.insert(command)
            frame = serialize(Call(command.command_id, action, payload))
            self._queue.push(charge_point_id, command.command_id, frame)
        else:
            part_ids = tuple(self._new_id() for _ in parts)
            # The whole ends when its last part does: at the latest, the last part sent
            # just before its queue deadline ends at its answer deadline.
            whole = replace(
                command,
                parts=part_ids,
                expires_at=now + self._queue_timeout + self._answer_timeout + _LOST_ENTRY_GRACE,
            )
            commands.insert(whole)
            for part_id, part in zip(part_ids, parts, strict=True):
                commands.insert(
                    replace(command, command_id=part_id, request=part, parent_id=whole.command_id)
                )
                self._queue.push(charge_point_id, part_id, serialize(Call(part_id, action, part)))
            command = whole
        self.dispatch_next(tenant_id, charge_point_id)
        return self.get(tenant_id, command.command_id) or command

    def _split(
        self,
        tenant_id: str,
        charge_point_id: str,
        splitting: Splitting | None,
        payload: Payload,
    ) -> list[Payload]:
        if splitting is None:
            return [payload]
        device_model = self._store.for_tenant(tenant_id).device_model

        def lookup(key: VariableKey) -> VariableAttribute | None:
            return device_model.get(charge_point_id, key)

        return splitting.split(payload, lookup)

    def _vocabulary(self, version: str) -> CommandVocabulary:
        return self._vocabularies.get(version) or self._vocabularies[self._default_version]

    def dispatch_next(self, tenant_id: str, charge_point_id: str) -> None:
        """Send the charger's next queued command if none is outstanding. Safe to call
        from any process at any time: the queue hands each command out once. A pending
        command past its answer deadline is taken over and ends `timed_out`."""
        while True:
            connection_id = self._registry.connection_of(charge_point_id)
            if connection_id is None:
                return  # stays queued until the charger is back
            now = self._clock()
            answer_by = now + self._answer_timeout
            taken = self._queue.take_next(charge_point_id, connection_id, now, answer_by)
            if taken is None:
                return
            if taken.overdue_command_id is not None:
                self._finish(
                    tenant_id,
                    taken.overdue_command_id,
                    CommandStatus.TIMED_OUT,
                    error={"reason": NO_ANSWER_IN_TIME},
                )
            if taken.command_id is None:
                return
            sent = self._send(
                tenant_id, charge_point_id, connection_id, taken.command_id, taken.frame, answer_by
            )
            if sent:
                return

    def deliver_after_connect(
        self, tenant_id: str, charge_point_id: str, connected_at: datetime
    ) -> None:
        """A charger (re)connected: send what was queued for it, without waiting for it
        to send a Call. A charger that has just rebooted sends BootNotification at once,
        and its reply must come first (see reply_then_dispatch), so a fresh connection
        gets a moment before anything is sent."""
        if not self._queue.queued(charge_point_id):
            return
        settle = (connected_at + _CONNECT_SETTLE - self._clock()).total_seconds()
        if settle > 0:
            self._sleep(min(settle, _CONNECT_SETTLE.total_seconds()))
        self.dispatch_next(tenant_id, charge_point_id)

    def reply_then_dispatch(
        self, tenant_id: str, charge_point_id: str, connection_id: str, reply: str
    ) -> bool:
        """Send `reply` (a BootNotification's CallResult) on the connection, then the
        queued commands, in that order. False when the reply could not be sent this
        way: the caller returns it as the route response instead."""
        if not self._queue.queued(charge_point_id):
            return False
        try:
            if not self._gateway().post(connection_id, reply):
                return False
        except Exception:
            logger.warning("could not post the reply before the queued commands", exc_info=True)
            return False
        try:
            self.dispatch_next(tenant_id, charge_point_id)
            self._records.flush()
        except Exception:
            # The reply went out; the commands wait for the next chance.
            logger.exception("could not send queued commands after the reply")
        return True

    def say_goodbye(self, connection_id: str, last_frame: str) -> bool:
        """Send a last frame and close the connection; False if that could not be done
        (the caller then answers as usual and the charger stays connected)."""
        try:
            gateway = self._gateway()
            gateway.post(connection_id, last_frame)
            gateway.close(connection_id)
        except Exception:
            logger.warning("could not close an unregistered connection", exc_info=True)
            return False
        return True

    def release_connection(self, tenant_id: str, charge_point_id: str, connection_id: str) -> None:
        """The connection closed or was replaced: the command in flight on it can no
        longer be answered, so it ends `failed` now rather than at its deadline."""
        command_id = self._pending.release_connection(charge_point_id, connection_id)
        if command_id is not None:
            self._finish(
                tenant_id, command_id, CommandStatus.FAILED, error={"reason": CONNECTION_CLOSED}
            )

    def expire(self, tenant_id: str, command: Command) -> bool:
        """End a command past its deadline as `timed_out`; True when this call ended it.
        A sent one ends only if its pending entry is removed here (an answer arriving
        at this moment owns it otherwise), or if that entry is long gone from Redis."""
        now = self._clock()
        if not command.expired(now):
            return False
        if command.parts:
            return self._expire_whole(tenant_id, command, now)
        if command.status is CommandStatus.SENT:
            removed = self._pending.expire(command.charge_point_id, command.command_id, now)
            if not removed and now < command.expires_at + _LOST_ENTRY_GRACE:
                return False
            error = {"reason": NO_ANSWER_IN_TIME}
        else:
            error = {"reason": NOT_ONLINE_IN_TIME}
        return self._finish(tenant_id, command.command_id, CommandStatus.TIMED_OUT, error=error)

    def _expire_whole(self, tenant_id: str, command: Command, now: datetime) -> bool:
        """A split command past its deadline: its overdue parts end first, then it ends
        as they did, or `timed_out` if some part is still open (lost)."""
        commands = self._store.for_tenant(tenant_id).commands
        for part_id in command.parts:
            part = commands.get(part_id)
            if part is not None and part.expired(now):
                self.expire(tenant_id, part)
        current = commands.get(command.command_id)
        if current is None or current.final:
            return current is not None  # ended just now, by its parts
        return self._finish(
            tenant_id,
            command.command_id,
            CommandStatus.TIMED_OUT,
            error={"reason": NO_ANSWER_IN_TIME},
        )

    def _send(
        self,
        tenant_id: str,
        charge_point_id: str,
        connection_id: str,
        command_id: str,
        frame: str,
        answer_by: datetime,
    ) -> bool:
        """True when the command is now outstanding; False to move on to the next one."""
        commands = self._store.for_tenant(tenant_id).commands
        now = self._clock()
        command = commands.get(command_id)
        if command is None or command.status is not CommandStatus.QUEUED:
            self._pending.delete(charge_point_id, command_id)
            return False
        if command.expired(now):
            self._finish(tenant_id, command_id, CommandStatus.TIMED_OUT, error=_expired_in_queue())
            self._pending.delete(charge_point_id, command_id)
            return False
        # Marked before sending: the answer may arrive before post() returns.
        commands.mark_sent(command_id, now, answer_by)
        if command.parent_id is not None:
            whole = commands.get(command.parent_id)
            if whole is not None:
                commands.mark_sent(whole.command_id, now, whole.expires_at)
        try:
            gone = not self._post(connection_id, frame)
        except Exception:
            logger.exception("could not send command", extra={"command_id": command_id})
            self._pending.delete(charge_point_id, command_id)
            failure = {"reason": "the command could not be sent to the charge point"}
            self._finish(tenant_id, command_id, CommandStatus.FAILED, error=failure)
            return True  # the rest stay queued for the next attempt
        if gone:
            self._pending.delete(charge_point_id, command_id)
            failure = {"reason": "the charge point's connection is gone"}
            self._finish(tenant_id, command_id, CommandStatus.FAILED, error=failure)
            self._mark_offline(tenant_id, charge_point_id, connection_id)
            return True  # offline now: later commands wait for the reconnect
        logger.info("command sent", extra={"command_id": command_id, "action": command.action})
        return True

    def _post(self, connection_id: str, frame: str) -> bool:
        """post(), patient with a connection registered moments ago: API Gateway answers
        410 until the handshake that $connect accepted has completed."""
        if self._gateway().post(connection_id, frame):
            return True
        connection = self._registry.lookup(connection_id)
        if connection is None:
            return False
        give_up = connection.connected_at + _HANDSHAKE_GRACE
        while self._clock() < give_up:
            self._sleep(_HANDSHAKE_RETRY_SECONDS)
            if self._gateway().post(connection_id, frame):
                return True
        return False

    def _mark_offline(self, tenant_id: str, charge_point_id: str, connection_id: str) -> None:
        # A $disconnect was lost (410 from @connections): forget the stale connection.
        connection = self._registry.lookup(connection_id)
        if connection is not None:
            self._registry.unregister(connection)
        elif self._registry.connection_of(charge_point_id) != connection_id:
            return  # already replaced by a newer connection
        self._records.connection(
            tenant_id, charge_point_id, ConnectionStatus.DISCONNECTED, self._clock()
        )

    def complete(
        self, tenant_id: str, charge_point_id: str, request: Call, answer: CallResult | CallError
    ) -> None:
        """The charger answered an outstanding command (its pending entry is removed)."""
        if isinstance(answer, CallError):
            error = {
                "code": answer.error_code,
                "description": answer.error_description,
                "details": answer.error_details,
            }
            self._finish(tenant_id, answer.unique_id, CommandStatus.FAILED, error=error)
        else:
            self._complete_result(tenant_id, charge_point_id, request, answer)
        self.dispatch_next(tenant_id, charge_point_id)

    def _complete_result(
        self, tenant_id: str, charge_point_id: str, request: Call, result: CallResult
    ) -> None:
        data = self._store.for_tenant(tenant_id)
        command = data.commands.get(result.unique_id)
        version = command.ocpp_version if command is not None else self._default_version
        vocabulary = self._vocabulary(version)
        try:
            vocabulary.schemas.validate_response(request.action, result.payload)
        except OcppError as invalid:
            error = {"reason": f"the charger's answer breaks the schema: {invalid.description}"}
            self._finish(
                tenant_id, result.unique_id, CommandStatus.FAILED, result.payload, error
            )
            return
        status = outcome_of_result(result.payload, vocabulary.agreeing_statuses)
        effect = vocabulary.effects.get(request.action)
        # A password push changes the registry instead (see _finish), and its request's
        # password must reach no record, such as a stored configuration value.
        pushes_password = command is not None and command.new_password_hash is not None
        if status is CommandStatus.COMPLETED and effect is not None and not pushes_password:
            effect(data, charge_point_id, request.payload, result.payload)
        self._finish(tenant_id, result.unique_id, status, result.payload)

    def _finish(
        self,
        tenant_id: str,
        command_id: str,
        status: CommandStatus,
        response: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
    ) -> bool:
        commands = self._store.for_tenant(tenant_id).commands
        now = self._clock()
        if not commands.finish(command_id, status, now, response, error):
            return False
        command = commands.get(command_id)
        if command is not None and command.new_password_hash is not None:
            # Before anyone waiting hears of the outcome: they may connect with it.
            self._switch_password(command)
        self._queue.signal_done(command_id)
        if command is not None:
            completed = {
                "command_id": command_id,
                "action": command.action,
                "status": status.value,
                "response": response,
                "error": error,
            }
            self._records.event(
                tenant_id, command.charge_point_id, "command_completed", completed, now
            )
            if command.parent_id is not None:
                self._settle_whole(tenant_id, command.parent_id)
        return True

    def _switch_password(self, command: Command) -> None:
        if self.password_accepted(command) and command.new_password_hash is not None:
            self._directory.set_charge_point_password(
                command.charge_point_id, command.new_password_hash
            )
            logger.info("charge point password switched", extra={"command_id": command.command_id})

    def _settle_whole(self, tenant_id: str, command_id: str) -> None:
        """End a split command once all its parts are final: completed with the merged
        response when they all completed, else as its first part that did not."""
        commands = self._store.for_tenant(tenant_id).commands
        whole = commands.get(command_id)
        if whole is None or whole.final:
            return
        parts = [commands.get(part_id) for part_id in whole.parts]
        finished = [part for part in parts if part is not None and part.final]
        if len(finished) < len(parts):
            return
        splitting = self._vocabulary(whole.ocpp_version).splittings.get(whole.action)
        responses = [part.response for part in finished if part.response is not None]
        response = splitting.merge(responses) if splitting is not None and responses else None
        unfinished = [part for part in finished if part.status is not CommandStatus.COMPLETED]
        if not unfinished:
            self._finish(tenant_id, command_id, CommandStatus.COMPLETED, response)
            return
        error = {
            "reason": PARTS_INCOMPLETE,
            "parts": [
                {"command_id": part.command_id, "status": part.status.value, "error": part.error}
                for part in unfinished
            ],
        }
        self._finish(tenant_id, command_id, unfinished[0].status, response, error)

    def get(self, tenant_id: str, command_id: str) -> Command | None:
        """The command as it stands; one past its deadline is timed out from now on,
        and the charger's next command goes out."""
        commands = self._store.for_tenant(tenant_id).commands
        command = commands.get(command_id)
        if command is not None and command.expired(self._clock()):
            if self.expire(tenant_id, command):
                self.dispatch_next(tenant_id, command.charge_point_id)
            command = commands.get(command_id)
        return command

    def wait(self, tenant_id: str, command_id: str, seconds: float) -> Command | None:
        """The command once final, or as it stands after `seconds` (at most 25)."""
        deadline = self._clock() + timedelta(seconds=min(seconds, MAX_WAIT_SECONDS))
        while True:
            command = self.get(tenant_id, command_id)
            if command is None or command.final:
                return command
            now = self._clock()
            remaining = min(deadline, command.expires_at) - now
            if remaining <= timedelta(0):
                if now >= deadline:
                    return command
                continue  # past the command's own deadline: get() times it out
            # Short slices: the Redis client's socket timeout bounds a blocking pop.
            self._queue.wait_done(
                command_id, min(remaining.total_seconds(), _WAIT_SLICE_SECONDS) + 0.01
            )


def _expired_in_queue() -> dict[str, Any]:
    return {"reason": NOT_ONLINE_IN_TIME}
