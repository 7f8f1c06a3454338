"""csms-admin: manage tenants, charge points, id tags and API tokens in the configured MongoDB.

Reads MONGODB_URI (default: the local stack). Prints JSON, so scripts and tests can read it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from csms.adapters.mongo import MongoDirectory, MongoTenantStore, connect
from csms.config import Settings
from csms.domain.credentials import WeakPassword, generate_password, hash_password
from csms.domain.id_tokens import ID_TOKEN_TYPES
from csms.domain.model import (
    DEFAULT_CONCURRENT_TX_WINDOW_MINUTES,
    AuthorizationStatus,
    ConcurrentTransactions,
    IdTag,
    RegisteredChargePoint,
    Tenant,
)

ROLES = ("platform-admin", "admin", "operator", "viewer")


class AdminError(Exception):
    pass


class Admin:
    def __init__(self, mongodb_uri: str) -> None:
        self._client = connect(mongodb_uri)
        self.directory = MongoDirectory(self._client)
        self.tenants = MongoTenantStore(self._client)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Admin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def create_tenant(
        self,
        tenant_id: str,
        name: str,
        concurrent_transactions: ConcurrentTransactions = ConcurrentTransactions.ALLOW,
        concurrent_tx_window_minutes: int = DEFAULT_CONCURRENT_TX_WINDOW_MINUTES,
    ) -> dict[str, Any]:
        if self.directory.get_tenant(tenant_id) is not None:
            raise AdminError(f"tenant {tenant_id!r} exists")
        if concurrent_tx_window_minutes < 1:
            raise AdminError("--concurrent-tx-window-minutes must be at least 1")
        tenant = Tenant(
            tenant_id,
            name,
            concurrent_transactions=concurrent_transactions,
            concurrent_tx_window_minutes=concurrent_tx_window_minutes,
        )
        try:
            self.directory.create_tenant(tenant)
        except ValueError as exc:
            raise AdminError(str(exc)) from None
        self.directory.ensure_indexes()
        self.tenants.for_tenant(tenant_id).ensure_indexes()
        return {"tenant_id": tenant_id, "name": name}

    def add_charge_point(self, tenant_id: str, cp_id: str, password: str | None) -> dict[str, Any]:
        if self.directory.get_tenant(tenant_id) is None:
            raise AdminError(f"no tenant {tenant_id!r}")
        if self.directory.get_charge_point(cp_id) is not None:
            raise AdminError(f"charge point {cp_id!r} is registered already")
        password = password or generate_password()
        self.directory.add_charge_point(RegisteredChargePoint(cp_id, tenant_id, _hash(password)))
        return {"tenant_id": tenant_id, "charge_point_id": cp_id, "password": password}

    def set_enabled(self, cp_id: str, enabled: bool) -> dict[str, Any]:
        if not self.directory.set_charge_point_enabled(cp_id, enabled):
            raise AdminError(f"no charge point {cp_id!r}")
        return {"charge_point_id": cp_id, "enabled": enabled}

    def set_password(self, cp_id: str, password: str | None) -> dict[str, Any]:
        password = password or generate_password()
        if not self.directory.set_charge_point_password(cp_id, _hash(password)):
            raise AdminError(f"no charge point {cp_id!r}")
        return {"charge_point_id": cp_id, "password": password}

    def add_id_tag(
        self,
        tenant_id: str,
        id_tag: str,
        status: str,
        expiry: datetime | None,
        parent: str | None,
        token_type: str | None = None,
        group: str | None = None,
    ) -> dict[str, Any]:
        if self.directory.get_tenant(tenant_id) is None:
            raise AdminError(f"no tenant {tenant_id!r}")
        if len(id_tag) > 36:
            raise AdminError("id tokens are at most 36 characters (OCPP 1.6 id tags 20)")
        tag = IdTag(id_tag, AuthorizationStatus(status), expiry, parent, token_type, group)
        self.tenants.for_tenant(tenant_id).id_tags.put(tag)
        return {
            "tenant_id": tenant_id,
            "id_tag": id_tag,
            "status": status,
            "expiry_date": expiry.isoformat() if expiry else None,
            "parent_id_tag": parent,
            "id_token_type": token_type,
            "group_id_token": group,
        }

    def migrate(self) -> dict[str, Any]:
        self.directory.ensure_indexes()
        tenant_ids = self.directory.tenant_ids()
        for tenant_id in tenant_ids:
            self.tenants.for_tenant(tenant_id).ensure_indexes()
        return {"tenants": tenant_ids}


def _hash(password: str) -> str:
    try:
        return hash_password(password)
    except WeakPassword as exc:
        raise AdminError(str(exc)) from None


def jwt_secret() -> str:
    secret = os.environ.get("JWT_SECRET")
    local_file = Path(os.environ.get("LOCAL_DATA_DIR", ".local")) / "jwt-secret"
    if not secret and local_file.exists():
        secret = local_file.read_text().strip()
    if not secret and os.environ.get("JWT_SECRET_ARN"):
        # As the tenant API reads it; the local AWS through localstack-client.
        from csms_local import aws_local

        client = aws_local.client("secretsmanager", region_name=_region())
        secret = client.get_secret_value(SecretId=os.environ["JWT_SECRET_ARN"])["SecretString"]
    if not secret:
        raise AdminError(
            "set JWT_SECRET or JWT_SECRET_ARN (the local stack writes .local/jwt-secret)"
        )
    return secret


def _region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def issue_token(tenant_id: str | None, role: str, ttl_seconds: int, subject: str | None) -> str:
    """A token the tenant API accepts; platform administrators carry no tenant."""
    import jwt

    if role != "platform-admin" and not tenant_id:
        raise AdminError(f"a {role} token needs --tenant")
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": os.environ.get("JWT_ISSUER", "csms"),
        "aud": os.environ.get("JWT_AUDIENCE", "csms-tenant-api"),
        "sub": subject or f"csms-admin:{uuid.uuid4()}",
        "role": role,
        "iat": now,
        "nbf": now,
        "exp": now + ttl_seconds,
        "jti": str(uuid.uuid4()),
    }
    if role != "platform-admin":
        claims["tenant_id"] = tenant_id
    return jwt.encode(claims, jwt_secret(), algorithm="HS256")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="csms-admin", description=__doc__)
    groups = parser.add_subparsers(dest="group", required=True)

    tenant = groups.add_parser("tenant", help="tenants").add_subparsers(
        dest="command", required=True
    )
    create = tenant.add_parser("create", help="create a tenant and its database")
    create.add_argument("--id", required=True)
    create.add_argument("--name", required=True)
    create.add_argument(
        "--concurrent-transactions",
        type=ConcurrentTransactions,
        default=ConcurrentTransactions.ALLOW,
        choices=list(ConcurrentTransactions),
        help="reject: ConcurrentTx for an id tag charging at another live charge point",
    )
    create.add_argument(
        "--concurrent-tx-window-minutes",
        type=int,
        default=DEFAULT_CONCURRENT_TX_WINDOW_MINUTES,
        help="with reject: how recently the other charge point must have sent anything",
    )

    cp = groups.add_parser("charge-point", help="the charge point registry").add_subparsers(
        dest="command", required=True
    )
    add = cp.add_parser("add", help="register a charge point (password generated if omitted)")
    add.add_argument("--tenant", required=True)
    add.add_argument("--id", required=True)
    add.add_argument("--password")
    for name in ("disable", "enable"):
        cp.add_parser(name, help=f"{name} a charge point").add_argument("--id", required=True)
    setpw = cp.add_parser("set-password", help="rotate a charge point's password")
    setpw.add_argument("--id", required=True)
    setpw.add_argument("--password")

    tag = groups.add_parser("id-tag", help="id tags").add_subparsers(dest="command", required=True)
    tag_add = tag.add_parser("add", help="add or replace an id tag")
    tag_add.add_argument("--tenant", required=True)
    tag_add.add_argument("--id-tag", required=True, help="1.6: up to 20, 2.0.1: up to 36")
    tag_add.add_argument(
        "--type", choices=sorted(ID_TOKEN_TYPES), help="OCPP 2.0.1 idToken type (unset: any)"
    )
    tag_add.add_argument("--group", dest="token_group", help="OCPP 2.0.1 groupIdToken")
    tag_add.add_argument(
        "--status", default="Accepted", choices=[s.value for s in AuthorizationStatus]
    )
    tag_add.add_argument(
        "--expiry", type=datetime.fromisoformat, help="ISO 8601, e.g. 2027-01-01T00:00:00Z"
    )
    tag_add.add_argument("--parent", help="parent id tag")

    token = groups.add_parser("token", help="API tokens").add_subparsers(
        dest="command", required=True
    )
    issue = token.add_parser("issue", help="print a signed JWT for the tenant API")
    issue.add_argument("--tenant", help="required except for platform-admin")
    issue.add_argument("--role", required=True, choices=ROLES)
    issue.add_argument("--ttl", type=int, default=3600, help="seconds (default 3600)")
    issue.add_argument("--subject")

    db = groups.add_parser("db", help="database maintenance").add_subparsers(
        dest="command", required=True
    )
    db.add_parser("migrate", help="create missing indexes in every database")
    return parser


def run(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = _parser().parse_args(argv)
    if args.group == "token":
        return {"token": issue_token(args.tenant, args.role, args.ttl, args.subject)}
    with Admin(Settings.from_env().mongodb_uri) as admin:
        return _command(admin, args)


def _command(admin: Admin, args: argparse.Namespace) -> dict[str, Any]:
    match (args.group, args.command):
        case ("tenant", "create"):
            return admin.create_tenant(
                args.id,
                args.name,
                args.concurrent_transactions,
                args.concurrent_tx_window_minutes,
            )
        case ("charge-point", "add"):
            return admin.add_charge_point(args.tenant, args.id, args.password)
        case ("charge-point", "disable" | "enable"):
            return admin.set_enabled(args.id, args.command == "enable")
        case ("charge-point", "set-password"):
            return admin.set_password(args.id, args.password)
        case ("id-tag", "add"):
            return admin.add_id_tag(
                args.tenant, args.id_tag, args.status, args.expiry, args.parent, args.type,
                args.token_group,
            )
        case ("db", "migrate"):
            return admin.migrate()
    raise AdminError("unknown command")


def main(argv: Sequence[str] | None = None) -> int:
    try:
        result = run(argv)
    except AdminError as exc:
        print(f"csms-admin: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
