"""The local gateway behaves like API Gateway: the @connections API on real sockets,
message size limits, idle timeout and maximum connection duration."""

from __future__ import annotations

import asyncio
import json

import boto3
import pytest
from csms import bootstrap
from csms_local.gateway import GatewayLimits
from websockets.frames import Frame, Opcode

from .conftest import PASSWORD, basic_auth, raw_socket, start_gateway

pytestmark = pytest.mark.e2e


def management_client(gateway):
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=f"http://127.0.0.1:{gateway.management.port}/local",
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


async def only_connection_of(gateway, cp_id):
    """The id $connect registered, once the gateway serves the socket under it."""
    connection_id = bootstrap.connection_registry().connection_of(cp_id)
    for _ in range(100):
        if connection_id in gateway.gateway.connections:
            break
        await asyncio.sleep(0.02)  # the handshake completes just after $connect
    return connection_id


async def test_post_to_connection_reaches_the_charger(gateway, fleet):
    cp_id = fleet.add_charge_point("MGMT-POST")
    async with raw_socket(gateway, cp_id) as ws:
        connection_id = await only_connection_of(gateway, cp_id)
        await asyncio.to_thread(management_client(gateway).post_to_connection,
                                ConnectionId=connection_id, Data=b'[2,"c1","ClearCache",{}]')
        assert json.loads(await asyncio.wait_for(ws.recv(), 10)) == [2, "c1", "ClearCache", {}]


@pytest.mark.parametrize("size", [125, 126, 65_535, 65_536, 100_000])
async def test_posts_of_every_frame_length_form_arrive_whole(gateway, fleet, size):
    # RFC 6455 writes a payload's length in 7 bits up to 125 bytes, 16 bits up to 65,535,
    # and 64 bits beyond; the gateway's send path skips websockets' `send` for replies.
    cp_id = fleet.add_charge_point(f"MGMT-POST-{size}")
    text = '[2,"c1","DataTransfer",{"vendorId":"' + "é" * 2 + "x" * (size - 43) + '"}]'
    assert len(text.encode()) == size
    async with raw_socket(gateway, cp_id) as ws:
        connection_id = await only_connection_of(gateway, cp_id)
        await asyncio.to_thread(management_client(gateway).post_to_connection,
                                ConnectionId=connection_id, Data=text.encode())
        assert await asyncio.wait_for(ws.recv(), 10) == text


async def test_get_connection_describes_the_socket(gateway, fleet):
    cp_id = fleet.add_charge_point("MGMT-GET")
    async with raw_socket(gateway, cp_id):
        connection_id = await only_connection_of(gateway, cp_id)
        info = await asyncio.to_thread(management_client(gateway).get_connection,
                                       ConnectionId=connection_id)
    assert info["Identity"]["SourceIp"] == "127.0.0.1"
    assert "ConnectedAt" in info and "LastActiveAt" in info


async def test_delete_connection_closes_the_socket(gateway, fleet):
    cp_id = fleet.add_charge_point("MGMT-DELETE")
    async with raw_socket(gateway, cp_id) as ws:
        connection_id = await only_connection_of(gateway, cp_id)
        await asyncio.to_thread(management_client(gateway).delete_connection,
                                ConnectionId=connection_id)
        await asyncio.wait_for(ws.wait_closed(), 10)


async def test_posting_to_a_closed_connection_raises_gone(gateway):
    client = management_client(gateway)
    with pytest.raises(client.exceptions.GoneException):
        await asyncio.to_thread(client.post_to_connection, ConnectionId="bm9uZQ==", Data=b"x")


async def test_a_fragmented_message_over_128_kb_closes_with_1009(gateway, fleet):
    cp_id = fleet.add_charge_point("BIGMSG")
    async with raw_socket(gateway, cp_id, max_size=None) as ws:
        chunk = b"a" * (30 * 1024)  # every frame under the 32 KB frame limit
        ws.protocol.send_frame(Frame(Opcode.TEXT, b'[2,"b","DataTransfer",{"vendorId":"x","data":"',
                                     fin=False))
        for _ in range(5):
            ws.protocol.send_frame(Frame(Opcode.CONT, chunk, fin=False))
        ws.protocol.send_frame(Frame(Opcode.CONT, b'"}]', fin=True))
        ws.send_data()
        await asyncio.wait_for(ws.wait_closed(), 10)
    assert ws.close_code == 1009


async def test_a_fragmented_message_under_128_kb_is_answered(gateway, fleet):
    cp_id = fleet.add_charge_point("FRAGMSG")
    async with raw_socket(gateway, cp_id, max_size=None) as ws:
        ws.protocol.send_frame(Frame(Opcode.TEXT, b'[2,"f","DataTransfer",{"vendorId":"x","data":"',
                                     fin=False))
        for _ in range(2):
            ws.protocol.send_frame(Frame(Opcode.CONT, b"a" * (30 * 1024), fin=False))
        ws.protocol.send_frame(Frame(Opcode.CONT, b'"}]', fin=True))
        ws.send_data()
        reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert reply == [3, "f", {"status": "UnknownVendorId"}]


@pytest.fixture
def short_lived_gateway(csms_env):
    patch = pytest.MonkeyPatch()
    running = start_gateway(GatewayLimits(idle_timeout=0.5, max_duration=1.5), patch)
    yield running
    running.stop()
    patch.undo()


async def test_an_idle_connection_is_closed_with_1001(short_lived_gateway, fleet):
    cp_id = fleet.add_charge_point("IDLE")
    async with raw_socket(short_lived_gateway, cp_id) as ws:
        await asyncio.wait_for(ws.wait_closed(), 10)
    assert ws.close_code == 1001 and "idle" in ws.close_reason


async def test_a_busy_connection_is_closed_at_the_maximum_duration(short_lived_gateway, fleet):
    cp_id = fleet.add_charge_point("LONG")
    async with raw_socket(short_lived_gateway, cp_id) as ws:
        async def keep_busy():
            while True:
                await ws.send('[2,"hb","Heartbeat",{}]')
                await ws.recv()
                await asyncio.sleep(0.2)  # a charger's pace, well under the idle timeout

        busy = asyncio.create_task(keep_busy())
        await asyncio.wait_for(ws.wait_closed(), 10)
        busy.cancel()
    assert ws.close_code == 1001 and "duration" in ws.close_reason


async def test_a_failed_upgrade_after_connect_leaves_no_registered_connection(gateway, fleet):
    cp_id = fleet.add_charge_point("BADUPGRADE")
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.gateway.port)
    auth = basic_auth(cp_id, PASSWORD)["Authorization"]
    writer.write(
        f"GET /ocpp/{cp_id} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        f"Sec-WebSocket-Version: 7\r\nSec-WebSocket-Protocol: ocpp1.6\r\n"
        f"Authorization: {auth}\r\n\r\n".encode()
    )
    status_line = await asyncio.wait_for(reader.readline(), 10)
    writer.close()
    assert b" 101 " not in status_line
    assert bootstrap.connection_registry().connection_of(cp_id) is None
