"""Tenant HTTP API (API Gateway HTTP API): only resolves; routes hold the behaviour."""

from typing import Any

from csms.entrypoints.tenant_api import create_app

app = create_app()


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
