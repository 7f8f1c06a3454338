"""The local HTTP side of the gateway, on one port:

API Gateway's @connections management API
  POST   /@connections/{id}   send data to the connection (410 GoneException if unknown)
  GET    /@connections/{id}   ConnectedAt, Identity, LastActiveAt
  DELETE /@connections/{id}   close the connection
  Any path prefix (a stage) before /@connections is accepted, as boto3 keeps the
  endpoint URL's path.
and the tenant HTTP API: /v1/... handed to the tenant_api function as HTTP API events.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from csms_local.gateway import WebSocketGateway
from csms_local.http_api import HandlerPool, http_api_event, http_response

logger = logging.getLogger("csms_local.management")

_CONNECTIONS = re.compile(r"^(?:/[^@]*)?/@connections/([^/?]+)$")
_CALL_TIMEOUT = 10.0


class ManagementServer:
    def __init__(
        self,
        gateway: WebSocketGateway,
        host: str = "127.0.0.1",
        port: int = 3000,
        api: HandlerPool | None = None,
    ):
        self._gateway = gateway
        self._api = api
        self._httpd = ThreadingHTTPServer((host, port), self._handler_class())
        self._httpd.daemon_threads = True
        self.port: int = self._httpd.server_address[1]
        if api is not None:
            # The API's commands reach the chargers through this very server.
            api.set_environment("WEBSOCKET_MANAGEMENT_ENDPOINT", f"http://{host}:{self.port}")
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._api is not None:
            self._api.close()

    def _call(self, coroutine: Any) -> Any:
        loop = self._gateway.loop
        assert loop is not None, "start the gateway before the management server"
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(_CALL_TIMEOUT)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # A reply is two writes (headers, then body). With Nagle's algorithm on, the
            # body waited for the client's delayed ACK of the headers: 40 ms more on every
            # @connections call and tenant API request of a kept-alive connection.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                logger.debug(format, *args)

            def _connection_id(self) -> str | None:
                match = _CONNECTIONS.match(self.path.split("?", 1)[0])
                return unquote(match.group(1)) if match else None

            def _send(
                self, status: int, body: dict[str, Any] | None = None, error_type: str | None = None
            ) -> None:
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if error_type:
                    # boto3 maps this header onto client.exceptions.<error_type>.
                    self.send_header("x-amzn-ErrorType", error_type)
                self.end_headers()
                self.wfile.write(data)

            def _gone(self) -> None:
                self._send(410, {"message": "Gone"}, "GoneException")

            def _body(self) -> bytes:
                if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                    return self._chunked_body()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _chunked_body(self) -> bytes:
                data = bytearray()
                while True:
                    size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass  # trailers
                        return bytes(data)
                    data += self.rfile.read(size)
                    self.rfile.readline()  # the CRLF after each chunk

            def _is_api(self) -> bool:
                path = self.path.split("?", 1)[0]
                return server._api is not None and (path == "/v1" or path.startswith("/v1/"))

            def _serve_api(self) -> None:
                assert server._api is not None
                event = http_api_event(
                    self.command,
                    self.path,
                    list(self.headers.items()),
                    self._body(),
                    self.client_address[0],
                    server.port,
                )
                try:
                    status, headers, data = http_response(server._api.invoke(event))
                except Exception:
                    # What API Gateway answers when the function itself fails.
                    logger.exception("tenant_api failed")
                    self._send(500, {"message": "Internal Server Error"})
                    return
                if status in (204, 304) or self.command == "HEAD":
                    data = b""  # no body may follow these, whatever the function returned
                self.send_response(status)
                headers.setdefault("Content-Type", "application/json")
                for name, value in headers.items():
                    if name.lower() != "content-length":
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _any_method(self) -> None:
                if self._is_api():
                    self._serve_api()
                else:
                    self._send(404, {"message": "Not Found"})

            def __getattr__(self, name: str) -> Any:
                # HTTP APIs hand every method of /v1/{proxy+} to the function (an ANY
                # route), even ones this server has no do_<METHOD> for.
                if name.startswith("do_"):
                    return self._any_method
                raise AttributeError(name)

            def do_POST(self) -> None:
                if self._is_api():
                    self._serve_api()
                    return
                connection_id = self._connection_id()
                data = self._body()
                if connection_id is None:
                    self._send(404, {"message": "Not Found"})
                elif len(data) > server._gateway.limits.message_bytes:
                    self._send(413, {"message": "Payload too large"}, "PayloadTooLargeException")
                elif server._call(server._gateway.post(connection_id, data)):
                    self._send(200)
                else:
                    self._gone()

            def do_GET(self) -> None:
                if self._is_api():
                    self._serve_api()
                    return
                connection_id = self._connection_id()
                live = server._gateway.connections.get(connection_id or "")
                if live is None:
                    self._gone()
                    return
                # Wire names are camelCase; boto3 presents them as ConnectedAt etc.
                identity = {"sourceIp": live.source_ip, "userAgent": live.user_agent}
                self._send(
                    200,
                    {
                        "connectedAt": live.connected_at.isoformat(),
                        "identity": identity,
                        "lastActiveAt": live.last_active_at.isoformat(),
                    },
                )

            def do_DELETE(self) -> None:
                if self._is_api():
                    self._serve_api()
                    return
                connection_id = self._connection_id()
                if connection_id and server._call(server._gateway.close(connection_id)):
                    self._send(204)
                else:
                    self._gone()

        return Handler
