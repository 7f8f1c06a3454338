"""Routing and schema validation for OCPP 1.6: the CallError code for each violation."""

from datetime import UTC, datetime

import pytest
from csms.protocol.framing import Call, CallError, CallResult
from csms.protocol.router import CallContext, Router
from csms.protocol.schemas import SchemaSet, ocpp_schema_dir
from csms.versions import v16

NOW = datetime(2026, 1, 1, tzinfo=UTC)
CTX = CallContext("CP1", "t1", "conn", "1", NOW)


def echo_handlers(response):
    return {action: (lambda ctx, payload: response) for action in v16.CHARGER_INITIATED}


@pytest.fixture
def router():
    schemas = SchemaSet(ocpp_schema_dir("v16"))
    return Router(v16.VERSION, schemas, echo_handlers({"currentTime": "2026-01-01T00:00:00Z"}))


def dispatch(router, action, payload):
    return router.dispatch(CTX, Call("1", action, payload))


def test_a_valid_call_gets_the_handlers_response(router):
    result = dispatch(router, "Heartbeat", {})
    assert result == CallResult("1", {"currentTime": "2026-01-01T00:00:00Z"})


@pytest.mark.parametrize(
    ("action", "payload", "code"),
    [
        pytest.param("Authorize", {}, "OccurenceConstraintViolation", id="missing-required"),
        pytest.param("Authorize", {"idTag": 12}, "TypeConstraintViolation", id="wrong-type"),
        pytest.param("Authorize", {"idTag": "x" * 21}, "TypeConstraintViolation",
                     id="string-too-long"),
        pytest.param("Heartbeat", {"extra": 1}, "FormationViolation", id="extra-field"),
        pytest.param("StatusNotification",
                     {"connectorId": 1, "errorCode": "NoError", "status": "Sleeping"},
                     "PropertyConstraintViolation", id="value-not-in-enum"),
        pytest.param("StartTransaction",
                     {"connectorId": 1, "idTag": "A", "meterStart": 0, "timestamp": "yesterday"},
                     "TypeConstraintViolation", id="bad-datetime"),
        pytest.param("MeterValues", {"connectorId": 1, "meterValue": []},
                     "OccurenceConstraintViolation", id="too-few-items"),
        pytest.param("Reset", {"type": "Soft"}, "NotSupported", id="csms-initiated-action"),
        pytest.param("MakeCoffee", {}, "NotImplemented", id="unknown-action"),
    ],
)
def test_each_violation_gets_its_1_6_error_code(router, action, payload, code):
    result = dispatch(router, action, payload)
    assert isinstance(result, CallError)
    assert result.error_code == code
    assert result.unique_id == "1"


def test_a_response_that_breaks_the_schema_becomes_internal_error():
    schemas = SchemaSet(ocpp_schema_dir("v16"))
    router = Router(v16.VERSION, schemas, echo_handlers({"nonsense": True}))
    result = dispatch(router, "Heartbeat", {})
    assert isinstance(result, CallError) and result.error_code == "InternalError"


def test_a_failing_handler_becomes_internal_error_without_a_stack_trace():
    def boom(ctx, payload):
        raise RuntimeError("database exploded at 10.0.0.1")

    router = Router(v16.VERSION, SchemaSet(ocpp_schema_dir("v16")), {"Heartbeat": boom})
    result = dispatch(router, "Heartbeat", {})
    assert isinstance(result, CallError) and result.error_code == "InternalError"
    assert "10.0.0.1" not in result.error_description


def test_every_charger_initiated_1_6_action_has_request_and_response_schemas():
    directory = ocpp_schema_dir("v16")
    for action in v16.CHARGER_INITIATED | v16.CSMS_INITIATED:
        assert (directory / f"{action}.json").exists(), action
        assert (directory / f"{action}Response.json").exists(), action
