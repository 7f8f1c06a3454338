"""CSMS-initiated commands: an operator's request to a charger and what became of it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class CommandStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    COMPLETED = "completed"
    REJECTED = "rejected"
    FAILED = "failed"
    TIMED_OUT = "timed_out"


FINAL_STATUSES = frozenset(
    {CommandStatus.COMPLETED, CommandStatus.REJECTED, CommandStatus.FAILED, CommandStatus.TIMED_OUT}
)

def _asks_for_some(_: dict[str, Any]) -> bool:
    return False


@dataclass(frozen=True)
class AskedFor:
    """How a version names the command a charger's report or event follows from: the
    command's action and the field of its request the charger's message echoes (a
    requestId, say); and whether a request asked for everything, so that its complete
    report replaces all that is kept. The version plug-ins give these to the services."""

    action: str
    echoed_field: str
    asks_for_everything: Callable[[dict[str, Any]], bool] = _asks_for_some


@dataclass(frozen=True, slots=True)
class Command:
    command_id: str  # also the OCPP message id of the Call, which correlates the answer
    charge_point_id: str
    action: str
    request: dict[str, Any]
    status: CommandStatus
    created_at: datetime
    # Until when a queued command may still be sent, or a sent one be answered.
    expires_at: datetime
    sent_at: datetime | None = None
    completed_at: datetime | None = None
    response: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    # The subprotocol the command speaks (the charger's version when it was submitted).
    ocpp_version: str = "ocpp1.6"
    # A request larger than the charger takes in one message goes out in parts, each a
    # command of its own: the parts name their whole, the whole its parts in order.
    parent_id: str | None = None
    parts: tuple[str, ...] = ()
    # A password push: the hash the registry switches to once the charger accepts the
    # new password. Kept server-side only; never shown, the password itself never stored.
    new_password_hash: str | None = None
    # The transaction a remote start brought about (2.0.1: matched by remoteStartId).
    transaction_id: int | str | None = None

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES

    def expired(self, now: datetime) -> bool:
        return not self.final and now >= self.expires_at


@dataclass(frozen=True, slots=True)
class Taken:
    """What taking a charger's next command gave: the command now outstanding, if any,
    and the one it took over from because that one's answer was overdue, if any."""

    command_id: str | None
    frame: str
    overdue_command_id: str | None = None


# Why commands end without an answer; the API shows these reasons.
CONNECTION_CLOSED = "connection closed before the charger answered"
NO_ANSWER_IN_TIME = "the charge point did not answer in time"
NOT_ONLINE_IN_TIME = "the charge point did not come online in time to receive it"
PARTS_INCOMPLETE = "some parts of the request did not complete"


def outcome_of_result(response: dict[str, Any], agreeing: frozenset[str]) -> CommandStatus:
    """How a charger's CallResult ends a command: completed, or rejected by its status
    (`agreeing`: the statuses the command's OCPP version means "done as asked" by)."""
    status = response.get("status")
    if status is None or status in agreeing:
        return CommandStatus.COMPLETED
    return CommandStatus.REJECTED


class NotConnected(Exception):
    """The charge point has no live connection and the caller did not ask to queue."""


class UnknownCommand(Exception):
    """Not a CSMS-initiated action of the charger's OCPP version."""

    def __init__(self, action: str, version: str = "") -> None:
        super().__init__(action)
        self.action = action
        self.version = version
