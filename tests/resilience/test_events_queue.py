"""Seed 13: the events queue. Valid envelopes are stored, invalid ones go to the dead-letter
queue with a reason, records that arrive out of order never let an older connector status
overwrite a newer one, an empty queue blocks neither the poller nor the worker, and when
the queue's server restarts the poller resumes and records flow again.

The module runs an AWS emulator of its own (LocalStack, as `make run` has it, or moto's
server where LocalStack is not installed), because one test stops and restarts it; the
poller feeds the real event_worker function, which stores in MongoDB and publishes to
the session's MQTT broker (whose events tell the tests when records were processed)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from csms import bootstrap
from csms_local import aws_local, services
from csms_local.lambdas import load_handler
from csms_local.sqs_poller import SqsPoller, create_queues

from tests.e2e.conftest import Fleet
from tests.mqtt_subscriber import Subscriber

from .conftest import LogWatch, scaled

pytestmark = pytest.mark.resilience

AT = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
QUEUE_NAME = f"resilience-{uuid.uuid4().hex[:8]}"
RESTART_LIMIT_SECONDS = 60.0


class LocalAws:
    """The module's AWS emulator and its queues, which it can restart on the same port."""

    def __init__(self, work: Path) -> None:
        self.port = services.free_port()
        self.server = services.local_aws(self.port, work, work / "aws.log")
        self.url = f"http://127.0.0.1:{self.port}"
        self.queues: dict[str, str] = {}

    def start(self) -> None:
        self.server.start()
        # An emulator keeps no queues over a restart: they are made again, as `make run`
        # makes them at start, under the same names (so with the same URLs).
        self.queues = create_queues(self.url, name=QUEUE_NAME, visibility=1)

    def stop(self) -> None:
        self.server.stop()

    def sqs(self) -> Any:
        return aws_local.client("sqs", self.url)


@pytest.fixture(scope="module")
def local_aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAws]:
    aws = LocalAws(tmp_path_factory.mktemp("aws"))
    aws.start()
    yield aws
    aws.stop()


@pytest.fixture(scope="module")
def poller(stack_env: pytest.MonkeyPatch, local_aws: LocalAws, mqtt_url: str
           ) -> Iterator[SqsPoller]:
    """The local stack's poller, feeding event_worker, as `make run` wires it."""
    for name, value in {**local_aws.queues, "MQTT_URL": mqtt_url,
                        "AWS_ENDPOINT_URL": local_aws.url}.items():
        stack_env.setenv(name, value)
    bootstrap.reset()
    running = SqsPoller(local_aws.url, local_aws.queues["EVENTS_QUEUE_URL"],
                        load_handler("event_worker")).start()
    yield running
    running.stop()


def envelope(tenant_id: str, cp: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": uuid.uuid4().hex, "tenant_id": tenant_id, "charge_point_id": cp,
            "records": records}


def status_record(connector: int, status: str, at: datetime) -> dict[str, Any]:
    stamp = at.isoformat()
    return {"type": "connector_status", "at": stamp,
            "data": {"connector_id": connector, "status": status, "error_code": "NoError",
                     "timestamp": stamp, "info": None, "vendor_id": None,
                     "vendor_error_code": None}}


def send(aws: LocalAws, body: str, group: str) -> None:
    aws.sqs().send_message(QueueUrl=aws.queues["EVENTS_QUEUE_URL"], MessageBody=body,
                           MessageGroupId=group, MessageDeduplicationId=uuid.uuid4().hex)


def send_envelope(aws: LocalAws, env: dict[str, Any]) -> None:
    send(aws, json.dumps(env), f"{env['tenant_id']}/{env['charge_point_id']}")


def statuses_published(subscriber: Subscriber, count: int, timeout: float = 30) -> list:
    return subscriber.wait_for(
        lambda m: sum(e["type"] == "connector_status" for _, e in m) >= count, timeout)


def test_valid_envelopes_are_stored_and_published(
    poller: SqsPoller, local_aws: LocalAws, stack_fleet: Fleet, mqtt_url: str,
    log_watch: LogWatch,
):
    tenant, cp = stack_fleet.tenant_id, f"VALID-{uuid.uuid4().hex[:6]}"
    subscriber = Subscriber(mqtt_url, f"ocpp/status/{tenant}/{cp}")
    count = scaled(20, 500)
    for n in range(count):
        send_envelope(local_aws, envelope(tenant, cp, [
            {"type": "message", "at": (AT + timedelta(seconds=n)).isoformat(),
             "data": {"charge_point_id": cp, "timestamp": (AT + timedelta(seconds=n)).isoformat(),
                      "message_id": f"m{n}", "direction": "in"}},
            status_record(1, "Charging", AT + timedelta(seconds=n))]))

    received = statuses_published(subscriber, count)
    subscriber.close()

    assert len(received) == count
    assert stack_fleet.db["ocpp_messages"].count_documents({"charge_point_id": cp}) == count
    assert log_watch.unexpected() == []


@pytest.mark.parametrize(("body", "reason"), [
    pytest.param("{not json", "malformed envelope: not JSON", id="not-json"),
    pytest.param(json.dumps({"id": "x", "records": []}), "malformed envelope: KeyError",
                 id="no-tenant"),
    pytest.param(json.dumps({"id": "y", "tenant_id": "t", "charge_point_id": "c",
                             "records": [{"type": "teleport", "at": AT.isoformat()}]}),
                 "unknown record type 'teleport'", id="unknown-record"),
    pytest.param(json.dumps({"id": "z", "tenant_id": "t", "charge_point_id": "c",
                             "records": [{"type": "heartbeat", "at": "yesterday"}]}),
                 "malformed envelope", id="bad-timestamp"),
])
def test_an_invalid_envelope_is_dead_lettered_with_its_reason_and_the_rest_still_flows(
    poller: SqsPoller, local_aws: LocalAws, stack_fleet: Fleet, mqtt_url: str, body: str,
    reason: str, log_watch: LogWatch,
):
    tenant, cp = stack_fleet.tenant_id, f"POISON-{uuid.uuid4().hex[:6]}"
    subscriber = Subscriber(mqtt_url, f"ocpp/status/{tenant}/{cp}")
    send(local_aws, body, f"{tenant}/{cp}")
    send_envelope(local_aws, envelope(tenant, cp, [status_record(1, "Available", AT)]))

    flowed = statuses_published(subscriber, 1)
    subscriber.close()
    dead = dead_letter_with(local_aws, body)

    assert len(flowed) == 1
    assert dead is not None, "not in the dead-letter queue"
    assert reason in dead["MessageAttributes"]["reason"]["StringValue"]
    assert log_watch.unexpected("record dead-lettered") == []


def dead_letter_with(aws: LocalAws, body: str) -> dict[str, Any] | None:
    """The dead letter holding `body` (long polls; others are left for their tests)."""
    sqs = aws.sqs()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        for message in sqs.receive_message(
            QueueUrl=aws.queues["EVENTS_DLQ_URL"], MaxNumberOfMessages=10, WaitTimeSeconds=1,
            MessageAttributeNames=["All"], VisibilityTimeout=1,
        ).get("Messages", []):
            if message["Body"] == body:
                sqs.delete_message(QueueUrl=aws.queues["EVENTS_DLQ_URL"],
                                   ReceiptHandle=message["ReceiptHandle"])
                return dict(message)
    return None


def test_out_of_order_statuses_never_overwrite_a_newer_one(
    poller: SqsPoller, local_aws: LocalAws, stack_fleet: Fleet, mqtt_url: str,
    log_watch: LogWatch,
):
    tenant = stack_fleet.tenant_id
    chargers = [f"ORDER{n}-{uuid.uuid4().hex[:6]}" for n in range(scaled(5, 50))]
    subscriber = Subscriber(mqtt_url, f"ocpp/status/{tenant}/#")
    # Each charger's statuses arrive newest first, alternating with older ones.
    plan = [(cp, minute) for cp in chargers for minute in (9, 3, 7, 1, 5)]
    for cp, minute in plan:
        send_envelope(local_aws, envelope(tenant, cp, [
            status_record(1, f"S{minute}", AT + timedelta(minutes=minute))]))

    statuses_published(subscriber, len(plan))
    subscriber.close()

    for cp in chargers:
        stored = stack_fleet.db["charge_points"].find_one({"_id": cp})
        assert stored["connectors"]["1"]["status"] == "S9", cp
    assert log_watch.unexpected() == []


def test_an_empty_queue_blocks_neither_the_poller_nor_the_worker(
    poller: SqsPoller, local_aws: LocalAws, stack_fleet: Fleet, mqtt_url: str,
):
    worker = load_handler("event_worker")
    empty = create_queues(local_aws.url, name=f"empty-{uuid.uuid4().hex[:8]}")
    standalone = SqsPoller(local_aws.url, empty["EVENTS_QUEUE_URL"], worker)

    started = time.monotonic()
    nothing = standalone.poll_once(wait_seconds=0)
    empty_batch = worker({"Records": []}, None)
    quick = time.monotonic() - started
    standalone.stop()
    tenant, cp = stack_fleet.tenant_id, f"IDLE-{uuid.uuid4().hex[:6]}"
    subscriber = Subscriber(mqtt_url, f"ocpp/status/{tenant}/{cp}")
    send_envelope(local_aws, envelope(tenant, cp, [status_record(1, "Available", AT)]))
    after_idle = statuses_published(subscriber, 1, timeout=10)
    subscriber.close()

    assert nothing == 0 and empty_batch == {"batchItemFailures": []}
    assert quick < 2.0
    assert len(after_idle) == 1  # the running poller, idle until now, took it at once


# While its server is away the poller says so, and the handlers' sends fail.
AWS_AWAY = (r"polling the events queue failed",)


def test_the_poller_resumes_when_the_queue_server_restarts(
    poller: SqsPoller, local_aws: LocalAws, stack_fleet: Fleet, mqtt_url: str,
    log_watch: LogWatch,
):
    tenant, cp = stack_fleet.tenant_id, f"RESTART-{uuid.uuid4().hex[:6]}"
    subscriber = Subscriber(mqtt_url, f"ocpp/status/{tenant}/{cp}")
    records = bootstrap.records()  # the handlers' own path to the queue
    records.connector_status(tenant, cp, _status(1, "Preparing", AT))
    records.flush()
    statuses_published(subscriber, 1)

    local_aws.stop()
    local_aws.start()
    restarted = time.monotonic()
    records.connector_status(tenant, cp, _status(1, "Charging", AT + timedelta(minutes=1)))
    records.flush()
    received = statuses_published(subscriber, 2, timeout=RESTART_LIMIT_SECONDS)
    resumed_after = time.monotonic() - restarted
    subscriber.close()

    print(f"\n[seed 13] queue server restarted: records flowing again after "
          f"{resumed_after:.1f} s")
    assert [e["data"]["status"] for _, e in received] == ["Preparing", "Charging"]
    assert log_watch.unexpected(*AWS_AWAY) == []


def _status(connector: int, status: str, at: datetime):
    from csms.domain.model import ConnectorStatus

    return ConnectorStatus(connector, status, "NoError", at)
