"""OCPP 2.0.1 id tokens (part 2, C): typed tokens, groups and the master pass."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from csms.domain.model import AuthorizationStatus, IdTag, authorize

# IdTokenEnumType
ID_TOKEN_TYPES = frozenset(
    {"Central", "eMAID", "ISO14443", "ISO15693", "KeyCode", "Local", "MacAddress",
     "NoAuthorization"}
)
NO_AUTHORIZATION = "NoAuthorization"


@dataclass(frozen=True, slots=True)
class IdToken:
    """What a charger presented: the token's text and its type."""

    id_token: str
    type: str


@dataclass(frozen=True, slots=True)
class IdTokenInfo:
    """The CSMS's verdict on an id token (IdTokenInfoType)."""

    status: AuthorizationStatus
    cache_expiry: datetime | None = None
    group_id_token: str | None = None
    master_pass: bool = False


def token_info(
    presented: IdToken, stored: IdTag | None, now: datetime, master_pass_group: str | None
) -> IdTokenInfo:
    """Authorization of a presented token: unknown tokens, and tokens stored with another
    type, are Invalid; NoAuthorization needs no stored token (its idToken is empty)."""
    if presented.type == NO_AUTHORIZATION:
        return IdTokenInfo(AuthorizationStatus.ACCEPTED)
    if stored is not None and stored.id_token_type not in (None, presented.type):
        stored = None
    info = authorize(stored, now)
    group = None if stored is None else (stored.group_id_token or stored.parent_id_tag)
    master = (
        info.status is AuthorizationStatus.ACCEPTED
        and master_pass_group is not None
        and group == master_pass_group
    )
    return IdTokenInfo(info.status, info.expiry_date, group, master)


def may_start(info: IdTokenInfo) -> IdTokenInfo:
    """C16: a master pass may stop any transaction but never start one."""
    if info.master_pass:
        return IdTokenInfo(AuthorizationStatus.INVALID, info.cache_expiry, info.group_id_token,
                           master_pass=True)
    return info
