"""Clients are closed by whoever built them: a Wiring closes the Redis, MongoDB and SQS
clients it made (not those it was given), and the SQS client closes the kept-alive
connection of every thread that called it. A client dropped unclosed keeps its sockets
(and MongoDB's monitor threads) until the collector finds it."""

from __future__ import annotations

import http.server
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import redis
from csms import bootstrap
from csms.adapters.aws_http import AwsJsonClient
from csms.bootstrap import Wiring
from csms.config import Settings
from pymongo.errors import InvalidOperation

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(redis_url: str, mongodb_uri: str) -> Settings:
    return Settings(redis_url=redis_url, mongodb_uri=mongodb_uri)


def used(wiring: Wiring) -> Wiring:
    wiring.mongo.admin.command("ping")
    wiring.redis.ping()
    return wiring


def redis_clients_named(observer: redis.Redis, name: str) -> int:
    return sum(client["name"] == name for client in observer.client_list())


def test_a_wiring_closes_the_clients_it_built(settings, redis_client):
    wiring = used(Wiring(settings))
    name = f"wiring-{uuid.uuid4().hex[:8]}"
    wiring.redis.client_setname(name)
    mongo = wiring.mongo

    wiring.close()

    with pytest.raises(InvalidOperation):
        mongo.admin.command("ping")
    deadline = time.monotonic() + 10  # the server notices the close on its next loop turn
    while redis_clients_named(redis_client, name) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert redis_clients_named(redis_client, name) == 0


def test_a_wiring_leaves_open_the_clients_it_was_given(settings, mongo_client, redis_client):
    wiring = used(Wiring(settings, mongo=mongo_client, redis=redis_client))

    wiring.close()

    assert mongo_client.admin.command("ping")["ok"] == 1
    assert redis_client.ping()


def test_a_reset_wiring_stays_open_until_the_retired_are_closed(settings):
    wiring = used(Wiring(settings))
    bootstrap.use(wiring)

    bootstrap.reset()
    assert wiring.mongo.admin.command("ping")["ok"] == 1  # a handler may still hold it
    bootstrap.close_retired()

    with pytest.raises(InvalidOperation):
        wiring.mongo.admin.command("ping")


class _CountingServer(http.server.ThreadingHTTPServer):
    """Answers every POST with {} on kept-alive connections, and counts the connections
    whose client has closed them."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.closed = threading.Semaphore(0)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _CountingServer

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def finish(self) -> None:  # the client closed the connection (or the server stops)
        super().finish()
        self.server.closed.release()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def counting_server() -> Iterator[_CountingServer]:
    server = _CountingServer()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_the_aws_client_closes_every_threads_connection(counting_server):
    # A local HTTP server stands in for SQS: this is about connections, not the API.
    port = counting_server.server_address[1]
    client = AwsJsonClient("sqs", "AmazonSQS", "us-east-1", f"http://127.0.0.1:{port}",
                           env={"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "x"})
    callers = [threading.Thread(target=client.call, args=("ListQueues", {})) for _ in range(3)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(10)

    client.close()

    assert all(counting_server.closed.acquire(timeout=10) for _ in callers)
