"""Display messages (OCPP 2.0.1 block O): what a charger shows drivers. Messages are kept
as 2.0.1 MessageInfoType payloads, one per (charger, message id); the charger's own
report (NotifyDisplayMessages) is the truth about what it shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

Payload = dict[str, Any]

@dataclass(frozen=True)
class DisplayMessage:
    charge_point_id: str
    message_id: int
    message: Payload  # MessageInfoType
    updated_at: datetime
    # "set": accepted SetDisplayMessage; "reported": in a NotifyDisplayMessages.
    source: str
    request_id: int | None = None
