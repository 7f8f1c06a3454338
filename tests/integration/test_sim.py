"""csms-sim against the anchor (a plain `ocpp`-package central system on a free loopback
port): no project stack, real sockets, bounded runs."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import pytest
from csms_local.sim import SimConfig, SimConfigError, simulate
from csms_local.sim.anchor import Anchor, AnchorChargePoint
from csms_local.sim.cli import main
from ocpp.routing import after, on
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action

pytestmark = pytest.mark.integration

SUMMARY_KEYS = {
    "target",
    "profile",
    "chargers",
    "processes",
    "duration_s",
    "msgs",
    "msgs_per_s",
    "latency_ms",
    "calls_sent",
    "commands_answered",
    "by_action",
    "errors",
    "error_count",
    "connects",
    "reconnects",
    "connected_at_end",
    "transactions",
    "storms",
    "verify",
}


async def test_saturate_cli_prints_a_json_summary_without_errors() -> None:
    async with Anchor() as anchor:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "csms_local.sim.cli",
            *("--url", anchor.url, "--chargers", "5", "--duration", "2", "--json", "--quiet"),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    summary = json.loads(out)
    assert set(summary) == SUMMARY_KEYS
    assert set(summary["latency_ms"]) == {"p50", "p95", "p99", "max"}
    assert summary["msgs"] > 0 and summary["msgs_per_s"] > 0
    assert summary["error_count"] == 0 and summary["errors"] == {}
    assert summary["connects"] == 5 and summary["connected_at_end"] == 5
    assert summary["by_action"]["BootNotification"] == 5
    assert summary["latency_ms"]["p50"] <= summary["latency_ms"]["p99"]


async def test_storm_brings_every_charger_back() -> None:
    async with Anchor() as anchor:
        summary = await simulate(
            SimConfig(
                url=anchor.url, chargers=8, profile="storm", storms=2, duration=60, progress=False
            )
        )
    assert summary.error_count == 0, summary.errors
    assert summary.reconnects == 16 and summary.connected_at_end == 8
    assert [s["storm"] for s in summary.storms] == [1, 2]
    assert all(s["all_back_s"] < 30 for s in summary.storms)
    assert summary.by_action["BootNotification"] == 24
    assert summary.duration_s < 60  # the run ends with the last storm


@pytest.mark.parametrize("url", ["ws://192.0.2.1:9000/ocpp", "wss://192.0.2.1/ocpp"])
def test_the_loopback_guard_refuses_other_hosts(url: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SimConfigError, match="loopback"):
        SimConfig(url=url).check()
    SimConfig(url=url, allow_remote=True).check()
    assert main(["--url", url, "--chargers", "1", "--duration", "1"]) == 2
    assert "not a loopback address" in capsys.readouterr().err
    for loopback in ("ws://127.0.0.2:1/ocpp", "ws://localhost:1/ocpp", "ws://[::1]:1/ocpp"):
        SimConfig(url=loopback).check()


def test_bounds_are_enforced() -> None:
    for bad in (
        SimConfig(chargers=0),
        SimConfig(chargers=20_001),
        SimConfig(duration=3_601),
        SimConfig(duration=5, ramp=6),
        SimConfig(chargers=2, processes=3),
        SimConfig(url="http://127.0.0.1/ocpp"),
    ):
        with pytest.raises(SimConfigError):
            bad.check()


class Commanding(AnchorChargePoint):
    """An anchor that reports what the simulated charger sends after a command."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        loop = asyncio.get_running_loop()
        self.booted: asyncio.Future[None] = loop.create_future()
        self.started: asyncio.Future[dict[str, Any]] = loop.create_future()
        self.stopped: asyncio.Future[dict[str, Any]] = loop.create_future()

    @on(Action.boot_notification)
    def on_boot(self, **kwargs: Any) -> call_result.BootNotification:
        if not self.booted.done():
            self.booted.set_result(None)
        return super().on_boot(**kwargs)

    @on(Action.start_transaction)
    def on_start(self, **kwargs: Any) -> call_result.StartTransaction:
        return call_result.StartTransaction(transaction_id=42, id_tag_info={"status": "Accepted"})

    @after(Action.start_transaction)
    def after_start(self, **kwargs: Any) -> None:
        # Only now is the answer (and its transactionId) on its way to the charger.
        self.started.set_result(kwargs)

    @on(Action.stop_transaction)
    def on_stop(self, **kwargs: Any) -> call_result.StopTransaction:
        self.stopped.set_result(kwargs)
        return call_result.StopTransaction()


async def test_the_simulated_charger_acts_on_commands() -> None:
    """RemoteStart -> StartTransaction, RemoteStop -> StopTransaction, Reset -> a new
    connection with a BootNotification; everything else a plausible answer."""
    async with Anchor(charge_point=Commanding) as anchor:
        stop = asyncio.Event()
        config = SimConfig(
            url=anchor.url, chargers=1, profile="fleet", charging_share=0, duration=60
        )
        config.progress = False
        run = asyncio.create_task(simulate(config, stop=stop))
        try:
            async with asyncio.timeout(30):
                cp = await anchor.wait_for("SIM-00001")
                assert isinstance(cp, Commanding)
                await cp.booted
                answer = await cp.call(
                    call.RemoteStartTransaction(id_tag="TAG-1", connector_id=1)
                )
                assert answer.status == "Accepted"
                started = await cp.started
                assert started["id_tag"] == "TAG-1" and started["connector_id"] == 1
                answer = await cp.call(call.RemoteStopTransaction(transaction_id=42))
                assert answer.status == "Accepted"
                assert (await cp.stopped)["reason"] == "Remote"
                config_answer = await cp.call(call.GetConfiguration(key=["HeartbeatInterval"]))
                assert config_answer.configuration_key[0]["value"] == "300"
                assert (await cp.call(call.ChangeAvailability(1, "Inoperative"))).status == (
                    "Accepted"
                )
                assert (await cp.call(call.Reset(type="Soft"))).status == "Accepted"
                again = await anchor.wait_for("SIM-00001", other_than=cp)
                await again.booted  # type: ignore[attr-defined]
        finally:
            stop.set()
        summary = await asyncio.wait_for(run, 30)
    assert summary.error_count == 0, summary.errors
    assert summary.reconnects == 1
    assert summary.commands_answered == 5
    assert summary.transactions == {"started": 1, "stopped": 1}
