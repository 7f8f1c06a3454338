"""OCPP-J framing: what parses, and which CallError every broken frame earns."""

import pytest
from csms.protocol.errors import ErrorKind, FrameError
from csms.protocol.framing import Call, CallError, CallResult, parse_frame, serialize


def test_a_call_parses_into_id_action_and_payload():
    assert parse_frame('[2,"19223201","Heartbeat",{}]') == Call("19223201", "Heartbeat", {})


def test_a_call_result_parses():
    assert parse_frame('[3,"1",{"status":"Accepted"}]') == CallResult("1", {"status": "Accepted"})


def test_a_call_error_parses():
    frame = parse_frame('[4,"1","NotSupported","nope",{}]')
    assert frame == CallError("1", "NotSupported", "nope", {})


@pytest.mark.parametrize(
    ("raw", "kind", "unique_id"),
    [
        pytest.param("not json", ErrorKind.RPC_FRAMEWORK_ERROR, "-1", id="invalid-json"),
        pytest.param('{"a":1}', ErrorKind.RPC_FRAMEWORK_ERROR, "-1", id="object-not-array"),
        pytest.param("[]", ErrorKind.RPC_FRAMEWORK_ERROR, "-1", id="empty-array"),
        pytest.param('[2,"1","Heartbeat"]', ErrorKind.RPC_FRAMEWORK_ERROR, "1",
                     id="call-too-short"),
        pytest.param('[2,"1","Heartbeat",{},1]', ErrorKind.RPC_FRAMEWORK_ERROR, "1",
                     id="call-too-long"),
        pytest.param('[2,"1",7,{}]', ErrorKind.RPC_FRAMEWORK_ERROR, "1", id="action-not-string"),
        pytest.param('[2,"1","Heartbeat",[]]', ErrorKind.RPC_FRAMEWORK_ERROR, "1",
                     id="payload-not-object"),
        pytest.param('[2,1,"Heartbeat",{}]', ErrorKind.RPC_FRAMEWORK_ERROR, "-1",
                     id="id-not-string"),
        pytest.param('[2,"' + "x" * 37 + '","Heartbeat",{}]', ErrorKind.RPC_FRAMEWORK_ERROR, "-1",
                     id="id-longer-than-36"),
        pytest.param('[9,"1","Heartbeat",{}]', ErrorKind.MESSAGE_TYPE_NOT_SUPPORTED, "1",
                     id="unknown-message-type"),
        pytest.param('["2","1","Heartbeat",{}]', ErrorKind.MESSAGE_TYPE_NOT_SUPPORTED, "1",
                     id="message-type-as-string"),
        pytest.param('[3,"1"]', ErrorKind.RPC_FRAMEWORK_ERROR, "1", id="call-result-no-payload"),
        pytest.param('[4,"1","X"]', ErrorKind.RPC_FRAMEWORK_ERROR, "1", id="call-error-too-short"),
    ],
)
def test_a_broken_frame_raises_frame_error_with_its_kind_and_id(raw, kind, unique_id):
    with pytest.raises(FrameError) as caught:
        parse_frame(raw)
    assert caught.value.kind is kind
    assert caught.value.unique_id == unique_id


def test_serialize_writes_compact_ocpp_arrays():
    assert serialize(CallResult("1", {"a": 1})) == '[3,"1",{"a":1}]'
    assert serialize(CallError("1", "GenericError", "x", {})) == '[4,"1","GenericError","x",{}]'
    assert serialize(Call("1", "Reset", {"type": "Soft"})) == '[2,"1","Reset",{"type":"Soft"}]'
