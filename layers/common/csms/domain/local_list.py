"""The local authorization list (OCPP 2.0.1 block D): a charger's copy of the tenant's id
tokens, versioned. An entry names a token (`id_token`, `id_token_type`) and what the
charger is to make of it (`status`, and `expires_at`, `group_id_token` when set); an
entry of a differential update without a status removes the token from the list (D01).
The version plug-ins word entries for the wire."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from csms.domain.model import AuthorizationStatus, IdTag

Payload = dict[str, Any]

FULL = "Full"
DIFFERENTIAL = "Differential"
# The type a token gets on the list when the tenant left it open ("any type matches" at
# the CSMS): a charger matches list entries by idToken and type, and RFID cards are what
# drivers present offline.
DEFAULT_TOKEN_TYPE = "ISO14443"


@dataclass(frozen=True)
class LocalList:
    """What the CSMS knows of one charger's list: the version and entries of its accepted
    updates, and the version the charger itself stated last (accepting an update, or
    answering GetLocalListVersion)."""

    charge_point_id: str
    version: int = 0
    entries: Mapping[str, Payload] = field(default_factory=dict)
    updated_at: datetime | None = None
    reported_version: int | None = None
    reported_at: datetime | None = None

    @property
    def in_sync(self) -> bool | None:
        """Whether the charger's reported version is the one the CSMS sent; None until
        it reported one."""
        return None if self.reported_version is None else self.reported_version == self.version


def entry_key(entry: Payload) -> str:
    return f"{entry['id_token_type']}|{entry['id_token']}"


def list_entry(tag: IdTag, now: datetime) -> Payload:
    """A tenant id token as a list entry; an expired one is listed Expired, so a charger
    offline refuses it as the CSMS would online."""
    status = tag.status
    if status is AuthorizationStatus.ACCEPTED and tag.expiry_date and tag.expiry_date <= now:
        status = AuthorizationStatus.EXPIRED
    entry: Payload = {"id_token": tag.id_tag,
                      "id_token_type": tag.id_token_type or DEFAULT_TOKEN_TYPE,
                      "status": status.value}
    if tag.expiry_date is not None:
        # Kept as text: entries are compared whole, and stored ones come back as stored.
        entry["expires_at"] = tag.expiry_date.isoformat().replace("+00:00", "Z")
    if tag.group_id_token is not None:
        entry["group_id_token"] = tag.group_id_token
    return entry


def removal(entry: Payload) -> Payload:
    """The differential entry that takes `entry`'s token off the list."""
    return {"id_token": entry["id_token"], "id_token_type": entry["id_token_type"]}


def desired_entries(tags: Iterable[IdTag], now: datetime) -> dict[str, Payload]:
    entries = (list_entry(tag, now) for tag in tags)
    return {entry_key(entry): entry for entry in entries}


def applied(current: Mapping[str, Payload], full: bool, entries: Sequence[Payload]
            ) -> dict[str, Payload]:
    """The list after an accepted update: a Full one replaces it, a Differential one
    adds or replaces the entries with a status and removes those without."""
    result: dict[str, Payload] = {} if full else dict(current)
    for entry in entries:
        key = entry_key(entry)
        if "status" in entry:
            result[key] = entry
        else:
            result.pop(key, None)
    return result


def difference(known: Mapping[str, Payload], desired: Mapping[str, Payload]) -> list[Payload]:
    """The Differential entries that turn `known` into `desired`: new and changed entries
    in full, removed ones as their idToken alone."""
    changed = [entry for key, entry in sorted(desired.items()) if known.get(key) != entry]
    removed = [removal(known[key]) for key in sorted(known) if key not in desired]
    return changed + removed


def next_version(current: LocalList | None) -> int:
    """A version above both what the CSMS sent and what the charger reported (a charger
    whose list someone else changed may be ahead)."""
    if current is None:
        return 1
    return max(current.version, current.reported_version or 0) + 1
