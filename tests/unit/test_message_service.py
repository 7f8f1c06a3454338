"""The $default flow around the handlers: replies, replays, pending calls, the log."""

import json

from .conftest import CP


def test_a_repeated_message_id_gets_the_cached_reply_without_running_again(world):
    first = world.call("Heartbeat", {}, "same")
    world.tenant.charge_points.state.clear()
    assert world.call("Heartbeat", {}, "same") == first
    assert CP not in world.tenant.charge_points.state


def test_a_repeated_message_id_holding_escapes_gets_the_cached_reply(world):
    # Read by the parser, not ahead of it: the replay cache is asked after parsing.
    first = world.call("Heartbeat", {}, 'quote"and\\backslash')
    world.tenant.charge_points.state.clear()
    assert world.call("Heartbeat", {}, 'quote"and\\backslash') == first
    assert CP not in world.tenant.charge_points.state


def test_a_repeated_long_message_id_gets_the_cached_reply(world):
    long_id = "x" * 80
    first = world.call("Heartbeat", {}, long_id)
    world.tenant.charge_points.state.clear()
    assert world.call("Heartbeat", {}, long_id) == first
    assert CP not in world.tenant.charge_points.state


def test_every_call_and_its_reply_are_logged_with_correlation(world):
    world.call("Heartbeat", {}, "h1")
    entries = world.tenant.messages.entries
    assert [(e["direction"], e["message_type"], e["message_id"]) for e in entries] == [
        ("in", "Call", "h1"), ("out", "CallResult", "h1")]


def test_a_call_and_its_reply_are_one_log_document(world):
    world.call("Heartbeat", {}, "h1")

    (document,) = world.tenant.messages.documents
    assert (document["message_type"], document["reply"]["message_type"]) == (
        "Call", "CallResult")


def test_a_malformed_frame_gets_formation_violation_and_is_logged(world):
    reply = world.send("[2,")
    assert reply[0] == 4 and reply[1] == "-1" and reply[2] == "FormationViolation"
    assert world.tenant.messages.entries[0]["raw"] == "[2,"


def test_an_unknown_message_type_gets_formation_violation_in_1_6(world):
    assert world.send([7, "x", "Heartbeat", {}])[:3] == [4, "x", "FormationViolation"]


def test_a_call_result_completes_the_pending_call(world):
    world.pending.add(CP, "c1", '[2,"c1","Reset",{"type":"Soft"}]')
    assert world.send([3, "c1", {"status": "Accepted"}]) is None
    assert not world.pending.has(CP, "c1")
    answer = world.tenant.messages.entries[-1]
    assert (answer["action"], answer["matched"], answer["direction"]) == ("Reset", True, "in")


def test_a_call_error_completes_the_pending_call(world):
    world.pending.add(CP, "c2", '[2,"c2","Reset",{"type":"Soft"}]')
    assert world.send([4, "c2", "NotSupported", "no", {}]) is None
    assert not world.pending.has(CP, "c2")


def test_an_unmatched_call_result_is_logged_and_not_answered(world):
    assert world.send([3, "ghost", {}]) is None
    assert world.tenant.messages.entries[-1]["matched"] is False


def test_an_unregistered_connection_is_told_and_closed_so_the_charger_reconnects(world):
    reply = world.send([2, "m1", "Heartbeat", {}], connection_id="stranger")

    assert reply is None  # posted through @connections, then the connection is closed
    (connection_id, frame) = world.gateway.sent[-1]
    assert connection_id == "stranger" and json.loads(frame)[:3] == [4, "m1", "SecurityError"]
    assert world.gateway.closed == ["stranger"]


def test_an_unregistered_connection_gets_security_error_if_it_cannot_be_closed(world):
    def unreachable(connection_id):
        raise ConnectionError("@connections unreachable")

    world.gateway.close = unreachable

    reply = world.send([2, "m1", "Heartbeat", {}], connection_id="stranger")

    assert reply[:3] == [4, "m1", "SecurityError"]


def test_a_storage_failure_is_answered_with_internal_error(world):
    def broken(*args):
        raise ConnectionError("redis down")

    world.replay.get = broken
    reply = world.call("Heartbeat", {}, "h1")
    assert reply == [4, "h1", "InternalError", "Central System temporarily unavailable", {}]
