"""The documented JSON schemas of the MQTT events (docs/events), for tests to check
published events against."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import fastjsonschema

SCHEMAS = Path(__file__).resolve().parents[1] / "docs" / "events"


@cache
def _validator(event_type: str):
    schema = json.loads((SCHEMAS / f"{event_type}.schema.json").read_text())
    return fastjsonschema.compile(schema)


def validate_event(event: dict[str, Any]) -> None:
    """Raises fastjsonschema.JsonSchemaException unless the event matches its schema."""
    _validator(event["type"])(event)
