"""$default: one WebSocket message from a charger in, at most one frame back."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from csms.domain.message_log import exchange
from csms.domain.model import ConnectionInfo
from csms.ports import (
    CallLookup,
    ConnectionRegistry,
    PendingCalls,
    ReplayCache,
    RuntimeRecords,
)
from csms.protocol.errors import ErrorKind, FrameError, OcppError
from csms.protocol.framing import (
    AnyFrame,
    Call,
    CallError,
    CallResult,
    CallResultError,
    Frame,
    Send,
    UnansweredFrameError,
    parse_frame,
    serialize,
)
from csms.protocol.router import CallContext, OcppVersion, Router
from csms.services.commands import CommandService
from csms.services.storable import storable, storable_entry

logger = logging.getLogger(__name__)

# A malformed frame is logged with at most this much of its text.
_LOGGED_RAW_LIMIT = 2048

# The message id of what looks like a CALL, read before the frame is parsed (parsing
# needs the connection's OCPP version) so that the replay cache is read with the
# connection. Ids with escapes are left to the parser; the frame decides in the end.
_CALL_ID = re.compile(r'\s*\[\s*2\s*,\s*"([^"\\]{1,64})"')


class SeparateCallLookup:
    """CallLookup from the two ports, one read after the other."""

    def __init__(self, registry: ConnectionRegistry, replay: ReplayCache) -> None:
        self._registry = registry
        self._replay = replay

    def lookup_call(
        self, connection_id: str, message_id: str
    ) -> tuple[ConnectionInfo | None, str | None]:
        connection = self._registry.lookup(connection_id)
        if connection is None:
            return None, None
        return connection, self._replay.get(connection.charge_point_id, message_id)


class MessageService:
    def __init__(
        self,
        registry: ConnectionRegistry,
        replay: ReplayCache,
        pending: PendingCalls,
        routers: Mapping[str, Router],
        default_version: OcppVersion,
        clock: Callable[[], datetime],
        commands: CommandService,
        records: RuntimeRecords,
        calls: CallLookup | None = None,
    ) -> None:
        self._records = records
        self._registry = registry
        self._calls = calls or SeparateCallLookup(registry, replay)
        self._commands = commands
        self._replay = replay
        self._pending = pending
        self._routers = routers
        self._default_version = default_version
        self._clock = clock

    def handle(
        self,
        connection_id: str,
        raw: str,
        identified: Callable[[ConnectionInfo], None] | None = None,
    ) -> str | None:
        """The reply frame for `raw`, or None when nothing is to be sent back.
        `identified` hears who sent it, as soon as that is known (log keys)."""
        received_at = self._clock()
        version = self._default_version
        unique_id = "-1"
        # Set once the frame is a SEND or CALLRESULTERROR: then even a failure is not told.
        answerless = False
        try:
            # What looks like a CALL has its replay entry read with the connection.
            hint = _CALL_ID.match(raw)
            call_id = hint.group(1) if hint else None
            replied: str | None = None
            if call_id is None:
                connection = self._registry.lookup(connection_id)
            else:
                connection, replied = self._calls.lookup_call(connection_id, call_id)
            if connection is None:
                return self._unregistered(connection_id, raw, version)
            if identified is not None:
                identified(connection)
            router = self._routers[connection.subprotocol]
            version = router.version
            try:
                frame = parse_frame(raw, version.extra_message_types)
            except UnansweredFrameError as error:
                self._unreadable_unanswered(connection, version, error, received_at, raw)
                return None
            except FrameError as error:
                logger.warning("malformed frame", extra={"cause": error.description})
                reply = version.call_error(error.unique_id, error)
                self._log(connection, [_malformed_entry(connection, received_at, reply, raw)])
                self._records.flush()
                return serialize(reply)
            unique_id = frame.unique_id
            answerless = isinstance(frame, Send | CallResultError)
            if isinstance(frame, Call):
                if frame.unique_id != call_id:  # the hint was not this frame's id
                    replied = self._replay.get(connection.charge_point_id, frame.unique_id)
                return self._on_call(connection, router, frame, received_at, raw, replied)
            if isinstance(frame, Send):
                self._on_send(connection, router, frame, received_at, raw)
            elif isinstance(frame, CallResultError):
                self._on_call_result_error(connection, frame, received_at, raw)
            else:
                self._on_answer(connection, frame, received_at, raw)
            self._records.flush()
            return None
        except OcppError as error:
            self._records.discard()
            if answerless:
                logger.warning("unanswered frame not processed",
                               extra={"cause": error.description})
                return None
            return serialize(version.call_error(unique_id, error))
        except Exception:
            self._records.discard()
            # Redis or MongoDB unreachable, most likely: answer, never crash the runtime.
            logger.exception("message handling failed")
            if answerless:
                return None
            unavailable = OcppError(
                ErrorKind.INTERNAL_ERROR, "Central System temporarily unavailable"
            )
            return serialize(version.call_error(_unique_id_of(raw), unavailable))

    def _unregistered(self, connection_id: str, raw: str, version: OcppVersion) -> str | None:
        """A connection Redis no longer knows (its data was lost, or the entry expired):
        the charger cannot be identified, so it is told, and the connection is closed so
        that the charger reconnects and registers again."""
        refused = OcppError(ErrorKind.SECURITY_ERROR, "Connection is not registered; reconnect")
        reply = serialize(version.call_error(_unique_id_of(raw), refused))
        if self._commands.say_goodbye(connection_id, reply):
            return None
        return reply

    def _on_call(
        self,
        connection: ConnectionInfo,
        router: Router,
        call: Call,
        received_at: datetime,
        raw: str,
        replied: str | None,
    ) -> str | None:
        """`replied`: the replay cache's entry for this Call's message id."""
        cp = connection.charge_point_id
        if replied is not None:
            logger.info("repeated message id answered from replay cache")
            return replied
        ctx = CallContext(
            charge_point_id=cp,
            tenant_id=connection.tenant_id,
            connection_id=connection.connection_id,
            unique_id=call.unique_id,
            received_at=received_at,
        )
        reply = router.dispatch(ctx, call)
        text = serialize(reply)
        self._log(
            connection,
            [
                exchange(
                    _entry(connection, received_at, "in", call, call.action, raw=raw),
                    _entry(connection, received_at, "out", reply, call.action, raw=text),
                )
            ],
        )
        # Handed on before answering: a charger that gets its reply has had its message
        # logged. If this fails, the charger gets InternalError and retries.
        self._records.flush()
        # Cached last: if anything above failed, a retry runs the (idempotent) work again.
        self._replay.put(cp, call.unique_id, text)
        if _accepted_boot(call, reply) and self._commands.reply_then_dispatch(
            connection.tenant_id, cp, connection.connection_id, text
        ):
            return None  # the reply went out first, then the commands queued meanwhile
        return text

    def _on_answer(
        self,
        connection: ConnectionInfo,
        frame: CallResult | CallError,
        received_at: datetime,
        raw: str,
    ) -> None:
        cp = connection.charge_point_id
        # Whoever takes the entry owns the answer: a duplicate delivery finds it gone.
        request = self._pending.take(cp, frame.unique_id)
        if request is None:
            logger.warning("answer to no pending call", extra={"message_id": frame.unique_id})
        self._log(
            connection,
            [
                _entry(
                    connection,
                    received_at,
                    "in",
                    frame,
                    _action_of(request),
                    raw=raw,
                    matched=request is not None,
                )
            ],
        )
        call = _call_of(request)
        if call is not None:
            self._commands.complete(connection.tenant_id, cp, call, frame)

    def _on_send(
        self,
        connection: ConnectionInfo,
        router: Router,
        send: Send,
        received_at: datetime,
        raw: str,
    ) -> None:
        """OCPP-J 2.1 SEND: processed if valid, logged either way, never answered."""
        ctx = CallContext(
            charge_point_id=connection.charge_point_id,
            tenant_id=connection.tenant_id,
            connection_id=connection.connection_id,
            unique_id=send.unique_id,
            received_at=received_at,
        )
        error = router.dispatch_send(ctx, send)
        extra: dict[str, Any] = {}
        if error is not None:
            # Records the handler buffered before it failed are not kept.
            self._records.discard()
            logger.warning("SEND not processed", extra={"action": send.action,
                                                        "cause": error.description})
            extra = _not_processed(router.version, error)
        self._log(connection, [_entry(connection, received_at, "in", send, send.action,
                                      raw=raw, processed=error is None, **extra)])

    def _on_call_result_error(
        self,
        connection: ConnectionInfo,
        frame: CallResultError,
        received_at: datetime,
        raw: str,
    ) -> None:
        """OCPP-J 2.1 CALLRESULTERROR: the charger could not process the CallResult this
        CSMS sent for its Call `frame.unique_id`. Nothing is to be done but tell the
        operator (a reply of ours broke its schema, most likely); never answered."""
        answered = self._replay.get(connection.charge_point_id, frame.unique_id)
        logger.warning(
            "charger could not process our CallResult",
            extra={"message_id": frame.unique_id, "error_code": frame.error_code,
                   "cause": frame.error_description},
        )
        # The action is in the log entry of the charger's Call (same message_id); the
        # reply it refused is named here when it is still cached.
        extra: dict[str, Any] = {"matched": answered is not None}
        if answered is not None:
            extra["refused_reply"] = answered
        self._log(connection, [_entry(connection, received_at, "in", frame, None, raw=raw,
                                      **extra)])

    def _unreadable_unanswered(
        self,
        connection: ConnectionInfo,
        version: OcppVersion,
        error: UnansweredFrameError,
        received_at: datetime,
        raw: str,
    ) -> None:
        """A malformed SEND or CALLRESULTERROR: logged with why, never answered."""
        logger.warning("malformed frame left unanswered", extra={"cause": error.description})
        entry = {
            "charge_point_id": connection.charge_point_id,
            "connection_id": connection.connection_id,
            "timestamp": received_at,
            "direction": "in",
            "message_type": error.frame_type,
            "message_id": error.unique_id,
            "action": None,
            "payload": {},
            "processed": False,
            **_not_processed(version, error),
        }
        entry["raw"], _ = storable(raw[:_LOGGED_RAW_LIMIT])
        self._log(connection, [entry])
        self._records.flush()

    def _log(self, connection: ConnectionInfo, entries: list[dict[str, Any]]) -> None:
        for entry in entries:
            self._records.message(connection.tenant_id, entry)


def _entry(
    connection: ConnectionInfo,
    at: datetime,
    direction: str,
    frame: AnyFrame,
    action: str | None,
    raw: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One message log document; a Call and its reply share message_id (correlation).
    Whatever the frame holds, the entry is storable (see storable.py)."""
    entry = {
        "charge_point_id": connection.charge_point_id,
        "connection_id": connection.connection_id,
        "timestamp": at,
        "direction": direction,
        "message_type": type(frame).__name__,
        "message_id": frame.unique_id,
        "action": action,
        "payload": _payload_of(frame),
        **extra,
    }
    return storable_entry(entry, raw)


def _malformed_entry(
    connection: ConnectionInfo, at: datetime, reply: CallError, raw: str
) -> dict[str, Any]:
    """The CallError answering a frame that could not be read, with (the start of) that
    frame's text."""
    entry = _entry(connection, at, "out", reply, None)
    entry["raw"], _ = storable(raw[:_LOGGED_RAW_LIMIT])
    return entry


def _not_processed(version: OcppVersion, error: OcppError) -> dict[str, Any]:
    """Why an unanswered frame was not processed, in the words of a CallError."""
    return {
        "error_code": version.error_codes[error.kind],
        "error_description": error.description,
    }


def _accepted_boot(call: Call, reply: Frame) -> bool:
    return (
        call.action == "BootNotification"
        and isinstance(reply, CallResult)
        and reply.payload.get("status") == "Accepted"
    )


def _payload_of(frame: AnyFrame) -> dict[str, Any]:
    if isinstance(frame, CallError | CallResultError):
        return {
            "errorCode": frame.error_code,
            "errorDescription": frame.error_description,
            "errorDetails": frame.error_details,
        }
    return frame.payload


def _call_of(request: str | None) -> Call | None:
    if request is None:
        return None
    try:
        frame = parse_frame(request)
    except FrameError:
        return None
    return frame if isinstance(frame, Call) else None


def _action_of(request: str | None) -> str | None:
    call = _call_of(request)
    return call.action if call else None


def _unique_id_of(raw: str) -> str:
    try:
        return parse_frame(raw).unique_id
    except FrameError as error:
        return error.unique_id
