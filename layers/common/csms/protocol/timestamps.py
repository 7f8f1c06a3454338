"""OCPP dateTime values: ISO 8601 in, UTC with millisecond precision out."""

from __future__ import annotations

from datetime import UTC, datetime

from csms.protocol.errors import ErrorKind, OcppError


def parse_timestamp(text: str, field: str = "timestamp") -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise OcppError(
            ErrorKind.TYPE_CONSTRAINT_VIOLATION, f"{field}: must be an ISO 8601 dateTime"
        ) from None
    if value.tzinfo is None:
        # OCPP asks for UTC; a charger that omits the offset almost always means UTC.
        value = value.replace(tzinfo=UTC)
    # MongoDB keeps milliseconds; truncating here makes stored and fresh values compare equal.
    return value.astimezone(UTC).replace(microsecond=value.microsecond // 1000 * 1000)


def format_timestamp(value: datetime) -> str:
    # isoformat is several times cheaper than strftime, and this runs per record.
    return value.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"
