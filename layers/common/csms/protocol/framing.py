"""OCPP-J message frames: `[2, id, action, payload]`, `[3, id, payload]`,
`[4, id, code, description, details]`, and OCPP-J 2.1's two frames that are never
answered: CALLRESULTERROR `[5, id, code, description, details]` (the answer to a Call
could not be processed) and SEND `[6, id, action, payload]` (an unconfirmed message)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, overload

from csms.protocol.errors import ErrorKind, FrameError

CALL = 2
CALL_RESULT = 3
CALL_ERROR = 4
# OCPP-J 2.1 only: a version accepts these when it lists them (OcppVersion).
CALL_RESULT_ERROR = 5
SEND = 6

# OCPP-J: "The message ID ... maximum 36 characters" (both 1.6 and 2.0.1).
MAX_UNIQUE_ID_LENGTH = 36


@dataclass(frozen=True, slots=True)
class Call:
    unique_id: str
    action: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CallResult:
    unique_id: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CallError:
    unique_id: str
    error_code: str
    error_description: str = ""
    error_details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CallResultError:
    """The receiver of a CallResult could not process it; `unique_id` is the Call's."""

    unique_id: str
    error_code: str
    error_description: str = ""
    error_details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Send:
    """A message its sender expects no reply to, not even an error."""

    unique_id: str
    action: str
    payload: dict[str, Any]


# The frames of OCPP-J 1.6 and 2.0.1, which every version speaks.
Frame = Call | CallResult | CallError
# The frames a receiver never answers, whatever they hold.
Unanswered = CallResultError | Send
AnyFrame = Frame | Unanswered


class UnansweredFrameError(FrameError):
    """A malformed SEND or CALLRESULTERROR: its sender expects no reply, so the error is
    for the receiver's log only. `frame_type` names the frame it failed to be."""

    def __init__(
        self, frame_type: str, kind: ErrorKind, description: str, unique_id: str = "-1"
    ) -> None:
        super().__init__(kind, description, unique_id)
        self.frame_type = frame_type


@overload
def parse_frame(raw: str | bytes) -> Frame: ...


@overload
def parse_frame(raw: str | bytes, extra_types: frozenset[int]) -> AnyFrame: ...


def parse_frame(raw: str | bytes, extra_types: frozenset[int] = frozenset()) -> AnyFrame:
    """Decode one WebSocket text message into a frame, or raise FrameError.
    `extra_types`: the MessageTypeIds beyond Call, CallResult and CallError that the
    connection's OCPP version takes (CALL_RESULT_ERROR, SEND); others are refused as
    unknown, as OCPP 1.6 and 2.0.1 have it."""
    try:
        message = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FrameError(
            ErrorKind.RPC_FRAMEWORK_ERROR, f"Message is not valid JSON: {exc}"
        ) from None
    except RecursionError:
        # Nested deeper than the parser goes: no id can be trusted, so the reply uses -1.
        raise FrameError(ErrorKind.RPC_FRAMEWORK_ERROR, "Message is nested too deeply") from None
    if not isinstance(message, list) or not message:
        raise FrameError(ErrorKind.RPC_FRAMEWORK_ERROR, "Message must be a non-empty JSON array")
    message_type = message[0]
    unique_id = _unique_id(message)
    if message_type == CALL and type(message_type) is int:
        return _call(message, unique_id)
    if message_type == CALL_RESULT and type(message_type) is int:
        return _call_result(message, unique_id)
    if message_type == CALL_ERROR and type(message_type) is int:
        return _call_error(message, unique_id)
    if type(message_type) is int and message_type in extra_types:
        if message_type == SEND:
            return _send(message, unique_id)
        if message_type == CALL_RESULT_ERROR:
            return _call_result_error(message, unique_id)
    raise FrameError(
        ErrorKind.MESSAGE_TYPE_NOT_SUPPORTED,
        f"Unknown MessageTypeId {message_type!r}",
        unique_id or "-1",
    )


def _unique_id(message: list[Any]) -> str | None:
    if len(message) < 2:
        return None
    unique_id = message[1]
    if isinstance(unique_id, str) and 0 < len(unique_id) <= MAX_UNIQUE_ID_LENGTH:
        return unique_id
    return None


# Raises the FrameError of one frame type: (kind, description, unique_id).
Broken = Callable[..., FrameError]


def _unanswered(frame_type: str) -> Broken:
    def broken(kind: ErrorKind, description: str, unique_id: str = "-1") -> FrameError:
        return UnansweredFrameError(frame_type, kind, description, unique_id)

    return broken


def _require_id(unique_id: str | None, broken: Broken = FrameError) -> str:
    if unique_id is None:
        raise broken(
            ErrorKind.RPC_FRAMEWORK_ERROR,
            f"UniqueId must be a string of 1 to {MAX_UNIQUE_ID_LENGTH} characters",
        )
    return unique_id


def _call(message: list[Any], unique_id: str | None) -> Call:
    uid, action, payload = _request(
        message, unique_id, "Call must be [2, UniqueId, Action, Payload]", FrameError
    )
    return Call(uid, action, payload)


def _send(message: list[Any], unique_id: str | None) -> Send:
    uid, action, payload = _request(
        message, unique_id, "SEND must be [6, MessageId, Action, Payload]", _unanswered("Send")
    )
    return Send(uid, action, payload)


def _request(
    message: list[Any], unique_id: str | None, shape: str, broken: Broken
) -> tuple[str, str, dict[str, Any]]:
    """The id, action and payload of a Call or SEND, checked alike."""
    uid = _require_id(unique_id, broken)
    if len(message) != 4:
        raise broken(ErrorKind.RPC_FRAMEWORK_ERROR, shape, uid)
    _, _, action, payload = message
    if not isinstance(action, str) or not action:
        raise broken(ErrorKind.RPC_FRAMEWORK_ERROR, "Action must be a non-empty string", uid)
    if not isinstance(payload, dict):
        raise broken(ErrorKind.RPC_FRAMEWORK_ERROR, "Payload must be a JSON object", uid)
    return uid, action, payload


def _call_result(message: list[Any], unique_id: str | None) -> CallResult:
    uid = _require_id(unique_id)
    if len(message) != 3 or not isinstance(message[2], dict):
        raise FrameError(
            ErrorKind.RPC_FRAMEWORK_ERROR, "CallResult must be [3, UniqueId, Payload]", uid
        )
    return CallResult(uid, message[2])


def _call_error(message: list[Any], unique_id: str | None) -> CallError:
    uid, code, description, details = _error(
        message, unique_id,
        "CallError must be [4, UniqueId, ErrorCode, ErrorDescription, ErrorDetails]",
        FrameError,
    )
    return CallError(uid, code, description, details)


def _call_result_error(message: list[Any], unique_id: str | None) -> CallResultError:
    uid, code, description, details = _error(
        message, unique_id,
        "CALLRESULTERROR must be [5, MessageId, ErrorCode, ErrorDescription, ErrorDetails]",
        _unanswered("CallResultError"),
    )
    return CallResultError(uid, code, description, details)


def _error(
    message: list[Any], unique_id: str | None, shape: str, broken: Broken
) -> tuple[str, str, str, dict[str, Any]]:
    """The id, code, description and details of a CallError or CALLRESULTERROR."""
    uid = _require_id(unique_id, broken)
    if (
        len(message) != 5
        or not isinstance(message[2], str)
        or not isinstance(message[3], str)
        or not isinstance(message[4], dict)
    ):
        raise broken(ErrorKind.RPC_FRAMEWORK_ERROR, shape, uid)
    return uid, message[2], message[3], message[4]


def serialize(frame: AnyFrame) -> str:
    body: list[Any]
    if isinstance(frame, Call | Send):
        kind = CALL if isinstance(frame, Call) else SEND
        body = [kind, frame.unique_id, frame.action, frame.payload]
    elif isinstance(frame, CallResult):
        body = [CALL_RESULT, frame.unique_id, frame.payload]
    else:
        kind = CALL_ERROR if isinstance(frame, CallError) else CALL_RESULT_ERROR
        body = [
            kind,
            frame.unique_id,
            frame.error_code,
            frame.error_description,
            frame.error_details,
        ]
    # ASCII with \u escapes: whatever a charger put in its message id (a lone surrogate,
    # say) comes back as valid UTF-8 on the wire.
    return json.dumps(body, separators=(",", ":"), ensure_ascii=True)
