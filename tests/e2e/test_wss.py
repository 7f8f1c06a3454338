"""OCPP security profile 2 locally: wss:// with the gateway's own CA and HTTP Basic auth,
beside ws://, through the same handlers and the same connections."""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import websockets
from csms_local.gateway import WebSocketGateway
from csms_local.tls import ensure_certificates, server_context
from ocpp.v16 import call
from websockets.exceptions import InvalidStatus

from .chargers import Charger
from .conftest import GatewayThread, api_for, basic_auth, connected, raw_socket

pytestmark = pytest.mark.e2e


def now() -> str:
    return datetime.now(UTC).isoformat()


def tls_version(ws: websockets.ClientConnection) -> str | None:
    ssl_object = ws.transport.get_extra_info("ssl_object")
    return None if ssl_object is None else ssl_object.version()


async def test_a_charging_session_over_wss_is_answered_and_stored(gateway, fleet):
    cp_id = fleet.add_charge_point("WSS-SESSION")
    async with connected(gateway, cp_id, scheme="wss") as (cp, ws):
        assert tls_version(ws) in ("TLSv1.2", "TLSv1.3")
        boot = await cp.call(call.BootNotification(charge_point_model="Wallbox",
                                                   charge_point_vendor="Acme"))
        await cp.call(call.StatusNotification(connector_id=1, error_code="NoError",
                                              status="Preparing", timestamp=now()))
        authorized = await cp.call(call.Authorize(id_tag="ACCEPTED"))
        started = await cp.call(call.StartTransaction(connector_id=1, id_tag="ACCEPTED",
                                                      meter_start=500, timestamp=now()))
        transaction_id = started.transaction_id
        await cp.call(call.MeterValues(connector_id=1, transaction_id=transaction_id,
                                       meter_value=[{"timestamp": now(), "sampledValue": [
                                           {"value": "900", "measurand":
                                            "Energy.Active.Import.Register", "unit": "Wh"}]}]))
        stopped = await cp.call(call.StopTransaction(meter_stop=1700, timestamp=now(),
                                                     transaction_id=transaction_id,
                                                     reason="Local"))

    assert boot.status == "Accepted"
    assert authorized.id_tag_info["status"] == "Accepted"
    assert started.id_tag_info["status"] == "Accepted"
    assert stopped.id_tag_info is None or stopped.id_tag_info["status"] == "Accepted"
    transaction = fleet.db["transactions"].find_one({"_id": transaction_id})
    assert transaction["charge_point_id"] == cp_id
    assert transaction["status"] == "Completed"
    assert (transaction["meter_start"], transaction["meter_stop"]) == (500, 1700)
    assert transaction["energy_wh"] == 1200
    assert fleet.db["meter_values"].count_documents({"transaction_id": transaction_id}) == 1


async def test_a_wrong_password_over_wss_is_refused_with_401(gateway, fleet):
    cp_id = fleet.add_charge_point("WSS-WRONGPW")
    with pytest.raises(InvalidStatus) as refused:
        async with connected(gateway, cp_id, password="not-the-password-123", scheme="wss"):
            pass
    assert refused.value.response.status_code == 401


async def test_a_charger_that_does_not_trust_the_ca_fails_the_handshake(gateway, fleet):
    cp_id = fleet.add_charge_point("WSS-UNTRUSTED")
    system_trust_only = ssl.create_default_context()
    with pytest.raises(ssl.SSLCertVerificationError):
        async with websockets.connect(gateway.wss_url(cp_id), ssl=system_trust_only,
                                      subprotocols=["ocpp1.6"],  # type: ignore[list-item]
                                      additional_headers=basic_auth(cp_id, "whatever"),
                                      open_timeout=10):
            pass


async def test_a_command_reaches_a_charger_connected_over_wss(gateway, fleet):
    """One connections map behind both listeners: @connections finds wss chargers."""
    cp_id = fleet.add_charge_point("WSS-COMMAND")
    operator = api_for(gateway, fleet.tenant_id, "operator")
    async with connected(gateway, cp_id, client=Charger, scheme="wss") as (cp, _):
        await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        reply = await asyncio.to_thread(
            operator.post, f"/v1/charge-points/{cp_id}/commands/Reset", {"type": "Soft"},
            wait=10)
    assert (reply.status, reply.json["status"]) == (200, "completed")
    assert cp.received == ["Reset"]


async def test_moving_from_ws_to_wss_replaces_the_old_connection(gateway, fleet):
    cp_id = fleet.add_charge_point("WSS-UPGRADE")
    async with (
        connected(gateway, cp_id, scheme="ws") as (_, plain),
        connected(gateway, cp_id, scheme="wss") as (secure, _),
    ):
        await asyncio.wait_for(plain.wait_closed(), 10)
        assert (await secure.call(call.Heartbeat())).current_time
    assert plain.close_code == 1000


async def test_frame_limits_hold_on_both_listeners(gateway, fleet, scheme):
    cp_id = fleet.add_charge_point(f"LIMIT-{scheme.upper()}")
    async with raw_socket(gateway, cp_id, scheme=scheme, max_size=None) as ws:
        await ws.send(json.dumps([2, "big", "DataTransfer", {"vendorId": "x",
                                                             "data": "a" * (33 * 1024)}]))
        await asyncio.wait_for(ws.wait_closed(), 10)
    assert ws.close_code == 1009


async def test_each_event_names_the_listener_the_charger_used(gateway: GatewayThread):
    """domainName is the listener's; the certificate serves localhost as well as the IP."""
    events: list[dict[str, Any]] = []
    disconnected = threading.Event()

    def accept(event: dict[str, Any], context: Any) -> dict[str, Any]:
        events.append(event)
        return {"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": "ocpp1.6"}}

    def answer(event: dict[str, Any], context: Any) -> dict[str, Any]:
        events.append(event)
        return {"statusCode": 200}

    def disconnect(event: dict[str, Any], context: Any) -> dict[str, Any]:
        events.append(event)
        disconnected.set()
        return {"statusCode": 200}

    local = WebSocketGateway(accept, answer, disconnect, port=0,
                             ssl=server_context(gateway.tls), tls_port=0)
    await local.start()
    try:
        for url, options in [
            (f"ws://127.0.0.1:{local.port}/ocpp/A", {}),
            (f"wss://127.0.0.1:{local.tls_port}/ocpp/B", {"ssl": gateway.client_ssl()}),
            (f"wss://localhost:{local.tls_port}/ocpp/C", {"ssl": gateway.client_ssl()}),
        ]:
            disconnected.clear()
            async with websockets.connect(url, subprotocols=["ocpp1.6"],  # type: ignore[list-item]
                                          open_timeout=10, **options) as ws:
                await ws.send('[2,"1","Heartbeat",{}]')
            assert await asyncio.to_thread(disconnected.wait, 10)
    finally:
        await local.stop()

    seen = [(e["requestContext"]["eventType"], e["requestContext"]["domainName"]) for e in events]
    plain, secure = f"127.0.0.1:{local.port}", f"127.0.0.1:{local.tls_port}"
    assert seen == [("CONNECT", plain), ("MESSAGE", plain), ("DISCONNECT", plain)] + [
        ("CONNECT", secure), ("MESSAGE", secure), ("DISCONNECT", secure)] * 2
    assert [e["queryStringParameters"]["chargePointId"] for e in events[::3]] == ["A", "B", "C"]



def test_the_local_ca_is_made_once_and_the_server_certificate_renewed_near_expiry(tmp_path):
    from cryptography import x509

    first = ensure_certificates(tmp_path / "tls")
    ca, server = first.ca_cert.read_bytes(), first.server_cert.read_bytes()
    assert {p.name: p.stat().st_mode & 0o777 for p in (first.ca_key, first.server_key)} == {
        "ca-key.pem": 0o600, "server-key.pem": 0o600}
    cert = x509.load_pem_x509_certificate(server)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]

    # A later start reuses both.
    again = ensure_certificates(tmp_path / "tls")
    assert (again.ca_cert.read_bytes(), again.server_cert.read_bytes()) == (ca, server)

    # Close to its expiry, the server certificate is made again by the same CA.
    later = cert.not_valid_after_utc - timedelta(days=1)
    renewed = ensure_certificates(tmp_path / "tls", now=later)
    assert renewed.ca_cert.read_bytes() == ca
    fresh = x509.load_pem_x509_certificate(renewed.server_cert.read_bytes())
    assert fresh.not_valid_after_utc > cert.not_valid_after_utc
    fresh.verify_directly_issued_by(x509.load_pem_x509_certificate(ca))
