"""The tenant HTTP API (API Gateway HTTP API, payload format 2.0).

`create_app()` builds one resolver per Lambda container and `handle()` admits each
request (token, tenant, rate limit) before the resolver routes it. Routes live in the
`routes_*` modules, grouped by resource.
"""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer, SecurityScheme
from pymongo.errors import PyMongoError
from redis.exceptions import RedisError

from csms import bootstrap
from csms.domain.access import Forbidden, Permission, Principal, Unauthenticated
from csms.domain.commands import NotConnected, UnknownCommand
from csms.domain.credentials import WeakPassword
from csms.entrypoints.tenant_api import (
    routes_certificates,
    routes_commands,
    routes_data_transfer,
    routes_device_model,
    routes_diagnostics,
    routes_display_messages,
    routes_firmware,
    routes_fleet,
    routes_local_list,
    routes_records,
    routes_reservations,
    routes_sites,
    routes_tariffs,
    routes_tenants,
)
from csms.observability import logger
from csms.protocol.errors import OcppError
from csms.services.fleet import Conflict, LimitReached, NotFound

OPENAPI_PATH = "/v1/openapi.json"
DOCS_PATH = "/v1/docs"
_PUBLIC_PATHS = frozenset({OPENAPI_PATH, DOCS_PATH})


class UnreadableBody(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class RateLimited(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"rate limit reached; retry after {retry_after} s")
        self.retry_after = retry_after


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def to_json(body: Any) -> str:
    return json.dumps(body, default=_json_default, separators=(",", ":"))


def error(status: int, message: str, **extra: Any) -> Response[str]:
    headers: dict[str, str] = extra.pop("headers", {})
    return Response(
        status_code=status,
        content_type="application/json",
        body=to_json({"message": message, **extra}),
        headers=headers,
    )


def principal(app: APIGatewayHttpResolver, permission: Permission) -> Principal:
    """The authenticated caller, if its role grants `permission` (else 403)."""
    caller: Principal | None = app.context.get("principal")
    if caller is None:
        raise Unauthenticated("missing bearer token")
    if not caller.may(permission):
        raise Forbidden(f"role {caller.role.value!r} may not do this")
    return caller


def tenant_of(app: APIGatewayHttpResolver, permission: Permission) -> str:
    """The caller's tenant; every tenant resource is looked up in this tenant only."""
    tenant_id = principal(app, permission).tenant_id
    if tenant_id is None:
        raise Forbidden("platform administrators manage tenants, not their resources")
    return tenant_id


def _admit(app: APIGatewayHttpResolver, event: dict[str, Any]) -> None:
    """Checks made before the request reaches the resolver: its validation runs ahead of
    any middleware, so callers are authenticated (and bodies found readable) first."""
    path = event.get("rawPath", "")
    if path in _PUBLIC_PATHS:
        return
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    caller = bootstrap.token_verifier().verify(headers.get("authorization"))
    if caller.tenant_id is not None:
        tenant = bootstrap.directory().get_tenant(caller.tenant_id)
        if tenant is None or not tenant.active:
            raise Forbidden("the tenant is suspended or unknown")
        retry_after = bootstrap.rate_limiter().hit(
            tenant.tenant_id, tenant.api_rate_limit, time.time()
        )
        if retry_after is not None:
            raise RateLimited(retry_after)
    _check_body(event, headers)
    logger.append_keys(tenant_id=caller.tenant_id, subject=caller.subject)
    app.append_context(principal=caller)


def _check_body(event: dict[str, Any], headers: dict[str, str]) -> None:
    """Every body this API reads is JSON in UTF-8."""
    body = event.get("body")
    if not body:
        return
    content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != "application/json":
        raise UnreadableBody(415, "send the body as application/json")
    if event.get("isBase64Encoded"):
        try:
            base64.b64decode(body, validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            raise UnreadableBody(400, "the body is not UTF-8 encoded JSON") from None


def handle(app: APIGatewayHttpResolver, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda entry: admit the caller, then let the resolver route the request."""
    logger.remove_keys(["tenant_id", "subject"])
    try:
        _admit(app, event)
    except Unauthenticated as exc:
        return _refusal(401, str(exc), {"WWW-Authenticate": 'Bearer realm="csms"'})
    except Forbidden as exc:
        return _refusal(403, str(exc))
    except RateLimited as exc:
        return _refusal(429, str(exc), {"Retry-After": str(exc.retry_after)})
    except UnreadableBody as exc:
        return _refusal(exc.status, str(exc))
    except (RedisError, PyMongoError):
        logger.exception("storage unavailable")
        return _refusal(503, "service temporarily unavailable; retry later")
    try:
        return app.resolve(event, context)
    finally:
        _hand_on_records()


def _hand_on_records() -> None:
    """Commands finished by this request (failed, timed out) are events too."""
    try:
        bootstrap.records().flush()
    except Exception:
        # The answer stands; the lost events are logged for whoever replays them.
        logger.exception("runtime records could not be handed on")


def _refusal(status: int, message: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"} | (headers or {}),
        "body": to_json({"message": message}),
        "isBase64Encoded": False,
    }


def _install_error_handlers(app: APIGatewayHttpResolver) -> None:
    @app.exception_handler(Forbidden)
    def forbidden(exc: Forbidden) -> Response[str]:
        return error(403, str(exc))

    @app.exception_handler(NotFound)
    def not_found(exc: NotFound) -> Response[str]:
        return error(404, str(exc))

    @app.exception_handler(UnknownCommand)
    def unknown_command(exc: UnknownCommand) -> Response[str]:
        version = exc.version.removeprefix("ocpp") or "its version"
        return error(
            422, f"{exc.action} is not a command of OCPP {version}, the charge point's version"
        )

    @app.exception_handler(Conflict)
    def conflict(exc: Conflict) -> Response[str]:
        return error(409, str(exc))

    @app.exception_handler(LimitReached)
    def limit_reached(exc: LimitReached) -> Response[str]:
        return error(409, str(exc))

    @app.exception_handler(NotConnected)
    def not_connected(exc: NotConnected) -> Response[str]:
        return error(
            409,
            "the charge point is not connected; add ?queue=true to send when it reconnects",
        )

    @app.exception_handler(OcppError)
    def invalid_payload(exc: OcppError) -> Response[str]:
        field = exc.details.get("field")
        return error(422, f"invalid OCPP payload: {exc.description}", field=field)

    @app.exception_handler(WeakPassword)
    def weak_password(exc: WeakPassword) -> Response[str]:
        return error(422, str(exc))

    @app.exception_handler([RedisError, PyMongoError])
    def unavailable(exc: Exception) -> Response[str]:
        logger.exception("storage unavailable")
        return error(503, "service temporarily unavailable; retry later")


def create_app() -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver(enable_validation=True, serializer=to_json)
    _install_error_handlers(app)
    routes_tenants.install(app)
    routes_fleet.install(app)
    routes_records.install(app)
    routes_commands.install(app)
    routes_device_model.install(app)
    routes_local_list.install(app)
    routes_reservations.install(app)
    routes_display_messages.install(app)
    routes_diagnostics.install(app)
    routes_data_transfer.install(app)
    routes_firmware.install(app)
    routes_sites.install(app)
    routes_tariffs.install(app)
    routes_certificates.install(app)
    security: dict[str, SecurityScheme] = {"bearer": HTTPBearer(bearerFormat="JWT")}
    app.configure_openapi(
        title="CSMS tenant API",
        version="1.0.0",
        description="Manage a fleet of OCPP 1.6J charge points and send them commands.",
        security_schemes=security,
        security=[{"bearer": []}],
    )

    @app.get(OPENAPI_PATH, include_in_schema=False)
    def openapi() -> Response[str]:
        return Response(
            status_code=200,
            content_type="application/json",
            body=app.get_openapi_json_schema(),
        )

    app.enable_swagger(path=DOCS_PATH, security_schemes=security, security=[{"bearer": []}])
    return app
