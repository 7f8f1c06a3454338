"""Route a Call to its `on_<action>` handler, validating both directions; and a SEND
(OCPP-J 2.1) to its handler, validated, with no answer at all."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from csms.protocol.errors import ErrorKind, OcppError
from csms.protocol.framing import Call, CallError, CallResult, Send
from csms.protocol.schemas import SchemaSet

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CallContext:
    """Who sent the Call, as the connection registry knows it."""

    charge_point_id: str
    tenant_id: str
    connection_id: str
    unique_id: str
    received_at: datetime


Handler = Callable[[CallContext, dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class OcppVersion:
    """What differs between OCPP versions at the framing level."""

    subprotocol: str
    schema_dir: str
    error_codes: Mapping[ErrorKind, str]
    charger_initiated: frozenset[str]
    csms_initiated: frozenset[str]
    # The MessageTypeIds its OCPP-J adds to Call, CallResult and CallError (2.1: SEND and
    # CALLRESULTERROR); a version that lists none answers them as unknown.
    extra_message_types: frozenset[int] = frozenset()
    # The actions the charger sends as SEND frames, which are never answered.
    charger_sends: frozenset[str] = frozenset()

    def call_error(self, unique_id: str, error: OcppError) -> CallError:
        return CallError(unique_id, self.error_codes[error.kind], error.description, error.details)


class Router:
    def __init__(
        self, version: OcppVersion, schemas: SchemaSet, handlers: Mapping[str, Handler]
    ) -> None:
        self.version = version
        self._schemas = schemas
        self._handlers = handlers

    def dispatch(self, ctx: CallContext, call: Call) -> CallResult | CallError:
        try:
            handler = self._handler_for(call.action)
            self._schemas.validate_request(call.action, call.payload)
            response = handler(ctx, call.payload)
        except OcppError as error:
            return self.version.call_error(call.unique_id, error)
        except Exception:
            logger.exception("handler failed", extra={"action": call.action})
            return self.version.call_error(
                call.unique_id,
                OcppError(ErrorKind.INTERNAL_ERROR, f"{call.action} could not be processed"),
            )
        try:
            self._schemas.validate_response(call.action, response)
        except OcppError as error:
            # Our own reply breaks the schema: a bug here, never the charger's fault.
            logger.error("invalid response", extra={"action": call.action, "cause": str(error)})
            return self.version.call_error(
                call.unique_id,
                OcppError(ErrorKind.INTERNAL_ERROR, f"{call.action} response failed validation"),
            )
        return CallResult(call.unique_id, response)

    def dispatch_send(self, ctx: CallContext, send: Send) -> OcppError | None:
        """Run a SEND's handler. A SEND is never answered, so what kept it from being
        processed is returned for the message log rather than turned into a CallError."""
        handler = self._handlers.get(send.action)
        if send.action not in self.version.charger_sends or handler is None:
            return OcppError(ErrorKind.NOT_IMPLEMENTED, f"Unknown SEND action {send.action!r}")
        try:
            self._schemas.validate_request(send.action, send.payload)
            handler(ctx, send.payload)
        except OcppError as error:
            return error
        except Exception:
            logger.exception("handler failed", extra={"action": send.action})
            return OcppError(ErrorKind.INTERNAL_ERROR, f"{send.action} could not be processed")
        return None

    def _handler_for(self, action: str) -> Handler:
        if action in self.version.csms_initiated and action not in self.version.charger_initiated:
            raise OcppError(
                ErrorKind.NOT_SUPPORTED, f"{action} is sent by the Central System, not to it"
            )
        handler = self._handlers.get(action)
        # A SEND-only action's handler is among the handlers, but takes no Call.
        if action not in self.version.charger_initiated or handler is None:
            raise OcppError(ErrorKind.NOT_IMPLEMENTED, f"Unknown action {action!r}")
        return handler
