"""`make run` (csms-local run) as a newcomer uses it: it starts every server, seeds and
prints the demo charge point, answers a real charger, and Ctrl-C stops everything."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from csms_local.services import free_port
from ocpp.v16 import call

from .conftest import basic_auth

pytestmark = pytest.mark.e2e

PORT_VARIABLES = ("LOCAL_WS_PORT", "LOCAL_HTTP_PORT", "LOCAL_REDIS_PORT", "LOCAL_MONGO_PORT",
                  "LOCAL_MQTT_PORT", "LOCAL_AWS_PORT")


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
    env = dict(os.environ, LOCAL_DATA_DIR=str(tmp_path / ".local"), **ports)
    for inherited in ("MONGODB_URI", "REDIS_URL", "WEBSOCKET_MANAGEMENT_ENDPOINT",
                      "REDIS_KEY_PREFIX", "JWT_SECRET"):
        env.pop(inherited, None)  # the stack must configure its handlers itself
    command = [str(Path(sys.executable).parent / "csms-local"), "run"]

    def start() -> tuple[subprocess.Popen[str], str]:
        process = subprocess.Popen(command, env=env, cwd=tmp_path, text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        return process, read_banner(process)

    started: list[subprocess.Popen[str]] = []

    def launch() -> str:
        process, banner = start()
        started.append(process)
        return banner

    yield launch, started, {k: int(v) for k, v in ports.items()}
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def credentials(banner: str) -> tuple[str, str, str]:
    url = re.search(r"Charge point URL : (\S+)", banner)
    auth = re.search(r"Basic auth\s+: user (\S+)\s+password (\S+)", banner)
    tag = re.search(r"Accepted id tag\s+: (\S+)", banner)
    assert url and auth and tag, banner
    return url.group(1), auth.group(2), tag.group(1)


async def test_make_run_serves_the_printed_charger_and_ctrl_c_stops_everything(stack):
    launch, started, ports = stack
    url, password, id_tag = credentials(launch())
    assert all(listening(port) for port in ports.values())

    import websockets
    from ocpp.v16 import ChargePoint

    cp_id = url.rsplit("/", 1)[1]
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

    started[0].send_signal(signal.SIGINT)
    assert started[0].wait(60) == 0
    assert not any(listening(port) for port in ports.values())


def test_a_second_start_keeps_the_seeded_demo_credentials(stack):
    launch, started, _ = stack
    first = credentials(launch())
    started[0].send_signal(signal.SIGINT)
    assert started[0].wait(60) == 0
    assert credentials(launch()) == first
