"""JSON-schema validation of OCPP payloads with the schemas the `ocpp` package ships.

The schemas are read as files (the `ocpp` package is never imported: that would cost cold
start) and compiled with fastjsonschema on first use of each action, which validates an
order of magnitude faster than jsonschema's Draft4 validator.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fastjsonschema

from csms.protocol.errors import ErrorKind, OcppError

Validator = Callable[[Any], Any]

# How a failed schema keyword maps onto OCPP-J's CallError codes. String length and
# date-time format are part of OCPP's data types (CiString20Type, dateTime), so they are
# type violations; enumerations and numeric bounds are property constraints.
_KIND_BY_RULE: dict[str, ErrorKind] = {
    "type": ErrorKind.TYPE_CONSTRAINT_VIOLATION,
    "maxLength": ErrorKind.TYPE_CONSTRAINT_VIOLATION,
    "format": ErrorKind.TYPE_CONSTRAINT_VIOLATION,
    "required": ErrorKind.OCCURRENCE_CONSTRAINT_VIOLATION,
    "minItems": ErrorKind.OCCURRENCE_CONSTRAINT_VIOLATION,
    "maxItems": ErrorKind.OCCURRENCE_CONSTRAINT_VIOLATION,
    "enum": ErrorKind.PROPERTY_CONSTRAINT_VIOLATION,
    "const": ErrorKind.PROPERTY_CONSTRAINT_VIOLATION,
    "minimum": ErrorKind.PROPERTY_CONSTRAINT_VIOLATION,
    "maximum": ErrorKind.PROPERTY_CONSTRAINT_VIOLATION,
    "exclusiveMinimum": ErrorKind.PROPERTY_CONSTRAINT_VIOLATION,
    "exclusiveMaximum": ErrorKind.PROPERTY_CONSTRAINT_VIOLATION,
    "minLength": ErrorKind.PROPERTY_CONSTRAINT_VIOLATION,
    "pattern": ErrorKind.PROPERTY_CONSTRAINT_VIOLATION,
    "multipleOf": ErrorKind.PROPERTY_CONSTRAINT_VIOLATION,
    "additionalProperties": ErrorKind.FORMAT_VIOLATION,
}


# OCPP's integer is 32-bit signed (1.6 and 2.0.1 alike); the JSON schemas leave it open.
INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1


def _bound_integers(schema: Any) -> Any:
    """The schema with every integer limited to 32 bits where it sets no tighter bound."""
    if isinstance(schema, dict):
        bounded = {key: _bound_integers(value) for key, value in schema.items()}
        types = schema.get("type")
        if types == "integer" or (isinstance(types, list) and "integer" in types):
            bounded.setdefault("minimum", INT32_MIN)
            bounded.setdefault("maximum", INT32_MAX)
        return bounded
    if isinstance(schema, list):
        return [_bound_integers(item) for item in schema]
    return schema


def _is_int32_bound(exc: fastjsonschema.JsonSchemaValueException) -> bool:
    definition = exc.definition if isinstance(exc.definition, dict) else {}
    bound = definition.get(str(exc.rule))
    return bound in (INT32_MIN, INT32_MAX) and definition.get("type") == "integer"


def ocpp_schema_dir(version_dir: str) -> Path:
    spec = importlib.util.find_spec("ocpp")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the `ocpp` package (which ships the OCPP JSON schemas) is missing")
    return Path(next(iter(spec.submodule_search_locations))) / version_dir / "schemas"


class SchemaSet:
    """Request and response validators of one OCPP version, compiled on demand."""

    def __init__(self, directory: Path, request_suffix: str = "") -> None:
        self._directory = directory
        # 1.6 names request schemas `<Action>.json`, 2.x `<Action>Request.json`.
        self._request_suffix = request_suffix
        self._validators: dict[str, Validator] = {}

    def validate_request(self, action: str, payload: dict[str, Any]) -> None:
        self._validate(action + self._request_suffix, payload)

    def validate_response(self, action: str, payload: dict[str, Any]) -> None:
        self._validate(action + "Response", payload)

    def _validate(self, name: str, payload: dict[str, Any]) -> None:
        validator = self._validators.get(name) or self._compile(name)
        try:
            validator(payload)
        except fastjsonschema.JsonSchemaValueException as exc:
            kind = _KIND_BY_RULE.get(str(exc.rule), ErrorKind.FORMAT_VIOLATION)
            field = (exc.name or "data").removeprefix("data").lstrip(".") or "payload"
            if _is_int32_bound(exc):
                # Beyond OCPP's integer type, not a value the field's rules refuse.
                description = f"{field}: must be a 32-bit integer"
                raise OcppError(
                    ErrorKind.TYPE_CONSTRAINT_VIOLATION, description, {"field": field}
                ) from None
            raise OcppError(kind, f"{field}: {_describe(exc)}", {"field": field}) from None

    def _compile(self, name: str) -> Validator:
        path = self._directory / f"{name}.json"
        try:
            schema = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise OcppError(ErrorKind.NOT_SUPPORTED, f"No schema for {name}") from None
        validator: Validator = fastjsonschema.compile(
            _bound_integers(schema), use_default=False
        )
        self._validators[name] = validator
        return validator


def _describe(exc: fastjsonschema.JsonSchemaValueException) -> str:
    # fastjsonschema phrases messages as "data.x must be ..."; keep only the predicate.
    message = str(exc.message)
    marker = " must "
    return "must " + message.split(marker, 1)[1] if marker in message else message
