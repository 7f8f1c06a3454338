"""CallError kinds, independent of the OCPP version that names them on the wire."""

from __future__ import annotations

from enum import Enum
from typing import Any


class ErrorKind(Enum):
    """What went wrong; each OCPP version maps a kind to its own error code string."""

    # The frame is no valid RPC message (not JSON, not an array of the right shape, no
    # readable id): 1.6 says FormationViolation, 2.x RpcFrameworkError.
    RPC_FRAMEWORK_ERROR = "rpc_framework_error"
    # The payload is syntactically wrong for its action (say, an unknown field).
    FORMAT_VIOLATION = "format_violation"
    PROTOCOL_ERROR = "protocol_error"
    TYPE_CONSTRAINT_VIOLATION = "type_constraint_violation"
    PROPERTY_CONSTRAINT_VIOLATION = "property_constraint_violation"
    OCCURRENCE_CONSTRAINT_VIOLATION = "occurrence_constraint_violation"
    MESSAGE_TYPE_NOT_SUPPORTED = "message_type_not_supported"
    NOT_IMPLEMENTED = "not_implemented"
    NOT_SUPPORTED = "not_supported"
    SECURITY_ERROR = "security_error"
    INTERNAL_ERROR = "internal_error"
    GENERIC_ERROR = "generic_error"


class OcppError(Exception):
    """Raised anywhere below the router; becomes a CallError frame for the charger."""

    def __init__(
        self, kind: ErrorKind, description: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.kind = kind
        # OCPP-J limits nothing here, but chargers have small buffers: keep it short.
        self.description = description[:255]
        self.details = details or {}


class FrameError(OcppError):
    """The frame itself is broken; unique_id is "-1" when it could not be read."""

    def __init__(self, kind: ErrorKind, description: str, unique_id: str = "-1") -> None:
        super().__init__(kind, description)
        self.unique_id = unique_id
