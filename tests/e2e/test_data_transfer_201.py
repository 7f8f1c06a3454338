"""Vendor DataTransfer (OCPP 2.0.1 block P, and 1.6) through the local gateway: the
tenant's handler per vendorId stores and acknowledges, or forwards to an HTTP endpoint
whose reply is the answer; unknown vendors get UnknownVendorId; stored ones are
published as data_transfer events."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from ocpp.v16 import call

from tests.event_schemas import validate_event
from tests.mqtt_subscriber import Subscriber

from .conftest import api_for, connected
from .test_commands_201 import station
from .test_events import evented_gateway  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.e2e]

SECRET = "a-shared-secret-0123456789"


class Endpoint:
    """The tenant's HTTP endpoint: answers with the price of what it was sent."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, Any], str | None, bool]] = []
        received = self.received

        class Handle(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                signed = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                request = json.loads(body)
                received.append((request, self.headers.get("X-Csms-Signature"),
                                 self.headers.get("X-Csms-Signature") == signed))
                reply = json.dumps({"status": "Accepted",
                                    "data": {"price": 3, "echo": request["data"]}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handle)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    running = Endpoint()
    thread = threading.Thread(target=running.server.serve_forever, daemon=True)
    thread.start()
    yield running
    running.server.shutdown()
    running.server.server_close()


async def test_vendor_handlers_store_forward_or_refuse(
    evented_gateway, fleet, mqtt_url, endpoint  # noqa: F811
):
    gateway = evented_gateway
    admin = api_for(gateway, fleet.tenant_id, "admin")
    cp_id = fleet.add_charge_point("DT201")
    subscriber = Subscriber(mqtt_url, f"ocpp/events/{fleet.tenant_id}/{cp_id}/data_transfer")
    assert admin.put("/v1/data-transfer/vendors/com.acme.store", {"mode": "store"}).status == 200
    assert admin.put("/v1/data-transfer/vendors/com.acme.price", {
        "mode": "forward", "url": endpoint.url, "secret": SECRET,
        "message_ids": ["Price"]}).status == 200
    assert admin.put("/v1/data-transfer/vendors/com.acme.down", {
        "mode": "forward", "url": "http://127.0.0.1:9/down", "timeout_seconds": 1}).status == 200
    refused = admin.put("/v1/data-transfer/vendors/com.acme.web",
                        {"mode": "forward", "url": "http://example.com/hook"})
    listed = admin.get("/v1/data-transfer/vendors/com.acme.price").json

    async with station(gateway, cp_id) as cs:
        unknown = await cs.call("DataTransfer", {"vendorId": "com.other"})
        stored = await cs.call("DataTransfer", {"vendorId": "com.acme.store",
                                                "messageId": "Stats", "data": {"kwh": 12}})
        priced = await cs.call("DataTransfer", {"vendorId": "com.acme.price",
                                                "messageId": "Price", "data": "EVSE-1"})
        other_message = await cs.call("DataTransfer", {"vendorId": "com.acme.price",
                                                       "messageId": "Other"})
        down = await cs.call("DataTransfer", {"vendorId": "com.acme.down", "data": 1})

    assert refused.status == 422
    assert listed["has_secret"] is True and "secret" not in listed
    assert unknown == {"status": "UnknownVendorId"}
    assert stored == {"status": "Accepted"}
    assert priced == {"status": "Accepted", "data": {"price": 3, "echo": "EVSE-1"}}
    [(sent, _, signed)] = endpoint.received
    assert signed
    assert (sent["charge_point_id"], sent["vendorId"], sent["messageId"], sent["ocpp_version"]) \
        == (cp_id, "com.acme.price", "Price", "ocpp2.0.1")
    assert other_message == {"status": "UnknownMessageId"}
    assert down["status"] == "Rejected"
    assert down["statusInfo"]["reasonCode"] == "EndpointFailed"

    kept = admin.get(f"/v1/charge-points/{cp_id}/data-transfers").json["items"]
    assert sorted((k["vendor_id"], k["status"]) for k in kept) == [
        ("com.acme.down", "Rejected"), ("com.acme.price", "Accepted"),
        ("com.acme.store", "Accepted")]
    received = await asyncio.to_thread(subscriber.wait_for, lambda m: len(m) >= 3)
    subscriber.close()
    for _, event in received:
        validate_event(event)
    assert received[0][1]["data"]["data"] == {"kwh": 12}


async def test_a_16_charger_gets_the_same_handlers(gateway, fleet, endpoint):
    admin = api_for(gateway, fleet.tenant_id, "admin")
    assert admin.put("/v1/data-transfer/vendors/com.acme.price16", {
        "mode": "forward", "url": endpoint.url}).status == 200
    assert admin.put("/v1/data-transfer/vendors/com.acme.store16", {"mode": "store"}
                     ).status == 200
    cp_id = fleet.add_charge_point("DT16")
    async with connected(gateway, cp_id) as (cp, _):
        priced = await cp.call(call.DataTransfer(vendor_id="com.acme.price16",
                                                 message_id="Price", data="EVSE-1"))
        stored = await cp.call(call.DataTransfer(vendor_id="com.acme.store16", data="x"))
        unknown = await cp.call(call.DataTransfer(vendor_id="com.nobody"))
    assert priced.status == "Accepted"
    assert json.loads(priced.data) == {"price": 3, "echo": "EVSE-1"}
    assert endpoint.received[0][0]["ocpp_version"] == "ocpp1.6"
    assert stored.status == "Accepted"
    assert unknown.status == "UnknownVendorId"
    assert admin.delete("/v1/data-transfer/vendors/com.acme.store16").status == 204
