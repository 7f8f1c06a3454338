"""The local @connections and tenant API server answers in two writes (headers, then
body). With Nagle's algorithm on, a kept-alive client (boto3, the API's callers) waited
for its own delayed ACK before the body came: 44 ms on every call, measured."""

from __future__ import annotations

import http.client
import socket
from types import SimpleNamespace
from typing import Any

from csms_local.management import ManagementServer


def test_replies_are_sent_without_nagle_delay() -> None:
    # Given the management server, with the socket option of each accepted connection recorded
    gateway = SimpleNamespace(connections={})  # no charger connected: GET answers 410
    server = ManagementServer(gateway, port=0)  # type: ignore[arg-type]
    handler = server._httpd.RequestHandlerClass
    seen: list[int] = []
    original_setup = handler.setup

    def recording_setup(self: Any) -> None:
        original_setup(self)
        seen.append(self.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    handler.setup = recording_setup  # type: ignore[method-assign]
    server.start()
    try:
        # When a kept-alive client asks for something
        client = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        client.request("GET", "/@connections/nobody")
        status = client.getresponse().status
        client.close()
    finally:
        server.stop()
    # Then its connection had Nagle's algorithm turned off
    assert status == 410
    assert seen and seen[0] != 0
