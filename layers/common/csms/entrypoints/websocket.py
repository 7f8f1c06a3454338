"""API Gateway WebSocket API routes: $connect, $default, $disconnect."""

from __future__ import annotations

import base64
from typing import Any

from csms import bootstrap
from csms.domain.model import ConnectionInfo
from csms.observability import logger
from csms.services.connect import ConnectRequest, parse_subprotocols

Event = dict[str, Any]
Response = dict[str, Any]

# The CloudFront function in template.yaml turns /ocpp/<id> into this query parameter;
# the local gateway does the same, so both deliver identical events.
CHARGE_POINT_PARAMETER = "chargePointId"


def on_connect(event: Event) -> Response:
    context = event.get("requestContext", {})
    connection_id = context.get("connectionId", "")
    headers = _lower_keys(event.get("headers"))
    query = event.get("queryStringParameters") or {}
    request = ConnectRequest(
        connection_id=connection_id,
        charge_point_id=query.get(CHARGE_POINT_PARAMETER),
        authorization=headers.get("authorization"),
        offered_subprotocols=parse_subprotocols(headers.get("sec-websocket-protocol")),
        source_ip=(context.get("identity") or {}).get("sourceIp"),
        management_endpoint=_management_endpoint(context),
    )
    logger.append_keys(connection_id=connection_id, charge_point_id=request.charge_point_id)
    try:
        decision = bootstrap.connect_service().connect(request)
    except Exception:
        logger.exception("connect failed")
        return {"statusCode": 503}
    if not decision.accepted:
        logger.info(
            "connection refused", extra={"status": decision.status_code, "reason": decision.reason}
        )
        return {"statusCode": decision.status_code}
    logger.info("connected", extra={"subprotocol": decision.subprotocol})
    return {"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": decision.subprotocol}}


def on_message(event: Event) -> Response:
    context = event.get("requestContext", {})
    connection_id = context.get("connectionId", "")
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        # OCPP-J is text only; a binary frame is decoded so it gets a FormationViolation.
        body = base64.b64decode(body).decode("utf-8", errors="replace")
    logger.append_keys(connection_id=connection_id, charge_point_id=None, tenant_id=None)
    reply = bootstrap.message_service().handle(connection_id, body, identified=_log_keys)
    if reply is None:
        return {"statusCode": 200}
    return {"statusCode": 200, "body": reply}


def on_disconnect(event: Event) -> Response:
    context = event.get("requestContext", {})
    connection_id = context.get("connectionId", "")
    logger.append_keys(connection_id=connection_id)
    try:
        bootstrap.connect_service().disconnect(
            connection_id, context.get("disconnectStatusCode"), context.get("disconnectReason")
        )
    except Exception:
        # API Gateway ignores $disconnect's result; the registry entry will expire.
        logger.exception("disconnect bookkeeping failed")
    return {"statusCode": 200}


def _log_keys(connection: ConnectionInfo) -> None:
    logger.append_keys(charge_point_id=connection.charge_point_id, tenant_id=connection.tenant_id)


def _lower_keys(headers: dict[str, str] | None) -> dict[str, str]:
    return {k.lower(): v for k, v in (headers or {}).items()}


def _management_endpoint(context: dict[str, Any]) -> str | None:
    domain, stage = context.get("domainName"), context.get("stage")
    if not domain or not stage:
        return None
    return f"https://{domain}/{stage}"
