"""Tenant HTTP API (API Gateway HTTP API): admits the caller, then resolves; routes hold
the behaviour."""

from typing import Any

from csms.entrypoints.tenant_api import create_app, handle

app = create_app()


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle(app, event, context)
