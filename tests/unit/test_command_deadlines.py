"""Commands never wait forever: closed connections, silent chargers and the sweep."""

from __future__ import annotations

import json

import pytest
from csms.domain.commands import CONNECTION_CLOSED, NO_ANSWER_IN_TIME, CommandStatus
from csms.domain.model import ConnectionInfo, Tenant
from csms.services.command_sweep import CommandSweeper

from .conftest import CONNECTION, CP, NOW, TENANT, World

RESET = {"type": "Soft"}


def submit(world: World, action: str = "Reset", payload: dict | None = None, **kwargs):
    command = world.commands.submit(TENANT, CP, action, RESET if payload is None else payload,
                                    **kwargs)
    world.records.flush()
    return command


def status_of(world: World, command) -> CommandStatus:
    return world.tenant.commands.get(command.command_id).status


def sent_ids(world: World) -> list[str]:
    return [json.loads(data)[1] for _, data in world.gateway.sent]


@pytest.fixture
def sweeper(world: World) -> CommandSweeper:
    world.directory.create_tenant(Tenant(TENANT, "Tenant A"))
    return CommandSweeper(world.directory, world.store, world.commands, world.clock)


def test_a_disconnect_fails_the_command_in_flight_on_that_connection(world: World):
    command = submit(world)

    world.connect.disconnect(CONNECTION, 1006, "gone")

    done = world.tenant.commands.get(command.command_id)
    assert done.status is CommandStatus.FAILED
    assert done.error == {"reason": CONNECTION_CLOSED}
    assert not world.pending.has(CP, command.command_id)


def test_a_newer_connection_fails_the_command_in_flight_on_the_old_one(world: World):
    command = submit(world)

    world.commands.release_connection(TENANT, CP, CONNECTION)  # what $connect does on replace

    assert status_of(world, command) is CommandStatus.FAILED


def test_closing_another_connection_leaves_the_command_in_flight_alone(world: World):
    command = submit(world)

    world.commands.release_connection(TENANT, CP, "an-older-connection")

    assert status_of(world, command) is CommandStatus.SENT
    assert world.pending.has(CP, command.command_id)


def test_an_answer_after_the_connection_closed_is_logged_as_unmatched(world: World):
    command = submit(world)
    world.commands.release_connection(TENANT, CP, CONNECTION)

    world.send([3, command.command_id, {"status": "Accepted"}])

    assert status_of(world, command) is CommandStatus.FAILED
    (entry,) = [m for m in world.tenant.messages.entries if m["message_id"] == command.command_id
                and m["direction"] == "in"]
    assert entry["matched"] is False


def test_a_reconnect_delivers_queued_commands_without_a_call_from_the_charger(world: World):
    world.registry.current.clear()
    queued = submit(world, queue_if_offline=True)
    world.registry.register(ConnectionInfo("conn-2", CP, TENANT, "ocpp1.6", NOW))

    world.commands.deliver_after_connect(TENANT, CP, NOW)

    assert status_of(world, queued) is CommandStatus.SENT
    assert world.gateway.sent[-1][0] == "conn-2"


def test_a_fresh_connection_is_retried_until_its_handshake_completes(world: World):
    world.gateway.gone.add(CONNECTION)
    attempts = []
    world.commands._sleep = lambda seconds: (attempts.append(seconds),
                                             world.gateway.gone.discard(CONNECTION))

    command = submit(world)

    assert status_of(world, command) is CommandStatus.SENT
    assert len(attempts) == 1


def test_submitting_takes_over_a_pending_entry_past_its_deadline(world: World):
    silent = submit(world)
    world.clock.advance(31)

    nxt = submit(world, "ClearCache", {})

    assert status_of(world, silent) is CommandStatus.TIMED_OUT
    assert world.tenant.commands.get(silent.command_id).error == {"reason": NO_ANSWER_IN_TIME}
    assert status_of(world, nxt) is CommandStatus.SENT
    assert sent_ids(world) == [silent.command_id, nxt.command_id]


def test_a_pending_entry_within_its_deadline_is_not_taken_over(world: World):
    first = submit(world)
    world.clock.advance(29)

    second = submit(world, "ClearCache", {})

    assert status_of(world, first) is CommandStatus.SENT
    assert status_of(world, second) is CommandStatus.QUEUED


def test_the_sweep_times_out_a_silent_command_and_sends_the_next(
    world: World, sweeper: CommandSweeper
):
    silent = submit(world)
    nxt = submit(world, "ClearCache", {})
    world.clock.advance(31)

    assert sweeper.sweep() == {"timed_out": 1, "charge_points": 1}

    assert status_of(world, silent) is CommandStatus.TIMED_OUT
    assert status_of(world, nxt) is CommandStatus.SENT
    assert sent_ids(world)[-1] == nxt.command_id


def test_the_sweep_times_out_commands_queued_past_their_deadline(
    world: World, sweeper: CommandSweeper
):
    world.registry.current.clear()
    queued = submit(world, queue_if_offline=True)
    world.clock.advance(601)

    sweeper.sweep()

    assert status_of(world, queued) is CommandStatus.TIMED_OUT


def test_the_sweep_leaves_commands_within_their_deadline(world: World, sweeper: CommandSweeper):
    command = submit(world)
    world.clock.advance(10)

    assert sweeper.sweep() == {"timed_out": 0, "charge_points": 0}
    assert status_of(world, command) is CommandStatus.SENT


def test_an_answer_taken_first_wins_over_the_sweep(world: World, sweeper: CommandSweeper):
    # The charger's answer removed the pending entry a moment before the sweep read the
    # overdue command: the answer owns the outcome.
    command = submit(world)
    world.clock.advance(31)
    assert world.pending.take(CP, command.command_id) is not None

    sweeper.sweep()

    assert status_of(world, command) is CommandStatus.SENT  # completed by the answer's path


def test_the_sweep_ends_a_command_whose_pending_entry_was_lost(
    world: World, sweeper: CommandSweeper
):
    command = submit(world)
    world.pending.clear(CP)  # Redis lost it (restart without persistence)
    world.clock.advance(45)

    sweeper.sweep()

    assert status_of(world, command) is CommandStatus.TIMED_OUT


def test_the_sweep_sends_commands_queued_for_a_connected_charger_nothing_released(
    world: World, sweeper: CommandSweeper
):
    world.registry.current.clear()
    queued = submit(world, queue_if_offline=True)
    world.registry.current[CP] = CONNECTION  # back online, but its release was lost

    sweeper.sweep()

    assert status_of(world, queued) is CommandStatus.SENT


def test_the_sweep_keeps_commands_queued_for_an_offline_charger(
    world: World, sweeper: CommandSweeper
):
    world.registry.current.clear()
    queued = submit(world, queue_if_offline=True)

    sweeper.sweep()

    assert status_of(world, queued) is CommandStatus.QUEUED
