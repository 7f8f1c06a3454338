"""$connect and $disconnect: who may connect, and the shared record of who is connected."""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from csms.domain.credentials import credential_tag, verify_password
from csms.domain.model import (
    ConnectionInfo,
    ConnectionStatus,
    RegisteredChargePoint,
    SessionChange,
    Tenant,
)
from csms.ports import (
    ConnectionGateway,
    ConnectionRegistry,
    Directory,
    RuntimeRecords,
    TenantStore,
    VerifiedCredentials,
)
from csms.services.commands import CommandService

logger = logging.getLogger(__name__)

# How long a $connect container trusts the tenant it read: a reconnect storm is thousands
# of chargers of a few tenants, and each read is a database round trip on the handshake's
# path. Suspending a tenant refuses its chargers' new connections this much later at most;
# the charge point itself (password, enabled) is read on every connect.
TENANT_CACHE_TTL = timedelta(seconds=10)

# OCPP 1.6 chargeBoxIdentity is a CiString of at most 48 characters; it appears in the URL
# path, so only URL-safe unreserved characters are accepted.
_CHARGE_POINT_ID = re.compile(r"^[A-Za-z0-9._~:-]{1,48}$")


@dataclass(frozen=True)
class ConnectRequest:
    connection_id: str
    charge_point_id: str | None
    authorization: str | None
    offered_subprotocols: tuple[str, ...]
    source_ip: str | None
    management_endpoint: str | None = None


@dataclass(frozen=True)
class ConnectDecision:
    status_code: int
    subprotocol: str | None = None
    reason: str = ""

    @property
    def accepted(self) -> bool:
        return self.status_code == 200


def parse_subprotocols(header: str | None) -> tuple[str, ...]:
    if not header:
        return ()
    return tuple(p.strip() for p in header.split(",") if p.strip())


def parse_basic_auth(header: str | None) -> tuple[str, str] | None:
    if not header or header[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else None


class ConnectService:
    def __init__(
        self,
        directory: Directory,
        registry: ConnectionRegistry,
        store: TenantStore,
        gateway: Callable[[str | None], ConnectionGateway],
        supported_subprotocols: Iterable[str],
        clock: Callable[[], datetime],
        records: RuntimeRecords,
        commands: CommandService,
        verified: VerifiedCredentials | None = None,
        credential_key: bytes | None = None,
    ) -> None:
        # Both or neither: without a key, every login gets the full scrypt check.
        self._verified = verified if credential_key else None
        self._credential_key = credential_key or b""
        self._commands = commands
        self._records = records
        self._directory = directory
        self._registry = registry
        self._store = store
        # Built on demand: only a reconnect needs the management API (and boto3).
        self._gateway = gateway
        self._supported = tuple(supported_subprotocols)
        self._clock = clock
        self._tenants: dict[str, tuple[datetime, Tenant | None]] = {}

    def connect(self, request: ConnectRequest) -> ConnectDecision:
        cp_id = request.charge_point_id
        if not cp_id or not _CHARGE_POINT_ID.match(cp_id):
            return ConnectDecision(404, reason="unknown charge point path")
        # The client lists what it speaks in order of preference; take its first we know.
        subprotocol = next((p for p in request.offered_subprotocols if p in self._supported), None)
        if subprotocol is None:
            return ConnectDecision(400, reason="no supported OCPP subprotocol offered")
        registered = self._authenticated(cp_id, request.authorization)
        if registered is None:
            return ConnectDecision(401, reason="authentication failed")
        now = self._clock()
        connection = ConnectionInfo(
            request.connection_id, cp_id, registered.tenant_id, subprotocol, now
        )
        if registered.ocpp_version != subprotocol:
            # Commands queued while it is offline will speak the version it speaks now.
            self._directory.update_charge_point(cp_id, {"ocpp_version": subprotocol})
        replaced = self._registry.register(connection)
        if replaced and replaced != request.connection_id:
            # A charger that reconnects has given up on its old connection, and on any
            # command in flight there: end it now, so the queue moves on.
            self._commands.release_connection(registered.tenant_id, cp_id, replaced)
            self._close_quietly(replaced, request.management_endpoint)
        self._records.session(
            registered.tenant_id,
            cp_id,
            SessionChange(
                request.connection_id,
                {
                    "charge_point_id": cp_id,
                    "subprotocol": subprotocol,
                    "connected_at": now,
                    "source_ip": request.source_ip,
                    "disconnected_at": None,
                },
            ),
        )
        self._records.connection(registered.tenant_id, cp_id, ConnectionStatus.CONNECTED, now)
        self._records.flush()
        return ConnectDecision(200, subprotocol=subprotocol)

    def _authenticated(self, cp_id: str, authorization: str | None) -> RegisteredChargePoint | None:
        """The registry entry when the credentials are right and the charge point may connect."""
        credentials = parse_basic_auth(authorization)
        registered = self._directory.get_charge_point(cp_id)
        stored = registered.password_hash if registered else None
        password = credentials[1] if credentials else ""
        valid = self._verified_lately(cp_id, password, stored)
        if not valid:
            # Hash even when the outcome is already known: same time for every refusal.
            valid = verify_password(password, stored)
            if valid and stored is not None and self._verified is not None:
                self._verified.put(cp_id, self._tag(cp_id, password, stored))
        if credentials is None or credentials[0] != cp_id or not valid or registered is None:
            return None
        if not registered.enabled:
            return None
        tenant = self._tenant(registered.tenant_id)
        return registered if tenant is not None and tenant.active else None

    def _tenant(self, tenant_id: str) -> Tenant | None:
        now = self._clock()
        cached = self._tenants.get(tenant_id)
        if cached is not None and now - cached[0] < TENANT_CACHE_TTL:
            return cached[1]
        tenant = self._directory.get_tenant(tenant_id)
        self._tenants[tenant_id] = (now, tenant)
        return tenant

    def _verified_lately(self, cp_id: str, password: str, stored: str | None) -> bool:
        """A reconnect storm costs one keyed hash per charger, not a scrypt check: the
        same charger, password and stored hash passed the full check not long ago."""
        if self._verified is None or stored is None:
            return False
        cached = self._verified.get(cp_id)
        return cached is not None and hmac.compare_digest(
            cached, self._tag(cp_id, password, stored)
        )

    def _tag(self, cp_id: str, password: str, stored: str) -> str:
        return credential_tag(self._credential_key, cp_id, password, stored)

    def _close_quietly(self, connection_id: str, endpoint: str | None) -> None:
        try:
            self._gateway(endpoint).close(connection_id)
        except Exception:
            logger.warning("could not close replaced connection", exc_info=True)

    def disconnect(self, connection_id: str, status_code: int | None, reason: str | None) -> None:
        connection = self._registry.lookup(connection_id)
        if connection is None:
            return
        still_current = self._registry.unregister(connection)
        self._commands.release_connection(
            connection.tenant_id, connection.charge_point_id, connection_id
        )
        now = self._clock()
        self._records.session(
            connection.tenant_id,
            connection.charge_point_id,
            SessionChange(
                connection_id,
                {"disconnected_at": now, "close_code": status_code, "close_reason": reason},
            ),
        )
        if still_current:
            # Otherwise a reconnect already replaced this connection: still online.
            self._records.connection(
                connection.tenant_id,
                connection.charge_point_id,
                ConnectionStatus.DISCONNECTED,
                now,
            )
        self._records.flush()
