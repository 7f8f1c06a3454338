"""CSMS-initiated commands: queued, sent one at a time, completed by the charger's answer."""

from __future__ import annotations

import json

import pytest
from csms.domain.commands import CommandStatus, NotConnected, UnknownCommand
from csms.domain.model import ConnectionStatus, ReservationStatus
from csms.protocol.errors import OcppError

from .conftest import CONNECTION, CP, TENANT, World

RESET = {"type": "Soft"}


def sent_frames(world: World) -> list[list]:
    return [json.loads(data) for _, data in world.gateway.sent]


def answer(world: World, command_id: str, payload: dict) -> None:
    assert world.send([3, command_id, payload]) is None


def submit(world: World, action: str = "Reset", payload: dict | None = None, **kwargs):
    payload = RESET if payload is None else payload
    command = world.commands.submit(TENANT, CP, action, payload, **kwargs)
    world.records.flush()  # as the tenant API does at the end of each request
    return command


def test_a_command_to_a_connected_charger_is_sent_at_once_as_a_call(world: World):
    command = submit(world)

    assert command.status is CommandStatus.SENT
    assert sent_frames(world) == [[2, command.command_id, "Reset", RESET]]
    assert world.pending.has(CP, command.command_id)


def test_the_chargers_call_result_completes_the_command_in_another_invocation(world: World):
    command = submit(world)

    answer(world, command.command_id, {"status": "Accepted"})

    done = world.commands.get(TENANT, command.command_id)
    assert done.status is CommandStatus.COMPLETED
    assert done.response == {"status": "Accepted"}
    assert not world.pending.has(CP, command.command_id)


def test_a_refusing_status_in_the_call_result_marks_the_command_rejected(world: World):
    command = submit(world)

    answer(world, command.command_id, {"status": "Rejected"})

    assert world.commands.get(TENANT, command.command_id).status is CommandStatus.REJECTED


def test_a_call_error_from_the_charger_fails_the_command_with_its_code(world: World):
    command = submit(world)

    world.send([4, command.command_id, "NotSupported", "no resets here", {}])

    failed = world.commands.get(TENANT, command.command_id)
    assert failed.status is CommandStatus.FAILED
    assert failed.error["code"] == "NotSupported"


def test_an_answer_breaking_the_response_schema_fails_the_command(world: World):
    command = submit(world)

    answer(world, command.command_id, {"status": "Maybe"})

    failed = world.commands.get(TENANT, command.command_id)
    assert failed.status is CommandStatus.FAILED
    assert "schema" in failed.error["reason"]


def test_a_second_command_waits_until_the_first_is_answered(world: World):
    first = submit(world)
    second = submit(world, "ClearCache", {})

    assert world.commands.get(TENANT, second.command_id).status is CommandStatus.QUEUED
    assert len(world.gateway.sent) == 1

    answer(world, first.command_id, {"status": "Accepted"})

    assert world.commands.get(TENANT, second.command_id).status is CommandStatus.SENT
    assert [frame[1] for frame in sent_frames(world)] == [first.command_id, second.command_id]


def test_a_disconnected_charger_is_refused_unless_the_caller_asks_to_queue(world: World):
    world.registry.current.clear()

    with pytest.raises(NotConnected):
        submit(world)
    queued = submit(world, queue_if_offline=True)

    assert queued.status is CommandStatus.QUEUED
    assert world.gateway.sent == []


def test_commands_queued_for_an_offline_charger_follow_the_reply_to_its_boot(world: World):
    world.registry.current.clear()
    queued = submit(world, queue_if_offline=True)
    world.registry.current[CP] = CONNECTION

    reply = world.call("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"})

    assert reply is None  # posted through @connections instead of the route response
    (boot_reply, command) = sent_frames(world)
    assert boot_reply[0] == 3 and boot_reply[2]["status"] == "Accepted"
    assert command == [2, queued.command_id, "Reset", RESET]
    assert world.commands.get(TENANT, queued.command_id).status is CommandStatus.SENT


def test_a_boot_with_nothing_queued_is_answered_as_the_route_response(world: World):
    reply = world.call("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"})

    assert reply[0] == 3 and reply[2]["status"] == "Accepted"
    assert world.gateway.sent == []


def test_an_unanswered_command_times_out_and_releases_the_next(world: World):
    first = submit(world)
    second = submit(world, "ClearCache", {})

    world.clock.advance(31)

    assert world.commands.get(TENANT, first.command_id).status is CommandStatus.TIMED_OUT
    assert world.commands.get(TENANT, second.command_id).status is CommandStatus.SENT
    assert sent_frames(world)[-1] == [2, second.command_id, "ClearCache", {}]


def test_a_late_answer_does_not_revive_a_timed_out_command(world: World):
    command = submit(world)
    world.clock.advance(31)
    world.commands.get(TENANT, command.command_id)

    answer(world, command.command_id, {"status": "Accepted"})

    assert world.commands.get(TENANT, command.command_id).status is CommandStatus.TIMED_OUT


def test_a_gone_connection_fails_the_command_and_marks_the_charger_offline(world: World):
    world.gateway.gone.add(CONNECTION)

    command = submit(world)

    assert command.status is CommandStatus.FAILED
    assert "gone" in command.error["reason"]
    assert world.registry.connection_of(CP) is None
    state = world.tenant.charge_points.state[CP]
    assert state["connection_status"] is ConnectionStatus.DISCONNECTED
    assert not world.pending.has(CP, command.command_id)


def test_a_payload_breaking_the_schema_is_refused_before_anything_is_sent(world: World):
    with pytest.raises(OcppError, match="type"):
        submit(world, "Reset", {"type": "Sideways"})
    assert world.gateway.sent == []


def test_an_action_the_charger_sends_is_not_a_command(world: World):
    with pytest.raises(UnknownCommand):
        submit(world, "Heartbeat", {})


def test_wait_returns_as_soon_as_the_command_is_final(world: World):
    command = submit(world)
    answer(world, command.command_id, {"status": "Accepted"})

    assert world.commands.wait(TENANT, command.command_id, 10).status is CommandStatus.COMPLETED


def test_get_configuration_stores_the_reported_keys(world: World):
    command = submit(world, "GetConfiguration", {})
    keys = [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}]

    answer(world, command.command_id, {"configurationKey": keys, "unknownKey": []})

    configuration = world.tenant.charge_points.state[CP]["configuration"]
    assert configuration == {"HeartbeatInterval": {"value": "300", "readonly": False}}


def test_an_accepted_change_configuration_stores_the_new_value(world: World):
    command = submit(world, "ChangeConfiguration", {"key": "HeartbeatInterval", "value": "60"})

    answer(world, command.command_id, {"status": "Accepted"})

    configuration = world.tenant.charge_points.state[CP]["configuration"]
    assert configuration["HeartbeatInterval"]["value"] == "60"


def test_a_rejected_change_configuration_changes_nothing(world: World):
    command = submit(world, "ChangeConfiguration", {"key": "HeartbeatInterval", "value": "60"})

    answer(world, command.command_id, {"status": "Rejected"})

    assert "configuration" not in world.tenant.charge_points.state.get(CP, {})


def test_an_accepted_reservation_is_used_by_the_start_transaction_naming_it(world: World):
    reserve = {
        "connectorId": 1,
        "expiryDate": "2026-11-22T13:00:00Z",
        "idTag": "TAG",
        "reservationId": 7,
    }
    command = submit(world, "ReserveNow", reserve)
    answer(world, command.command_id, {"status": "Accepted"})
    reservation = world.tenant.reservations.reservations[(CP, 7)]
    assert reservation.status is ReservationStatus.ACTIVE

    reply = world.call(
        "StartTransaction",
        {
            "connectorId": 1,
            "idTag": "TAG",
            "meterStart": 0,
            "timestamp": "2026-11-22T12:10:00Z",
            "reservationId": 7,
        },
    )

    used = world.tenant.reservations.reservations[(CP, 7)]
    assert used.status is ReservationStatus.USED
    assert used.transaction_id == reply[2]["transactionId"]


def test_an_accepted_local_list_bumps_the_list_version(world: World):
    command = submit(world, "SendLocalList", {"listVersion": 5, "updateType": "Full"})

    answer(world, command.command_id, {"status": "Accepted"})

    assert world.tenant.charge_points.state[CP]["local_list_version"] == 5


def test_an_accepted_charging_profile_is_kept_and_cleared_again(world: World):
    profile = {
        "chargingProfileId": 3,
        "stackLevel": 0,
        "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16}],
        },
    }
    command = submit(world, "SetChargingProfile", {"connectorId": 1, "csChargingProfiles": profile})
    answer(world, command.command_id, {"status": "Accepted"})
    kept, as_sent = world.tenant.charging_profiles.profiles[(CP, 1, 3)]
    assert (kept.profile_id, kept.stack_level, as_sent) == (3, 0, profile)

    clear = submit(world, "ClearChargingProfile", {"id": 3})
    answer(world, clear.command_id, {"status": "Accepted"})

    assert world.tenant.charging_profiles.profiles == {}


def test_data_transfer_goes_both_ways(world: World):
    command = submit(world, "DataTransfer", {"vendorId": "Acme", "data": "ping"})

    assert command.status is CommandStatus.SENT
    assert world.call("DataTransfer", {"vendorId": "Acme"}, "dt")[2] == {
        "status": "UnknownVendorId"}
