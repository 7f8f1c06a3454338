"""`make run` (csms-local run) as a newcomer uses it: it starts every server (LocalStack
included), seeds and prints the demo charge point, answers a real charger, and Ctrl-C
stops everything. The first test starts the stack's own LocalStack, as `make run` does;
the others point the stack at the session's shared one (LOCAL_AWS_URL) to save its start."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import websockets
from csms_local import services
from csms_local.services import free_port
from csms_local.tls import client_context
from ocpp.v16 import call
from pymongo import MongoClient

from tests.message_log import logged as logged_entries
from tests.mqtt_subscriber import Subscriber

from .chargers import Charger
from .conftest import Api, basic_auth

pytestmark = pytest.mark.e2e

PORT_VARIABLES = ("LOCAL_WS_PORT", "LOCAL_WSS_PORT", "LOCAL_HTTP_PORT", "LOCAL_REDIS_PORT",
                  "LOCAL_MONGO_PORT", "LOCAL_MQTT_PORT", "LOCAL_AWS_PORT")


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def read_banner(process: subprocess.Popen[str]) -> str:
    """Lines until the stack says it is up; a stack that dies ends the read with EOF."""
    lines: list[str] = []
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line)
        if "Press Ctrl-C" in line:
            return "".join(lines)
    raise AssertionError("stack exited before it was up:\n" + "".join(lines))


@pytest.fixture
def stack(tmp_path: Path):
    ports = {name: str(free_port()) for name in PORT_VARIABLES}
    env = dict(os.environ, LOCAL_DATA_DIR=str(tmp_path / ".local"),
               LOCAL_SWEEP_INTERVAL_SECONDS="0.2", **ports)
    # Variables a shell may hold for something else: the stack must use its own servers.
    env.update(MONGODB_URI="mongodb://127.0.0.1:9", REDIS_URL="redis://127.0.0.1:9/0",
               AWS_ENDPOINT_URL="http://127.0.0.1:9", MQTT_URL="mqtt://127.0.0.1:9",
               WEBSOCKET_MANAGEMENT_ENDPOINT="http://127.0.0.1:9")
    for inherited in ("REDIS_KEY_PREFIX", "JWT_SECRET"):
        env.pop(inherited, None)
    command = [str(Path(sys.executable).parent / "csms-local"), "run"]

    def start(aws_url: str | None) -> tuple[subprocess.Popen[str], str]:
        run_env = env if aws_url is None else dict(env, LOCAL_AWS_URL=aws_url)
        process = subprocess.Popen(command, env=run_env, cwd=tmp_path, text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        return process, read_banner(process)

    started: list[subprocess.Popen[str]] = []

    def launch(aws_url: str | None = None) -> str:
        """`csms-local run`; with aws_url, on that LocalStack instead of its own."""
        process, banner = start(aws_url)
        started.append(process)
        return banner

    yield launch, started, {k: int(v) for k, v in ports.items()}
    for process in started:
        if process.poll() is None:
            # Ctrl-C, so the stack stops the servers it started; kill only if it hangs.
            process.send_signal(signal.SIGINT)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
    for process in started:
        if process.stdout is not None:
            process.stdout.close()


def credentials(banner: str) -> tuple[str, str, str]:
    url = re.search(r"Charge point URL : (\S+)", banner)
    auth = re.search(r"Basic auth\s+: user (\S+)\s+password (\S+)", banner)
    tag = re.search(r"Accepted id tag\s+: (\S+)", banner)
    assert url and auth and tag, banner
    return url.group(1), auth.group(2), tag.group(1)


async def test_make_run_serves_the_printed_charger_and_ctrl_c_stops_everything(stack, tmp_path):
    launch, started, ports = stack
    banner = launch()
    url, password, id_tag = credentials(banner)
    assert all(listening(port) for port in ports.values())
    # The stack's own LocalStack is its AWS (moto's server only where it is not installed).
    aws_port = ports["LOCAL_AWS_PORT"]
    expected = "moto" if services.localstack_missing() else "LocalStack 4.14.0"
    assert f"Local AWS        : http://127.0.0.1:{aws_port}  ({expected}:" in banner, banner

    from ocpp.v16 import ChargePoint

    cp_id = url.rsplit("/", 1)[1]
    subscriber = Subscriber(f"mqtt://127.0.0.1:{ports['LOCAL_MQTT_PORT']}", "ocpp/#")
    async with websockets.connect(url, subprotocols=["ocpp1.6"],  # type: ignore[list-item]
                                  additional_headers=basic_auth(cp_id, password)) as ws:
        client = ChargePoint(cp_id, ws)
        listener = asyncio.create_task(client.start())
        boot = await client.call(call.BootNotification(charge_point_vendor="Acme",
                                                       charge_point_model="Wallbox"))
        authorized = await client.call(call.Authorize(id_tag=id_tag))
        listener.cancel()
    assert boot.status == "Accepted"
    assert authorized.id_tag_info["status"] == "Accepted"
    # The event worker stored the message log and published the charger's events.
    events = await asyncio.to_thread(
        subscriber.wait_for, lambda m: [e["type"] for _, e in m][:3] == [
            "connected", "boot", "disconnected"])
    subscriber.close()
    assert [(t, e["type"]) for t, e in events] == [
        (f"ocpp/status/demo/{cp_id}", "connected"),
        (f"ocpp/status/demo/{cp_id}", "boot"),
        (f"ocpp/status/demo/{cp_id}", "disconnected"),
    ]
    mongo = MongoClient(f"mongodb://127.0.0.1:{ports['LOCAL_MONGO_PORT']}")
    logged = logged_entries(mongo["ocpp_tenant_demo"]["ocpp_messages"], {"charge_point_id": cp_id})
    assert sorted((m["action"], m["direction"]) for m in logged) == [
        ("Authorize", "in"), ("Authorize", "out"),
        ("BootNotification", "in"), ("BootNotification", "out")]
    mongo.close()

    # Security profile 2: the printed wss:// URL, trusting the printed CA file.
    secure = re.search(r"Charge point wss : (\S+)\s+\(trust CA file (\S+)\)", banner)
    assert secure, banner
    async with websockets.connect(secure.group(1), subprotocols=["ocpp1.6"],  # type: ignore[list-item]
                                  ssl=client_context(tmp_path / secure.group(2)),
                                  additional_headers=basic_auth(cp_id, password)) as ws:
        client = ChargePoint(cp_id, ws)
        listener = asyncio.create_task(client.start())
        heartbeat = await client.call(call.Heartbeat())
        listener.cancel()
    assert heartbeat.current_time

    started[0].send_signal(signal.SIGINT)
    assert started[0].wait(60) == 0
    assert not any(listening(port) for port in ports.values())
    if not services.localstack_missing():  # its state and log under the data dir
        assert (tmp_path / ".local" / "localstack").is_dir()
        assert "Ready." in (tmp_path / ".local" / "logs" / "aws.log").read_text()
    # The scheduled function ran on its (shortened) schedule meanwhile.
    scheduler_log = (tmp_path / ".local" / "logs" / "scheduler.log").read_text()
    assert re.search(r"command_sweeper (ran|failed)", scheduler_log), scheduler_log


def test_a_second_start_keeps_the_seeded_demo_credentials(stack, local_aws_url):
    launch, started, _ = stack
    first = credentials(launch(local_aws_url))
    started[0].send_signal(signal.SIGINT)
    assert started[0].wait(60) == 0
    assert credentials(launch(local_aws_url)) == first


def token(tmp_path: Path, *args: str) -> str:
    """`csms-admin token issue ...` as the README shows it, next to the running stack."""
    admin = str(Path(sys.executable).parent / "csms-admin")
    env = dict(os.environ, LOCAL_DATA_DIR=str(tmp_path / ".local"))
    env.pop("JWT_SECRET", None)
    out = subprocess.run([admin, "token", "issue", *args], env=env, cwd=tmp_path,
                         capture_output=True, text=True, check=True).stdout
    return str(json.loads(out)["token"])


async def test_a_newcomer_registers_connects_and_remote_starts_a_charger(
    stack, tmp_path, local_aws_url
):
    launch, _, ports = stack
    url = credentials(launch(local_aws_url))[0]
    base = f"http://127.0.0.1:{ports['LOCAL_HTTP_PORT']}"
    demo = Api(base, token(tmp_path, "--tenant", "demo", "--role", "admin"))
    platform = Api(base, token(tmp_path, "--role", "platform-admin"))

    # Register a charger through the API and connect it with the password it returns.
    registered = demo.post("/v1/charge-points", {"charge_point_id": "NEWCOMER-1"})
    assert registered.status == 201
    cp_url = url.rsplit("/", 1)[0] + "/NEWCOMER-1"
    async with websockets.connect(
        cp_url, subprotocols=["ocpp1.6"],  # type: ignore[list-item]
        additional_headers=basic_auth("NEWCOMER-1", registered.json["password"]),
    ) as ws:
        cp = Charger("NEWCOMER-1", ws)
        listener = asyncio.create_task(cp.start())
        await cp.call(call.BootNotification(charge_point_vendor="Acme",
                                            charge_point_model="Wallbox"))
        started_reply = await asyncio.to_thread(
            demo.post, "/v1/charge-points/NEWCOMER-1/commands/RemoteStartTransaction",
            {"idTag": "DEMO-TAG-1", "connectorId": 1}, wait=10,
        )
        transaction_id = await asyncio.wait_for(cp.started, 10)
        listener.cancel()

    assert started_reply.status == 200
    assert started_reply.json["response"] == {"status": "Accepted"}
    listed = demo.get("/v1/transactions", charge_point_id="NEWCOMER-1").json["items"]
    assert [t["transaction_id"] for t in listed] == [transaction_id]

    # Another tenant's token reaches none of it.
    assert platform.post("/v1/tenants", {"tenant_id": "other", "name": "Other"}).status == 201
    other = Api(base, token(tmp_path, "--tenant", "other", "--role", "admin"))
    assert other.get("/v1/charge-points/NEWCOMER-1").status == 404
    assert other.get("/v1/transactions").json["items"] == []
    reply = other.post("/v1/charge-points/NEWCOMER-1/commands/Reset", {"type": "Soft"})
    assert reply.status == 404
