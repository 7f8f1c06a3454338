"""Events of a full charging session, driven by a real OCPP 1.6 client through the local
gateway, arrive in order on a real MQTT broker via SQS (LocalStack, as under make run)
and the event worker, each matching its documented schema."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from csms import bootstrap
from csms_local.gateway import GatewayLimits
from csms_local.lambdas import load_handler
from csms_local.sqs_poller import SqsPoller, create_queues
from ocpp.v16 import call

from tests.event_schemas import validate_event
from tests.message_log import logged as logged_entries
from tests.mqtt_subscriber import Subscriber

from .chargers import Charger
from .conftest import GatewayThread, api_for, connected, start_gateway

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def evented_gateway(csms_env, local_aws_url, mqtt_url) -> Iterator[GatewayThread]:
    """The local stack as `make run` wires it: records to SQS, a poller feeding
    event_worker, events to the broker."""
    patch = pytest.MonkeyPatch()
    queues = create_queues(local_aws_url, name=f"e2e-{uuid.uuid4().hex[:8]}", visibility=1)
    for name, value in {**queues, "MQTT_URL": mqtt_url, "AWS_ENDPOINT_URL": local_aws_url}.items():
        patch.setenv(name, value)
    running = start_gateway(GatewayLimits(), patch)
    poller = SqsPoller(local_aws_url, queues["EVENTS_QUEUE_URL"], load_handler("event_worker"))
    poller.start()
    yield running
    poller.stop()
    running.stop()
    patch.undo()
    bootstrap.reset()


def now() -> str:
    return datetime.now(UTC).isoformat()


async def test_a_charging_session_publishes_its_events_in_order(
    evented_gateway, fleet, mqtt_url
):
    cp_id = fleet.add_charge_point("EVENTS")
    subscriber = Subscriber(mqtt_url, f"ocpp/+/{fleet.tenant_id}/{cp_id}/#")
    status_topic = f"ocpp/status/{fleet.tenant_id}/{cp_id}"
    session_topic = f"ocpp/events/{fleet.tenant_id}/{cp_id}/session"
    async with connected(evented_gateway, cp_id) as (cp, _):
        await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        await cp.call(call.StatusNotification(connector_id=1, error_code="NoError",
                                              status="Preparing", timestamp=now()))
        started = await cp.call(call.StartTransaction(connector_id=1, id_tag="ACCEPTED",
                                                      meter_start=1000, timestamp=now()))
        tx = started.transaction_id
        await cp.call(call.StatusNotification(connector_id=1, error_code="NoError",
                                              status="Charging", timestamp=now()))
        for reading in ("1500", "2500"):
            await cp.call(call.MeterValues(connector_id=1, transaction_id=tx, meter_value=[
                {"timestamp": now(), "sampledValue": [{"value": reading}]}]))
        await cp.call(call.StopTransaction(meter_stop=3000, timestamp=now(), transaction_id=tx))
        await cp.call(call.StatusNotification(connector_id=1, error_code="NoError",
                                              status="Available", timestamp=now()))

    expected = [
        (status_topic, "connected"), (status_topic, "boot"),
        (status_topic, "connector_status"), (session_topic, "transaction_started"),
        (status_topic, "connector_status"), (session_topic, "meter_values"),
        (session_topic, "meter_values"), (session_topic, "transaction_stopped"),
        (status_topic, "connector_status"), (status_topic, "disconnected"),
    ]
    received = await asyncio.to_thread(subscriber.wait_for, lambda m: len(m) >= len(expected))
    subscriber.close()

    assert [(topic, event["type"]) for topic, event in received] == expected
    for _, event in received:
        validate_event(event)
    statuses = [e["data"]["status"] for _, e in received if e["type"] == "connector_status"]
    assert statuses == ["Preparing", "Charging", "Available"]
    stopped = next(e for _, e in received if e["type"] == "transaction_stopped")
    assert stopped["data"]["energy_wh"] == 2000


async def test_a_command_completion_is_published(evented_gateway, fleet, mqtt_url):
    cp_id = fleet.add_charge_point("CMDEVENT")
    subscriber = Subscriber(mqtt_url, f"ocpp/events/{fleet.tenant_id}/{cp_id}/commands")
    operator = api_for(evented_gateway, fleet.tenant_id, "operator")
    async with connected(evented_gateway, cp_id, client=Charger) as (cp, _):
        await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        reply = await asyncio.to_thread(
            operator.post, f"/v1/charge-points/{cp_id}/commands/ClearCache", {}, wait=10)

    [(_, event)] = await asyncio.to_thread(subscriber.wait_for, lambda m: len(m) >= 1)
    subscriber.close()

    validate_event(event)
    assert event["data"]["command_id"] == reply.json["command_id"]
    assert event["data"]["status"] == "completed"


async def test_the_message_log_of_a_session_is_complete(evented_gateway, fleet, mqtt_url):
    cp_id = fleet.add_charge_point("LOGGED")
    status = Subscriber(mqtt_url, f"ocpp/status/{fleet.tenant_id}/{cp_id}")
    async with connected(evented_gateway, cp_id) as (cp, _):
        await cp.call(call.Heartbeat())
        await cp.call(call.Authorize(id_tag="ACCEPTED"))

    # "disconnected" is the charger's last record: FIFO order means the log is stored.
    await asyncio.to_thread(
        status.wait_for, lambda m: any(e["type"] == "disconnected" for _, e in m))
    status.close()

    logged = sorted((m["action"], m["direction"], m["message_type"])
                    for m in logged_entries(fleet.db["ocpp_messages"], {"charge_point_id": cp_id}))
    assert logged == [("Authorize", "in", "Call"), ("Authorize", "out", "CallResult"),
                      ("Heartbeat", "in", "Call"), ("Heartbeat", "out", "CallResult")]
