"""Redis unavailable: the $default handler answers InternalError, and recovers by itself
when Redis returns (real redis-server, stopped and restarted on the same port)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from csms import bootstrap
from csms.domain.model import ConnectionInfo
from csms.entrypoints.websocket import on_message
from csms_local import services


@pytest.fixture
def own_redis(monkeypatch, mongodb_uri):
    server = services.redis(services.free_port()).start()
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{server.port}/0")
    monkeypatch.setenv("MONGODB_URI", mongodb_uri)
    bootstrap.reset()
    yield server
    server.stop()
    bootstrap.reset()


def heartbeat(connection_id: str, message_id: str) -> list:
    event = {"requestContext": {"connectionId": connection_id},
             "body": json.dumps([2, message_id, "Heartbeat", {}])}
    return json.loads(on_message(event)["body"])


def test_redis_down_gives_internal_error_and_recovery_is_automatic(own_redis, tenant_id):
    connection_id = f"c-{uuid.uuid4().hex[:8]}"
    connection = ConnectionInfo(connection_id, "CP-OUTAGE", tenant_id, "ocpp1.6",
                                datetime.now(UTC))
    bootstrap.connection_registry().register(connection)
    assert heartbeat(connection_id, "before")[0] == 3

    own_redis.stop()
    assert heartbeat(connection_id, "during")[:3] == [4, "during", "InternalError"]

    own_redis.start()
    # Redis ran without persistence: the connection is re-registered as $connect would.
    bootstrap.connection_registry().register(connection)
    assert heartbeat(connection_id, "after")[0] == 3


def test_redis_down_gives_the_tenant_api_503_and_recovery_is_automatic(
    own_redis, monkeypatch, mongodb_uri, tenant_id
):
    from csms_local.admin import Admin, issue_token
    from csms_local.http_api import http_api_event
    from csms_local.lambdas import LambdaContext, load_handler

    monkeypatch.setenv("JWT_SECRET", "integration-secret-at-least-32-bytes-long")
    bootstrap.reset()
    with Admin(mongodb_uri) as admin:
        admin.create_tenant(tenant_id, "outage")
    api = load_handler("tenant_api")
    token = issue_token(tenant_id, "viewer", 60, None)

    def status() -> int:
        event = http_api_event("GET", "/v1/charge-points",
                               [("Authorization", f"Bearer {token}")], b"", "127.0.0.1", 3000)
        return int(api(event, LambdaContext("tenant_api", "r"))["statusCode"])

    assert status() == 200
    own_redis.stop()
    assert status() == 503
    own_redis.start()
    assert status() == 200
