"""The device model store against a real MongoDB-wire server (SecantusDB)."""

from datetime import UTC, datetime

import pytest
from csms.adapters.mongo import MongoTenantStore
from csms.domain.device_model import VariableAttribute, VariableKey

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
HEARTBEAT = VariableKey("OCPPCommCtrlr", "HeartbeatInterval")
EVSE_POWER = VariableKey("EVSE", "Power", evse_id=1)


@pytest.fixture
def device_model(mongo_client, tenant_id):
    tenant = MongoTenantStore(mongo_client).for_tenant(tenant_id)
    tenant.ensure_indexes()
    yield tenant.device_model
    mongo_client.drop_database(tenant.db.name)


def test_attributes_are_stored_per_variable_and_type(device_model):
    device_model.put("CP1", [
        VariableAttribute(HEARTBEAT, T0, value="300", mutability="ReadWrite",
                          characteristics={"dataType": "integer", "unit": "s"}),
        VariableAttribute(EVSE_POWER, T0, attribute_type="MaxSet", value="22000"),
    ])

    assert device_model.get("CP1", HEARTBEAT).value == "300"
    assert device_model.get("CP1", EVSE_POWER, "MaxSet").value == "22000"
    assert device_model.get("CP1", EVSE_POWER) is None  # no Actual reported
    assert [a.key.path for a in device_model.of("CP1")] == ["EVSE@1/Power",
                                                           "OCPPCommCtrlr/HeartbeatInterval"]


def test_a_newer_report_replaces_the_attribute_and_leaves_the_others(device_model):
    device_model.put("CP1", [VariableAttribute(HEARTBEAT, T0, value="300"),
                             VariableAttribute(EVSE_POWER, T0, value="0")])
    device_model.put("CP1", [VariableAttribute(HEARTBEAT, T0, value="60")])

    assert device_model.get("CP1", HEARTBEAT).value == "60"
    assert device_model.get("CP1", EVSE_POWER).value == "0"
    assert device_model.of("CP2") == []
