"""2.1's schema files, as the router and the commands look them up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from csms.protocol.schemas import SchemaSet
from csms.versions.v21 import CHARGER_SENDS


class Schemas21(SchemaSet):
    """`<Action>Request.json` for a Call, but `<Action>.json` for a SEND (OCPP-J 2.1),
    which has no request and response pair."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory, request_suffix="Request")
        self._sent = SchemaSet(directory)

    def validate_request(self, action: str, payload: dict[str, Any]) -> None:
        if action in CHARGER_SENDS:
            self._sent.validate_request(action, payload)
        else:
            super().validate_request(action, payload)
