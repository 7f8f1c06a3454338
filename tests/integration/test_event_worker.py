"""The event worker against real servers: SQS FIFO queues on the AWS API emulator (moto:
there is no local SQS otherwise), a real MongoDB-wire server and a real MQTT broker."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from csms import bootstrap
from csms.adapters.sqs import SqsRecordQueue
from csms.domain.model import ConnectionInfo, ConnectorStatus, MeterValue
from csms.entrypoints.websocket import on_message
from csms.services.records import BufferedRecords
from csms_local import services
from csms_local.lambdas import load_handler
from csms_local.sqs_poller import SqsPoller, create_queues

from tests.event_schemas import validate_event
from tests.mqtt_subscriber import Subscriber

AT = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture
def worker_env(monkeypatch, moto_url, mqtt_url, redis_url, mongodb_uri, key_prefix):
    """The event worker's environment, with queues of its own."""
    queues = create_queues(moto_url, name=f"events-{uuid.uuid4().hex[:8]}", visibility=1)
    env = {
        "MONGODB_URI": mongodb_uri, "REDIS_URL": redis_url, "REDIS_KEY_PREFIX": key_prefix,
        "MQTT_URL": mqtt_url, "AWS_ENDPOINT_URL": moto_url, "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", **queues,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    bootstrap.reset()
    yield queues
    bootstrap.reset()


@pytest.fixture
def poller(worker_env, moto_url) -> SqsPoller:
    return SqsPoller(moto_url, worker_env["EVENTS_QUEUE_URL"], load_handler("event_worker"))


def drain(poller: SqsPoller, rounds: int = 30) -> None:
    """Poll until the queue stays empty (failed messages come back after 1 s)."""
    empty = 0
    for _ in range(rounds):
        empty = empty + 1 if poller.poll_once(wait_seconds=1) == 0 else 0
        if empty == 2:
            return


def dead_letters(moto_url: str, url: str) -> list[dict]:
    sqs = boto3.client("sqs", endpoint_url=moto_url, region_name="us-east-1",
                       aws_access_key_id="local", aws_secret_access_key="local")
    return sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                               MessageAttributeNames=["All"]).get("Messages", [])


def some_records(tenant_id: str, cp: str, n: int) -> None:
    records = bootstrap.records()
    for i in range(n):
        at = AT + timedelta(seconds=i)
        records.message(tenant_id, {"charge_point_id": cp, "timestamp": at,
                                    "message_id": f"m{i}", "direction": "in"})
        records.connector_status(tenant_id, cp, ConnectorStatus(1, "Charging", "NoError", at))
        records.meter_values(tenant_id, [MeterValue(cp, 1, at, [{"value": str(i)}], 1)])
        records.flush()


def test_records_are_stored_in_bulk_and_published_as_valid_events(
    poller, mqtt_url, mongo_client, tenant_id
):
    subscriber = Subscriber(mqtt_url, f"ocpp/+/{tenant_id}/#")
    some_records(tenant_id, "CP-W", 3)

    drain(poller)
    received = subscriber.wait_for(lambda m: len(m) >= 6)
    subscriber.close()

    db = mongo_client[f"ocpp_tenant_{tenant_id}"]
    assert db["ocpp_messages"].count_documents({}) == 3
    assert db["meter_values"].count_documents({}) == 3
    state = db["charge_points"].find_one({"_id": "CP-W"})
    assert state["connectors"]["1"]["timestamp"] == AT + timedelta(seconds=2)
    assert [e["type"] for _, e in received] == ["connector_status", "meter_values"] * 3
    for _, event in received:
        validate_event(event)
    message = db["ocpp_messages"].find_one({})
    assert message["expire_at"] - message["timestamp"] == timedelta(days=30)


def test_a_redelivered_batch_creates_no_duplicates(worker_env, moto_url, mongo_client, tenant_id):
    some_records(tenant_id, "CP-R", 2)
    sqs = boto3.client("sqs", endpoint_url=moto_url, region_name="us-east-1",
                       aws_access_key_id="local", aws_secret_access_key="local")
    received = sqs.receive_message(QueueUrl=worker_env["EVENTS_QUEUE_URL"],
                                   MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
    event = {"Records": [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"],
                          "body": m["Body"], "attributes": m["Attributes"],
                          "messageAttributes": {}, "eventSource": "aws:sqs"} for m in received]}
    handler = load_handler("event_worker")

    assert handler(event, None) == {"batchItemFailures": []}
    assert handler(event, None) == {"batchItemFailures": []}  # SQS delivered it again

    db = mongo_client[f"ocpp_tenant_{tenant_id}"]
    assert db["ocpp_messages"].count_documents({}) == 2
    assert db["meter_values"].count_documents({}) == 2


def test_a_poison_record_goes_to_the_dead_letter_queue_and_the_rest_is_stored(
    worker_env, poller, moto_url, mongo_client, tenant_id
):
    sqs = boto3.client("sqs", endpoint_url=moto_url, region_name="us-east-1",
                       aws_access_key_id="local", aws_secret_access_key="local")
    sqs.send_message(QueueUrl=worker_env["EVENTS_QUEUE_URL"], MessageBody="{not json",
                     MessageGroupId=f"{tenant_id}/CP-P", MessageDeduplicationId="poison-1")
    some_records(tenant_id, "CP-P", 2)

    drain(poller)

    db = mongo_client[f"ocpp_tenant_{tenant_id}"]
    assert db["ocpp_messages"].count_documents({}) == 2
    [dead] = dead_letters(moto_url, worker_env["EVENTS_DLQ_URL"])
    assert dead["Body"] == "{not json"
    assert dead["MessageAttributes"]["reason"]["StringValue"].startswith(
        "malformed envelope: not JSON"
    )


@pytest.fixture
def own_mongo(tmp_path, monkeypatch, worker_env):
    """A MongoDB-wire server of this test's own, with storage on disk (it survives a stop)."""
    server = services.mongo(services.free_port(), tmp_path / "mongo").start()
    monkeypatch.setenv("MONGODB_URI", f"mongodb://127.0.0.1:{server.port}/?serverSelectionTimeoutMS=500")
    monkeypatch.setenv("EVENT_MAX_ATTEMPTS", "50")
    bootstrap.reset()
    yield server
    server.stop()


def test_mongodb_down_mid_stream_then_every_record_is_stored_exactly_once(
    own_mongo, poller, tenant_id
):
    from pymongo import MongoClient

    some_records(tenant_id, "CP-O", 3)
    drain(poller)
    own_mongo.stop()
    some_records(tenant_id, "CP-O", 6)  # logged while MongoDB is down: they wait in SQS
    poller.poll_once(wait_seconds=1)  # fails: reported back, nothing deleted
    own_mongo.start()

    drain(poller)

    client = MongoClient(f"mongodb://127.0.0.1:{own_mongo.port}")
    messages = client[f"ocpp_tenant_{tenant_id}"]["ocpp_messages"]
    assert messages.count_documents({}) == 9
    assert len(messages.distinct("_id")) == 9
    client.close()


def test_the_charger_is_answered_while_mongodb_is_down_when_the_reply_needs_no_data(
    own_mongo, tenant_id
):
    connection = ConnectionInfo(f"c-{uuid.uuid4().hex[:8]}", "CP-D", tenant_id, "ocpp1.6",
                                datetime.now(UTC))
    bootstrap.connection_registry().register(connection)
    own_mongo.stop()

    def send(message_id: str, action: str, payload: dict) -> list:
        event = {"requestContext": {"connectionId": connection.connection_id},
                 "body": json.dumps([2, message_id, action, payload])}
        return json.loads(on_message(event)["body"])

    now = datetime.now(UTC).isoformat()
    assert send("h", "Heartbeat", {})[0] == 3
    assert send("s", "StatusNotification", {"connectorId": 1, "errorCode": "NoError",
                                            "status": "Available", "timestamp": now})[0] == 3
    assert send("m", "MeterValues", {"connectorId": 1, "meterValue": [
        {"timestamp": now, "sampledValue": [{"value": "1"}]}]})[0] == 3
    assert send("b", "BootNotification", {"chargePointVendor": "V",
                                          "chargePointModel": "M"})[0] == 3
    # Authorization needs the id tags in MongoDB: that one must wait.
    assert send("a", "Authorize", {"idTag": "TAG"})[:3] == [4, "a", "InternalError"]


def test_retention_follows_the_tenants_configuration_through_ttl_indexes(
    poller, mongo_client, mongodb_uri, tenant_id
):
    from csms.domain.model import Tenant
    from csms_local.admin import Admin

    with Admin(mongodb_uri) as admin:
        admin.directory.create_tenant(Tenant(tenant_id, "short memory",
                                             message_retention_days=7,
                                             meter_value_retention_days=14))
        admin.tenants.for_tenant(tenant_id).ensure_indexes()
    some_records(tenant_id, "CP-T", 1)

    drain(poller)

    db = mongo_client[f"ocpp_tenant_{tenant_id}"]
    message, value = db["ocpp_messages"].find_one({}), db["meter_values"].find_one({})
    assert message["expire_at"] - message["timestamp"] == timedelta(days=7)
    assert value["expire_at"] - value["timestamp"] == timedelta(days=14)
    for collection in ("ocpp_messages", "meter_values"):
        ttl = db[collection].index_information()["expire_at_1"]
        assert ttl["expireAfterSeconds"] == 0


def test_the_iot_core_publisher_publishes_through_the_iot_data_api(moto_url, monkeypatch):
    # moto stands in for IoT Core's iot-data API: there is no local counterpart of it (the
    # local stack's broker is reached through MqttPublisher instead).
    from csms.adapters.iot import IotDataPublisher

    for name, value in {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}.items():
        monkeypatch.setenv(name, value)
    publisher = IotDataPublisher(moto_url, "us-east-1")
    sent = []
    publisher._client.meta.events.register(
        "before-send.iot-data.Publish", lambda request, **_: sent.append(request))
    event = {"event_id": "e:0", "type": "connected", "tenant_id": "t", "charge_point_id": "CP",
             "timestamp": "2026-11-22T12:00:00.000Z", "data": {}}

    publisher.publish("ocpp/status/t/CP", event)  # raises unless the API accepted it

    [request] = sent
    assert request.url.split("?")[0].endswith("/topics/ocpp%2Fstatus%2Ft%2FCP")
    assert "qos=1" in request.url
    assert json.loads(request.body) == event


def test_charge_points_sharing_a_message_group_travel_bundled_and_are_all_stored(
    worker_env, poller, moto_url, mongo_client, tenant_id
):
    # Given a sender that puts the tenant's charge points in one FIFO message group
    queue = SqsRecordQueue(worker_env["EVENTS_QUEUE_URL"], "us-east-1", groups_per_tenant=1)
    records = BufferedRecords(queue)

    # When three charge points' records go out in one round
    for i, cp in enumerate(("CP-B1", "CP-B2", "CP-B3")):
        records.message(tenant_id, {"charge_point_id": cp, "timestamp": AT,
                                    "message_id": f"b{i}", "direction": "in"})
    records.flush()

    # Then they are one SQS message, and the worker stores every one of them
    sqs = boto3.client("sqs", endpoint_url=moto_url, region_name="us-east-1",
                       aws_access_key_id="local", aws_secret_access_key="local")
    waiting = sqs.get_queue_attributes(QueueUrl=worker_env["EVENTS_QUEUE_URL"],
                                       AttributeNames=["ApproximateNumberOfMessages"])
    assert waiting["Attributes"]["ApproximateNumberOfMessages"] == "1"
    drain(poller)
    stored = mongo_client[f"ocpp_tenant_{tenant_id}"]["ocpp_messages"].distinct("charge_point_id")
    assert sorted(stored) == ["CP-B1", "CP-B2", "CP-B3"]
