"""The local gateway on real sockets, in front of the real handler functions, with real
Redis and MongoDB behind them; charge points are the `ocpp` package's 1.6 client.

Every gateway here listens for ws:// and wss:// (with a CA made for it). To run a test
over both, ask for the `scheme` fixture and pass it on:
    async def test_x(gateway, fleet, scheme):
        async with connected(gateway, cp_id, scheme=scheme) as (cp, ws): ...
`raw_socket(..., scheme=...)` and `gateway.url(cp_id, scheme)` take it too;
`gateway.client_ssl()` is a client SSL context trusting the gateway's CA.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import secrets
import ssl
import tempfile
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import pytest
import websockets
from csms import bootstrap
from csms_local.admin import Admin, issue_token
from csms_local.gateway import GatewayLimits, WebSocketGateway
from csms_local.http_api import HandlerPool
from csms_local.lambdas import load_handler
from csms_local.management import ManagementServer
from csms_local.tls import client_context, ensure_certificates, server_context
from ocpp.v16 import ChargePoint

# LocalStack for the tests that drive the event pipeline end to end, shared by the workers.
from tests.localstack_fixtures import local_aws_url  # noqa: F401

PASSWORD = "e2e-password-0123456789"

Scheme = Literal["ws", "wss"]


class GatewayThread:
    """Runs a gateway and its @connections server on an event loop of their own; the
    gateway serves ws:// on `gateway.port` and wss:// on `gateway.tls_port`, with a CA
    of its own (in a temporary directory removed by stop())."""

    def __init__(self, limits: GatewayLimits) -> None:
        self._tls_dir = tempfile.TemporaryDirectory(prefix="csms-e2e-tls-")
        self.tls = ensure_certificates(Path(self._tls_dir.name))
        self.gateway = WebSocketGateway(
            connect=load_handler("ws_connect"),
            default=load_handler("ws_message"),
            disconnect=load_handler("ws_disconnect"),
            port=0,
            limits=limits,
            ssl=server_context(self.tls),
            tls_port=0,
        )
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.management: ManagementServer | None = None

    def start(self) -> GatewayThread:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.gateway.start(), self.loop).result(10)
        self.management = ManagementServer(self.gateway, port=0, api=HandlerPool("tenant_api"))
        self.management.start()
        return self

    def stop(self) -> None:
        if self.management:
            self.management.stop()
        asyncio.run_coroutine_threadsafe(self.gateway.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        if not self._thread.is_alive():
            self.loop.close()
        self._tls_dir.cleanup()

    def url(self, charge_point_id: str, scheme: Scheme = "ws") -> str:
        port = self.gateway.tls_port if scheme == "wss" else self.gateway.port
        return f"{scheme}://127.0.0.1:{port}/ocpp/{charge_point_id}"

    def wss_url(self, charge_point_id: str) -> str:
        return self.url(charge_point_id, "wss")

    @property
    def ca_file(self) -> Path:
        """The CA a charge point must trust to connect over wss://."""
        return self.tls.ca_cert

    def client_ssl(self) -> ssl.SSLContext:
        """A charge point's TLS settings: TLS 1.2+, trusting this gateway's CA only."""
        return client_context(self.ca_file)

    def connect_options(self, scheme: Scheme) -> dict[str, object]:
        """What websockets.connect needs besides the URL to reach this gateway."""
        return {"ssl": self.client_ssl()} if scheme == "wss" else {}

    @property
    def http_url(self) -> str:
        assert self.management is not None
        return f"http://127.0.0.1:{self.management.port}"


@dataclass
class Fleet:
    """One tenant with charge points and id tags of every status, unique to the run."""

    admin: Admin
    tenant_id: str
    suffix: str

    def cp(self, name: str = "CP") -> str:
        return f"{name}-{self.suffix}"

    def add_charge_point(self, name: str = "CP") -> str:
        cp_id = self.cp(name)
        self.admin.add_charge_point(self.tenant_id, cp_id, PASSWORD)
        return cp_id

    @property
    def db(self):
        return self.admin.tenants.for_tenant(self.tenant_id).db


@pytest.fixture(scope="module")
def csms_env(redis_url: str, mongodb_uri: str) -> Iterator[None]:
    patch = pytest.MonkeyPatch()
    patch.setenv("MONGODB_URI", mongodb_uri)
    patch.setenv("REDIS_URL", redis_url)
    patch.setenv("REDIS_KEY_PREFIX", f"e2e-{uuid.uuid4().hex[:8]}")
    patch.setenv("AWS_ACCESS_KEY_ID", "local")  # the local @connections API ignores these
    patch.setenv("AWS_SECRET_ACCESS_KEY", "local")
    patch.setenv("AWS_REGION", "us-east-1")
    patch.setenv("JWT_SECRET", secrets.token_urlsafe(32))
    patch.setenv("CREDENTIAL_CACHE_KEY", secrets.token_urlsafe(32))  # as make run sets it
    bootstrap.reset()
    yield
    patch.undo()
    bootstrap.reset()


def start_gateway(limits: GatewayLimits, patch: pytest.MonkeyPatch) -> GatewayThread:
    running = GatewayThread(limits).start()
    assert running.management is not None
    patch.setenv("WEBSOCKET_MANAGEMENT_ENDPOINT", f"http://127.0.0.1:{running.management.port}")
    bootstrap.reset()
    return running


@pytest.fixture(scope="module")
def gateway(csms_env: None) -> Iterator[GatewayThread]:
    patch = pytest.MonkeyPatch()
    running = start_gateway(GatewayLimits(), patch)
    yield running
    running.stop()
    patch.undo()


@pytest.fixture(params=["ws", "wss"])
def scheme(request: pytest.FixtureRequest) -> Scheme:
    """Runs the test that asks for it once over ws:// and once over wss://."""
    value: Scheme = request.param
    return value


@pytest.fixture(scope="module")
def fleet(csms_env: None, mongodb_uri: str) -> Iterator[Fleet]:
    admin = Admin(mongodb_uri)
    suffix = uuid.uuid4().hex[:8]
    tenant_id = f"e2e{suffix}"
    admin.create_tenant(tenant_id, "E2E operator")
    now = datetime.now(UTC)
    admin.add_id_tag(tenant_id, "ACCEPTED", "Accepted", now + timedelta(days=30), None)
    admin.add_id_tag(tenant_id, "BLOCKED", "Blocked", None, None)
    admin.add_id_tag(tenant_id, "EXPIRED", "Accepted", now - timedelta(days=1), None)
    with admin:
        yield Fleet(admin, tenant_id, suffix)


def basic_auth(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@contextlib.asynccontextmanager
async def connected(
    gateway: GatewayThread,
    cp_id: str,
    password: str = PASSWORD,
    subprotocols: tuple[str, ...] = ("ocpp1.6",),
    client: type[ChargePoint] = ChargePoint,
    scheme: Scheme = "ws",
) -> AsyncIterator[tuple[ChargePoint, websockets.ClientConnection]]:
    """A real OCPP 1.6 charge point connected through the gateway (over TLS for wss)."""
    async with websockets.connect(
        gateway.url(cp_id, scheme),
        subprotocols=list(subprotocols),  # type: ignore[arg-type]
        additional_headers=basic_auth(cp_id, password),
        open_timeout=10,
        **gateway.connect_options(scheme),  # type: ignore[arg-type]
    ) as ws:
        charge_point = client(cp_id, ws)
        listener = asyncio.create_task(charge_point.start())
        try:
            yield charge_point, ws
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await listener


@contextlib.asynccontextmanager
async def raw_socket(
    gateway: GatewayThread, cp_id: str, scheme: Scheme = "ws", **kwargs: object
) -> AsyncIterator[websockets.ClientConnection]:
    """A bare WebSocket (no OCPP client), to send frames the client library would not."""
    async with websockets.connect(
        gateway.url(cp_id, scheme),
        subprotocols=["ocpp1.6"],  # type: ignore[list-item]
        additional_headers=basic_auth(cp_id, PASSWORD),
        **(gateway.connect_options(scheme) | kwargs),  # type: ignore[arg-type]
    ) as ws:
        yield ws


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    text: str

    @property
    def json(self):
        return json.loads(self.text) if self.text else None


@dataclass(frozen=True)
class Api:
    """An HTTP client of the local tenant API, acting with one token."""

    base_url: str
    token: str | None

    def request(self, method: str, path: str, body: object = None, **params: object) -> Reply:
        query = "&".join(f"{k}={v}" for k, v in params.items() if v is not None)
        url = f"{self.base_url}{path}" + (f"?{query}" if query else "")
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=40) as response:
                return Reply(response.status, dict(response.headers), response.read().decode())
        except urllib.error.HTTPError as error:
            return Reply(error.code, dict(error.headers), error.read().decode())

    def get(self, path: str, **params: object) -> Reply:
        return self.request("GET", path, **params)

    def post(self, path: str, body: object = None, **params: object) -> Reply:
        return self.request("POST", path, {} if body is None else body, **params)

    def patch(self, path: str, body: object) -> Reply:
        return self.request("PATCH", path, body)

    def put(self, path: str, body: object) -> Reply:
        return self.request("PUT", path, body)

    def delete(self, path: str) -> Reply:
        return self.request("DELETE", path)


def api_for(gateway: GatewayThread, tenant_id: str | None, role: str) -> Api:
    """A client with a token as `csms-admin token issue` makes it."""
    return Api(gateway.http_url, issue_token(tenant_id, role, 600, None))
