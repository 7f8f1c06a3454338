"""OCPP-J 2.1's unanswered frames through the message service: a SEND is processed when
valid and logged either way, a CALLRESULTERROR is logged; nothing goes back for either.
Periodic event streams: opened and closed on the charge point, their values stored."""

from __future__ import annotations

from datetime import timedelta

import pytest
from csms.domain.model import ConnectionInfo, RegisteredChargePoint, Tenant
from csms.protocol.timestamps import format_timestamp
from csms.versions import CentralSystemParts, v16, v21

from .conftest import CONNECTION as CONNECTION_16
from .conftest import CP, NOW, TENANT, World

CONNECTION = "conn-21-unanswered"
STREAM = {"id": 3, "pending": 0, "basetime": format_timestamp(NOW),
          "data": [{"t": 0, "v": "230.1"}, {"t": 1.5, "v": "229.8"}]}


@pytest.fixture
def w21(world: World) -> World:
    """The world with a 2.1 router beside 1.6's, and CP connected over 2.1."""
    heartbeat = world.messages._routers[v16.SUBPROTOCOL]._handlers["Heartbeat"]  # type: ignore[attr-defined]
    parts = CentralSystemParts(
        charging=heartbeat.__self__._charging, directory=world.directory, clock=world.clock,
        heartbeat_interval=300, store=world.store, records=world.records,
    )
    world.messages._routers[v21.SUBPROTOCOL] = v21.plugin().router(parts)  # type: ignore[index]
    world.directory.create_tenant(Tenant(TENANT, TENANT))
    world.directory.add_charge_point(RegisteredChargePoint(CP, TENANT, "x"))
    world.registry.register(ConnectionInfo(CONNECTION, CP, TENANT, v21.SUBPROTOCOL, NOW))
    return world


def booted(w: World) -> World:
    reply = w.send([2, "boot", "BootNotification", {
        "reason": "PowerUp", "chargingStation": {"model": "M", "vendorName": "V"}}], CONNECTION)
    assert reply[0] == 3 and reply[2]["status"] == "Accepted"
    return w


def logged(w: World, message_id: str) -> list[dict]:
    return [e for e in w.tenant.messages.entries if e["message_id"] == message_id]


def test_a_valid_send_is_not_answered_and_is_logged_as_processed(w21):
    reply = booted(w21).send([6, "s1", "NotifyPeriodicEventStream", STREAM], CONNECTION)
    assert reply is None
    [entry] = logged(w21, "s1")
    assert entry["direction"] == "in" and entry["message_type"] == "Send"
    assert entry["action"] == "NotifyPeriodicEventStream" and entry["payload"] == STREAM
    assert entry["processed"] is True


def test_a_send_s_stream_values_are_stored_for_the_operator(w21):
    booted(w21).send([6, "s1", "NotifyPeriodicEventStream", STREAM], CONNECTION)
    assert (CP, "periodic_event_stream", STREAM) in w21.tenant.charge_points.notifications


def test_a_send_that_breaks_its_schema_is_logged_with_why_and_not_answered(w21):
    broken = {k: v for k, v in STREAM.items() if k != "basetime"}
    assert booted(w21).send([6, "s2", "NotifyPeriodicEventStream", broken], CONNECTION) is None
    [entry] = logged(w21, "s2")
    assert entry["processed"] is False
    assert entry["error_code"] == "OccurrenceConstraintViolation"
    assert "basetime" in entry["error_description"]
    assert not [n for n in w21.tenant.charge_points.notifications
                if n[1] == "periodic_event_stream"]


def test_a_send_of_an_unknown_action_is_logged_and_not_answered(w21):
    assert booted(w21).send([6, "s3", "Heartbeat", {}], CONNECTION) is None
    [entry] = logged(w21, "s3")
    assert (entry["processed"], entry["error_code"]) == (False, "NotImplemented")


def test_a_malformed_send_is_logged_and_not_answered(w21):
    assert w21.send('[6,"s5","NotifyPeriodicEventStream",[]]', CONNECTION) is None
    [entry] = logged(w21, "s5")
    assert (entry["message_type"], entry["processed"]) == ("Send", False)
    assert entry["error_code"] == "RpcFrameworkError"
    assert entry["raw"] == '[6,"s5","NotifyPeriodicEventStream",[]]'


def test_a_call_result_error_is_logged_with_its_error_and_not_answered(w21):
    booted(w21)
    frame = [5, "boot", "FormatViolation", "interval missing", {"field": "interval"}]
    assert w21.send(frame, CONNECTION) is None
    [entry] = [e for e in logged(w21, "boot") if e["message_type"] == "CallResultError"]
    assert entry["direction"] == "in"
    assert entry["payload"] == {"errorCode": "FormatViolation",
                                "errorDescription": "interval missing",
                                "errorDetails": {"field": "interval"}}
    # The charger's Call was answered: the reply it refused is named.
    assert entry["matched"] is True and entry["refused_reply"].startswith('[3,"boot"')


def test_a_call_result_error_about_no_call_of_ours_is_logged_unmatched(w21):
    assert w21.send([5, "nobody", "GenericError", "", {}], CONNECTION) is None
    [entry] = logged(w21, "nobody")
    assert entry["matched"] is False


@pytest.mark.parametrize("frame", [[6, "x1", "NotifyPeriodicEventStream", STREAM],
                                   [5, "x1", "GenericError", "", {}]], ids=["send", "cre"])
def test_a_1_6_connection_answers_both_with_a_call_error_as_before(world, frame):
    reply = world.send(frame, CONNECTION_16)
    assert reply[:2] == [4, "x1"] and reply[3] == f"Unknown MessageTypeId {frame[0]}"


def test_an_opened_stream_is_accepted_and_recorded_open_on_the_charge_point(w21):
    stream = {"id": 3, "variableMonitoringId": 7, "params": {"interval": 60, "values": 10}}
    reply = booted(w21).send(
        [2, "o1", "OpenPeriodicEventStream", {"constantStreamData": stream}], CONNECTION)
    assert reply == [3, "o1", {"status": "Accepted"}]
    kept = w21.tenant.charge_points.state[CP]["event_streams.3"]
    assert kept == {"status": "Open", "variable_monitoring_id": 7,
                    "params": {"interval": 60, "values": 10}, "opened_at": NOW}


def test_a_closed_stream_is_recorded_closed_on_the_charge_point(w21):
    later = NOW + timedelta(seconds=5)
    w21.clock.now = later
    reply = booted(w21).send([2, "c1", "ClosePeriodicEventStream", {"id": 3}], CONNECTION)
    assert reply == [3, "c1", {}]
    state = w21.tenant.charge_points.state[CP]
    assert (state["event_streams.3.status"], state["event_streams.3.closed_at"]) == (
        "Closed", later)
