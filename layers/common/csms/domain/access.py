"""Who may do what through the tenant API."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    PLATFORM_ADMIN = "platform-admin"  # runs the platform: tenants, never their data
    ADMIN = "admin"  # a tenant's administrator: charge points, id tags, commands
    OPERATOR = "operator"  # runs the fleet day to day: may command chargers
    VIEWER = "viewer"  # read only


class Permission(StrEnum):
    MANAGE_TENANTS = "manage_tenants"
    READ = "read"
    COMMAND = "command"
    MANAGE_FLEET = "manage_fleet"


_GRANTS: dict[Role, frozenset[Permission]] = {
    Role.PLATFORM_ADMIN: frozenset({Permission.MANAGE_TENANTS}),
    Role.ADMIN: frozenset({Permission.READ, Permission.COMMAND, Permission.MANAGE_FLEET}),
    Role.OPERATOR: frozenset({Permission.READ, Permission.COMMAND}),
    Role.VIEWER: frozenset({Permission.READ}),
}


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller, as its validated token says."""

    subject: str
    role: Role
    tenant_id: str | None  # None only for the platform administrator

    def may(self, permission: Permission) -> bool:
        return permission in _GRANTS[self.role]


class Unauthenticated(Exception):
    """No token, or one that fails validation (HTTP 401)."""


class Forbidden(Exception):
    """A valid token whose role or tenant does not allow the request (HTTP 403)."""
