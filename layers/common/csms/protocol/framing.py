"""OCPP-J message frames: `[2, id, action, payload]`, `[3, id, payload]`,
`[4, id, code, description, details]`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from csms.protocol.errors import ErrorKind, FrameError

CALL = 2
CALL_RESULT = 3
CALL_ERROR = 4

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


Frame = Call | CallResult | CallError


def parse_frame(raw: str | bytes) -> Frame:
    """Decode one WebSocket text message into a frame, or raise FrameError."""
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


def _require_id(unique_id: str | None) -> str:
    if unique_id is None:
        raise FrameError(
            ErrorKind.RPC_FRAMEWORK_ERROR,
            f"UniqueId must be a string of 1 to {MAX_UNIQUE_ID_LENGTH} characters",
        )
    return unique_id


def _call(message: list[Any], unique_id: str | None) -> Call:
    uid = _require_id(unique_id)
    if len(message) != 4:
        raise FrameError(
            ErrorKind.RPC_FRAMEWORK_ERROR, "Call must be [2, UniqueId, Action, Payload]", uid
        )
    _, _, action, payload = message
    if not isinstance(action, str) or not action:
        raise FrameError(ErrorKind.RPC_FRAMEWORK_ERROR, "Action must be a non-empty string", uid)
    if not isinstance(payload, dict):
        raise FrameError(ErrorKind.RPC_FRAMEWORK_ERROR, "Payload must be a JSON object", uid)
    return Call(uid, action, payload)


def _call_result(message: list[Any], unique_id: str | None) -> CallResult:
    uid = _require_id(unique_id)
    if len(message) != 3 or not isinstance(message[2], dict):
        raise FrameError(
            ErrorKind.RPC_FRAMEWORK_ERROR, "CallResult must be [3, UniqueId, Payload]", uid
        )
    return CallResult(uid, message[2])


def _call_error(message: list[Any], unique_id: str | None) -> CallError:
    uid = _require_id(unique_id)
    if (
        len(message) != 5
        or not isinstance(message[2], str)
        or not isinstance(message[3], str)
        or not isinstance(message[4], dict)
    ):
        raise FrameError(
            ErrorKind.RPC_FRAMEWORK_ERROR,
            "CallError must be [4, UniqueId, ErrorCode, ErrorDescription, ErrorDetails]",
            uid,
        )
    return CallError(uid, message[2], message[3], message[4])


def serialize(frame: Frame) -> str:
    if isinstance(frame, Call):
        body: list[Any] = [CALL, frame.unique_id, frame.action, frame.payload]
    elif isinstance(frame, CallResult):
        body = [CALL_RESULT, frame.unique_id, frame.payload]
    else:
        body = [
            CALL_ERROR,
            frame.unique_id,
            frame.error_code,
            frame.error_description,
            frame.error_details,
        ]
    # ASCII with \u escapes: whatever a charger put in its message id (a lone surrogate,
    # say) comes back as valid UTF-8 on the wire.
    return json.dumps(body, separators=(",", ":"), ensure_ascii=True)
