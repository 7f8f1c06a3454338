"""Display messages (OCPP 2.0.1 block O): what a charger shows drivers. Messages are kept
as 2.0.1 MessageInfoType payloads, one per (charger, message id); the charger's own
report (NotifyDisplayMessages) is the truth about what it shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

Payload = dict[str, Any]

# GetDisplayMessages criteria: a request without any asks for every message.
_CRITERIA = ("id", "priority", "state")


@dataclass(frozen=True)
class DisplayMessage:
    charge_point_id: str
    message_id: int
    message: Payload  # MessageInfoType
    updated_at: datetime
    # "set": accepted SetDisplayMessage; "reported": in a NotifyDisplayMessages.
    source: str
    request_id: int | None = None


def asks_for_all(request: Payload) -> bool:
    """Whether a GetDisplayMessages request asks for every message: its complete answer
    then lists all the charger shows, and anything else kept here is gone."""
    return not any(request.get(name) for name in _CRITERIA)
