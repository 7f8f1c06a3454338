"""OCPP-J 2.1's unanswered frames: SEND (6) and CALLRESULTERROR (5) parse only for a
version that takes them; broken ones raise an error that is never to be answered."""

import pytest
from csms.protocol.errors import ErrorKind, FrameError
from csms.protocol.framing import (
    CALL_RESULT_ERROR,
    SEND,
    CallResultError,
    Send,
    UnansweredFrameError,
    parse_frame,
    serialize,
)
from csms.versions import v16, v21, v201

BOTH = frozenset({CALL_RESULT_ERROR, SEND})


def test_a_send_parses_into_id_action_and_payload():
    frame = parse_frame('[6,"s1","NotifyPeriodicEventStream",{"id":1}]', BOTH)
    assert frame == Send("s1", "NotifyPeriodicEventStream", {"id": 1})


def test_a_call_result_error_parses_into_id_code_description_and_details():
    frame = parse_frame('[5,"c1","FormatViolation","bad reply",{"field":"x"}]', BOTH)
    assert frame == CallResultError("c1", "FormatViolation", "bad reply", {"field": "x"})


@pytest.mark.parametrize("raw", ['[6,"s1","NotifyPeriodicEventStream",{}]',
                                 '[5,"c1","FormatViolation","",{}]'], ids=["send", "cre"])
def test_without_extra_types_both_are_unknown_message_types(raw):
    with pytest.raises(FrameError) as caught:
        parse_frame(raw)
    assert caught.value.kind is ErrorKind.MESSAGE_TYPE_NOT_SUPPORTED
    assert not isinstance(caught.value, UnansweredFrameError)
    assert caught.value.unique_id == raw.split('"')[1]


def test_only_2_1_takes_send_and_call_result_error():
    assert v21.VERSION.extra_message_types == BOTH
    assert v16.VERSION.extra_message_types == frozenset()
    assert v201.VERSION.extra_message_types == frozenset()


def test_2_1_sends_only_notify_periodic_event_stream():
    assert v21.VERSION.charger_sends == {"NotifyPeriodicEventStream"}
    assert not v21.VERSION.charger_sends & v21.VERSION.charger_initiated


@pytest.mark.parametrize(
    ("raw", "frame_type", "unique_id"),
    [
        pytest.param('[6,"s1","A"]', "Send", "s1", id="send-too-short"),
        pytest.param('[6,"s1","A",{},1]', "Send", "s1", id="send-too-long"),
        pytest.param('[6,"s1","",{}]', "Send", "s1", id="send-empty-action"),
        pytest.param('[6,"s1",7,{}]', "Send", "s1", id="send-action-not-string"),
        pytest.param('[6,"s1","A",[]]', "Send", "s1", id="send-payload-not-object"),
        pytest.param('[6,1,"A",{}]', "Send", "-1", id="send-id-not-string"),
        pytest.param('[6,"' + "x" * 37 + '","A",{}]', "Send", "-1", id="send-id-too-long"),
        pytest.param('[5,"c1","X"]', "CallResultError", "c1", id="cre-too-short"),
        pytest.param('[5,"c1",1,"",{}]', "CallResultError", "c1", id="cre-code-not-string"),
        pytest.param('[5,"c1","X","",[]]', "CallResultError", "c1", id="cre-details-not-object"),
        pytest.param('[5,"","X","",{}]', "CallResultError", "-1", id="cre-empty-id"),
    ],
)
def test_a_broken_unanswered_frame_raises_an_unanswered_frame_error(raw, frame_type, unique_id):
    with pytest.raises(UnansweredFrameError) as caught:
        parse_frame(raw, BOTH)
    assert caught.value.kind is ErrorKind.RPC_FRAMEWORK_ERROR
    assert caught.value.frame_type == frame_type
    assert caught.value.unique_id == unique_id


def test_serialize_writes_send_and_call_result_error():
    assert serialize(Send("s1", "A", {"id": 1})) == '[6,"s1","A",{"id":1}]'
    assert serialize(CallResultError("c1", "X", "why", {})) == '[5,"c1","X","why",{}]'
