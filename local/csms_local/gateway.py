"""A local stand-in for API Gateway's WebSocket API.

Charge points connect to ws://HOST:PORT/ocpp/<chargePointId>. Like the AWS deployment
(where a CloudFront function rewrites the path), the id reaches $connect as the query
parameter `chargePointId`. The gateway produces API Gateway-shaped $connect, $default and
$disconnect events for the real handler functions and honours what API Gateway does:
route responses (the $default result body is sent back), subprotocol selection from the
$connect response, 32 KB frames and 128 KB messages (else close 1009), the idle timeout
and the maximum connection duration. The @connections management API is served over HTTP
(see management.py) so boto3's `apigatewaymanagementapi` client reaches real sockets.

Given an SSL context, the gateway also listens on `tls_port` for wss:// (OCPP security
profile 2: TLS, with the same HTTP Basic auth as over ws://). Both listeners share one
set of connections, so the @connections API reaches a charge point whichever way it
came in; each event's `domainName` names the listener the connection used.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import logging
import random
import re
import secrets
import ssl as ssl_module
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed, PayloadTooBig
from websockets.frames import Frame
from websockets.http11 import Request, Response
from websockets.protocol import State
from websockets.server import ServerProtocol

from csms_local.invocations import InvocationThreads
from csms_local.lambdas import LambdaContext, LambdaHandler

logger = logging.getLogger("csms_local.gateway")

# How long a handshake may wait for $connect: as long as API Gateway waits for an
# integration (29 s).
HANDSHAKE_TIMEOUT = 29.0
PATH = re.compile(r"^/ocpp/([^/?#]+)/?$")
API_ID = "local"
_FUNCTIONS = {"$connect": "ws_connect", "$default": "ws_message", "$disconnect": "ws_disconnect"}
_THREAD_NAMES = {"$connect": "connect", "$default": "invocation", "$disconnect": "disconnect"}


@dataclass(frozen=True)
class GatewayLimits:
    """API Gateway's WebSocket quotas (https://docs.aws.amazon.com/apigateway/: quotas)."""

    frame_bytes: int = 32 * 1024
    message_bytes: int = 128 * 1024
    idle_timeout: float = 600.0
    max_duration: float = 7200.0


class _FrameLimitedProtocol(ServerProtocol):
    """websockets limits whole messages; API Gateway also limits each frame to 32 KB."""

    frame_limit = 32 * 1024

    def recv_frame(self, frame: Frame) -> None:
        if len(frame.data) > self.frame_limit:
            raise PayloadTooBig(len(frame.data), self.frame_limit)
        super().recv_frame(frame)

    def send_response(self, response: Response) -> None:
        # The client closed its end while its handshake waited for $connect: there is
        # nobody to answer (websockets would trip over its own end-of-stream check).
        if self.eof_sent:
            return
        super().send_response(response)


class _QuietAbandonedHandshakes(logging.Filter):
    """A client that gives up while its handshake waits for $connect (thousands do in a
    reconnect storm) is not a server error: websockets logs each one with a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if record.msg == "opening handshake failed" and isinstance(error, ConnectionClosed):
            logger.debug("a client left during its opening handshake")
            return False
        return True


_websockets_logger = logging.getLogger("csms_local.gateway.websockets")
_websockets_logger.addFilter(_QuietAbandonedHandshakes())


@dataclass
class LiveConnection:
    connection_id: str
    websocket: ServerConnection
    source_ip: str
    user_agent: str
    connected_at: datetime
    domain_name: str
    last_active: float = field(default_factory=time.monotonic)
    last_active_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    subprotocol: str | None = None
    closed_by_gateway: tuple[int, str] | None = None
    # The request context's fields that stay the same for every event of the connection,
    # built once (every message's event used to build them again).
    context: dict[str, Any] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.context = {
            "messageDirection": "IN",
            "connectedAt": int(self.connected_at.timestamp() * 1000),
            "identity": {"sourceIp": self.source_ip, "userAgent": self.user_agent},
            "domainName": self.domain_name,
            "connectionId": self.connection_id,
            "apiId": API_ID,
        }


class WebSocketGateway:
    def __init__(
        self,
        connect: LambdaHandler,
        default: LambdaHandler,
        disconnect: LambdaHandler,
        host: str = "127.0.0.1",
        port: int = 9000,
        stage: str = "local",
        limits: GatewayLimits | None = None,
        concurrency: int = 64,
        ssl: ssl_module.SSLContext | None = None,
        tls_port: int | None = None,
        connect_concurrency: int | None = None,
        disconnect_concurrency: int = 8,
    ) -> None:
        """`port` serves ws://; with `ssl`, `tls_port` (0: any free port) serves wss://.
        `connect_concurrency`: how many $connect run at once (as many as the function has
        containers: a handshake waits in line, not inside an invocation, so one whose
        client has gone meanwhile is dropped before it costs anything)."""
        if (ssl is None) != (tls_port is None):
            raise ValueError("wss:// needs both an SSL context and tls_port")
        self._handlers = {"$connect": connect, "$default": default, "$disconnect": disconnect}
        # API Gateway invokes as many Lambdas at once as there are messages; asyncio's
        # default pool (cores + 4 threads) would queue a fleet's messages behind each other.
        # $connect and $disconnect get threads of their own, each route apart as its
        # Lambdas scale apart on AWS: a reconnect storm (thousands of $connect, each up to
        # a scrypt check) must not queue connected chargers' messages, nor its reconnects
        # wait behind the bookkeeping of the thousands of $disconnect just before.
        # Few threads for $disconnect: API Gateway does not wait for it, and thousands of
        # chargers dropping at once would otherwise be as many threads taking turns at
        # this process's interpreter lock with the event loop that serves the reconnects.
        self._thread_counts = {
            "$connect": connect_concurrency or concurrency,
            "$default": concurrency,
            "$disconnect": disconnect_concurrency,
        }
        self._threads: dict[str, InvocationThreads] = {}  # made by start(), on its loop
        self.host = host
        self.port = port
        self.tls_port = tls_port
        self.stage = stage
        self.limits = limits or GatewayLimits()
        self._ssl = ssl
        self.connections: dict[str, LiveConnection] = {}
        self._pending: dict[int, LiveConnection] = {}
        self._handshaking: set[ServerConnection] = set()  # waiting for $connect
        self._servers: list[Server] = []
        self.loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._threads = {
            route: InvocationThreads(self.loop, count, _THREAD_NAMES[route])
            for route, count in self._thread_counts.items()
        }
        try:
            self.port = await self._listen(self.port, None)
            if self._ssl is not None and self.tls_port is not None:
                self.tls_port = await self._listen(self.tls_port, self._ssl)
        except BaseException:
            await self.stop()
            raise

    async def _listen(self, port: int, ssl: ssl_module.SSLContext | None) -> int:
        """One listener; returns its port (the kernel's choice when asked for 0)."""
        server = await serve(
            self._serve_connection,
            self.host,
            port,
            process_request=functools.partial(self._process_request, ssl is not None),
            process_response=self._process_response,
            select_subprotocol=self._select_subprotocol,
            max_size=self.limits.message_bytes,
            ping_interval=None,  # API Gateway sends no pings; chargers send their own
            # API Gateway negotiates no permessage-deflate; neither does its stand-in (and
            # compressing every frame cost more CPU than any handler step).
            compression=None,
            # A reconnect storm queues thousands of handshakes at once: wait for $connect
            # as long as API Gateway waits for an integration (29 s), and let the kernel
            # hold them meanwhile.
            open_timeout=HANDSHAKE_TIMEOUT,
            backlog=4096,
            ssl=ssl,
            logger=_websockets_logger,
        )
        self._servers.append(server)
        if port == 0:
            port = int(next(iter(server.sockets)).getsockname()[1])
        return port

    def waiting_handshakes(self) -> int:
        """Handshakes waiting for (or in) $connect whose client is still there."""
        return sum(
            1
            for websocket in self._handshaking
            if websocket.transport is not None and not websocket.transport.is_closing()
        )

    async def stop(self) -> None:
        servers, self._servers = self._servers, []
        for server in servers:
            server.close()
        for server in servers:
            await server.wait_closed()
        # $disconnect invocations of the closed connections have run by now.
        for threads in self._threads.values():
            threads.stop()

    async def _invoke(
        self,
        route: str,
        event: dict[str, Any],
        abandoned: Callable[[], bool] | None = None,
    ) -> dict[str, Any]:
        """The route's integration, run on that route's threads; `abandoned`, checked when
        a thread takes the invocation up, skips it when nobody waits for its answer."""
        context = LambdaContext(_FUNCTIONS[route], event["requestContext"]["requestId"])
        handler = self._handlers[route]

        def call() -> Any:
            if abandoned is not None and abandoned():
                raise _Abandoned
            return handler(event, context)

        try:
            result = await self._threads[route].run(call)
        except _Abandoned:
            logger.debug("%s skipped: the client has gone", route)
            return {"statusCode": 408}
        except Exception:
            # Like API Gateway: a failing integration is an error for the client, not a crash.
            logger.exception("%s integration failed", route)
            return {"statusCode": 500}
        return result if isinstance(result, dict) else {"statusCode": 200}

    def _request_context(
        self, route: str, event_type: str, live: LiveConnection, **extra: Any
    ) -> dict[str, Any]:
        now = time.time()
        return {
            "routeKey": route,
            "eventType": event_type,
            "extendedRequestId": _request_id(),
            "requestTime": _request_time(int(now)),
            **live.context,
            "stage": self.stage,
            "requestTimeEpoch": int(now * 1000),
            "requestId": _request_id(),
            **extra,
        }

    async def _process_request(
        self, secure: bool, websocket: ServerConnection, request: Request
    ) -> Response | None:
        # Enforce the per-frame limit on this connection's parser.
        websocket.protocol.__class__ = _FrameLimitedProtocol
        websocket.protocol.frame_limit = self.limits.frame_bytes  # type: ignore[attr-defined]
        path = request.path.split("?", 1)[0]
        match = PATH.match(path)
        if match is None:
            return websocket.respond(404, "Not Found: connect to /ocpp/<chargePointId>\n")
        peer = websocket.remote_address
        live = LiveConnection(
            connection_id=_new_connection_id(),
            websocket=websocket,
            source_ip=peer[0] if peer else "127.0.0.1",
            user_agent=request.headers.get("User-Agent", ""),
            connected_at=datetime.now(UTC),
            domain_name=f"{self.host}:{self.tls_port if secure else self.port}",
        )
        headers = dict(request.headers.raw_items())
        multi: dict[str, list[str]] = {}
        for name, value in request.headers.raw_items():
            multi.setdefault(name, []).append(value)
        charge_point_id = unquote(match.group(1))
        event = {
            "headers": headers,
            "multiValueHeaders": multi,
            "queryStringParameters": {"chargePointId": charge_point_id},
            "multiValueQueryStringParameters": {"chargePointId": [charge_point_id]},
            "requestContext": self._request_context("$connect", "CONNECT", live),
            "isBase64Encoded": False,
        }
        waiting_since = time.monotonic()

        def abandoned() -> bool:
            # After a reconnect storm, thousands of handshakes wait for a $connect; a
            # client that gave up meanwhile (or whose handshake timed out) is not worth
            # a login check, a registration and the $disconnect undoing them.
            transport = websocket.transport
            return (
                transport is None
                or transport.is_closing()
                or time.monotonic() - waiting_since > HANDSHAKE_TIMEOUT
            )

        self._handshaking.add(websocket)
        try:
            result = await self._invoke("$connect", event, abandoned)
        finally:
            self._handshaking.discard(websocket)
        status = int(result.get("statusCode", 500))
        if status != 200:
            return websocket.respond(status, _reason(status) + "\n")
        response_headers = Headers(result.get("headers") or {})
        live.subprotocol = response_headers.get("Sec-WebSocket-Protocol")
        self._pending[id(websocket)] = live
        return None

    async def _process_response(
        self, websocket: ServerConnection, request: Request, response: Response
    ) -> None:
        # $connect accepted, yet the upgrade itself was invalid (say, a wrong
        # Sec-WebSocket-Version): undo what $connect registered, as a disconnect would.
        if response.status_code != 101:
            live = self._pending.pop(id(websocket), None)
            if live is not None:
                live.closed_by_gateway = (1006, f"Handshake failed: {response.status_code}")
                await self._on_close(live)

    def _select_subprotocol(self, websocket: ServerConnection, offered: Any) -> Any:
        live = self._pending.get(id(websocket))
        if live is None or live.subprotocol not in offered:
            return None
        return live.subprotocol

    async def _serve_connection(self, websocket: ServerConnection) -> None:
        live = self._pending.pop(id(websocket))
        self.connections[live.connection_id] = live
        watchdog = asyncio.create_task(self._watch_limits(live))
        try:
            async for message in websocket:
                live.last_active = time.monotonic()
                live.last_active_at = datetime.now(UTC)
                await self._on_message(live, message)
        except ConnectionClosed:
            pass
        finally:
            watchdog.cancel()
            del self.connections[live.connection_id]
            await self._on_close(live)

    async def _on_message(self, live: LiveConnection, message: str | bytes) -> None:
        if isinstance(message, bytes):
            body, binary = base64.b64encode(message).decode(), True
        else:
            body, binary = message, False
        event = {
            "requestContext": self._request_context(
                "$default", "MESSAGE", live, messageId=_request_id()[:16]
            ),
            "body": body,
            "isBase64Encoded": binary,
        }
        result = await self._invoke("$default", event)
        # Route response: API Gateway sends the integration's body back on the socket.
        reply = result.get("body")
        if reply is not None:
            await _send(live.websocket, reply)

    async def _on_close(self, live: LiveConnection) -> None:
        code, reason = live.closed_by_gateway or _close_of(live.websocket)
        event = {
            "headers": {"Host": live.domain_name},
            "requestContext": self._request_context(
                "$disconnect",
                "DISCONNECT",
                live,
                disconnectStatusCode=code,
                disconnectReason=reason,
            ),
            "isBase64Encoded": False,
        }
        await self._invoke("$disconnect", event)

    async def _watch_limits(self, live: LiveConnection) -> None:
        deadline = time.monotonic() + self.limits.max_duration
        while True:
            idle_until = live.last_active + self.limits.idle_timeout
            wake = min(idle_until, deadline)
            await asyncio.sleep(max(0.0, wake - time.monotonic()))
            now = time.monotonic()
            if now >= deadline:
                await self.close(live.connection_id, 1001, "Going away: maximum duration")
                return
            if now >= live.last_active + self.limits.idle_timeout:
                await self.close(live.connection_id, 1001, "Going away: idle timeout")
                return

    # --- the @connections API, called from management.py on this loop ---

    async def post(self, connection_id: str, data: bytes) -> bool:
        live = self.connections.get(connection_id)
        if live is None:
            return False
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            payload: str | bytes = data
        else:
            payload = text
        try:
            await _send(live.websocket, payload)
        except ConnectionClosed:
            # Closing or closed: API Gateway answers 410 GoneException for it, not a reset.
            return False
        return True

    async def close(self, connection_id: str, code: int = 1000, reason: str = "") -> bool:
        live = self.connections.get(connection_id)
        if live is None:
            return False
        live.closed_by_gateway = (code, reason)
        await live.websocket.close(code, reason)
        return True


async def _send(websocket: ServerConnection, message: str | bytes) -> None:
    """websockets' `send` for one whole message, without the async context manager it
    enters for every message (py-spy: about half of `send`, and `send` a seventh of the
    gateway's time under saturate) when the connection is plainly open. Anything else
    (closing, a fragmented send under way, text that will not encode) goes through
    `send` itself, which waits for the closing handshake and raises ConnectionClosed."""
    protocol = websocket.protocol
    if protocol.state is not State.OPEN or websocket.fragmented_send_waiter is not None:
        await websocket.send(message)
        return
    if isinstance(message, str):
        try:
            data = message.encode()
        except UnicodeEncodeError:
            await websocket.send(message)
            return
        protocol.send_text(data)
    else:
        protocol.send_binary(message)
    try:
        websocket.send_data()
        await websocket.drain()
    except Exception as exc:
        # As `send` does when a write fails: end the connection and report it closed.
        websocket.transport.abort()
        await asyncio.shield(websocket.connection_lost_waiter)
        raise protocol.close_exc from exc


class _Abandoned(Exception):
    """Nobody waits for this invocation's answer any more."""


def _request_id() -> str:
    """An id for an event's logs, unique enough for that: three per message made
    uuid4's read of the OS's random source a measurable part of the gateway's CPU."""
    return f"{random.getrandbits(128):032x}"


@functools.lru_cache(maxsize=2)
def _request_time(epoch_second: int) -> str:
    """API Gateway's requestTime, "07/Dec/2026:04:30:27 +0000": formatted once a second."""
    return datetime.fromtimestamp(epoch_second, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")


def _new_connection_id() -> str:
    # API Gateway's ids look like "L0SM9cOFvHcCIhw=": base64 of 10 random bytes.
    return base64.b64encode(secrets.token_bytes(10)).decode()


def _close_of(websocket: ServerConnection) -> tuple[int, str]:
    received = websocket.protocol.close_rcvd or websocket.protocol.close_sent
    if received is None:
        return 1006, "Connection closed abnormally"
    return int(received.code), received.reason


def _reason(status: int) -> str:
    return {
        400: "Bad Request",
        401: "Unauthorized",
        403: "Forbidden",
        404: "Not Found",
        408: "Request Timeout",
    }.get(status, "Internal Server Error")
