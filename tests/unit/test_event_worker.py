"""The event worker's batch rules, with in-memory storage and publishing: what fails is
retried, what comes after it for the same charge point waits, other chargers go on."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from csms import bootstrap
from csms.config import Settings
from csms.domain.model import ConnectionStatus
from csms.entrypoints.event_worker import on_batch
from csms.services.records import BUNDLE_KEY, BufferedRecords, encode

from tests.fakes.wiring import memory_wiring

AT = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


class Publisher:
    def __init__(self, failing_charge_point: str | None = None) -> None:
        self.failing = failing_charge_point
        self.published: list[tuple[str, str]] = []

    def publish(self, topic: str, event: dict) -> None:
        if event["charge_point_id"] == self.failing:
            raise ConnectionError("broker gone")
        self.published.append((event["charge_point_id"], event["event_id"]))


class DeadLetters:
    def __init__(self) -> None:
        self.letters: list[tuple[str, str]] = []

    def put(self, body: str, reason: str, source_message_id: str, group: str | None) -> None:
        self.letters.append((source_message_id, reason))


@pytest.fixture
def world():
    wiring = memory_wiring(
        Settings(event_max_attempts=3, events_dead_letter_queue_url="memory://dead"),
        event_publisher=Publisher(),
        dead_letters=DeadLetters(),
    )
    with bootstrap.using(wiring):
        yield {
            "publisher": wiring.event_publisher,
            "dead": wiring.dead_letters,
            "applier": wiring.record_applier,
        }


class ListQueue:
    def __init__(self) -> None:
        self.envelopes: list[dict] = []

    def send(self, envelopes) -> None:
        self.envelopes.extend(envelopes)


def sqs_message(n: int, cp: str, attempt: int = 1, body: str | None = None) -> dict:
    """Message n of an SQS batch: one envelope saying that `cp` connected."""
    if body is None:
        queue = ListQueue()
        records = BufferedRecords(queue, new_id=lambda: f"{cp}-{n}")
        records.connection("t1", cp, ConnectionStatus.CONNECTED, AT)
        records.flush()
        body = encode(queue.envelopes[0])
    return {"messageId": f"m{n}", "receiptHandle": f"r{n}", "body": body,
            "attributes": {"MessageGroupId": f"t1/{cp}", "ApproximateReceiveCount": str(attempt),
                           "SequenceNumber": str(n)},
            "messageAttributes": {}, "eventSource": "aws:sqs"}


def failed(result: dict) -> list[str]:
    return [f["itemIdentifier"] for f in result["batchItemFailures"]]


def test_a_publish_failure_holds_back_the_rest_of_that_chargers_messages(world):
    world["publisher"].failing = "CP-G"
    batch = [sqs_message(1, "CP-G"), sqs_message(2, "CP-H"), sqs_message(3, "CP-G")]

    result = on_batch({"Records": batch})

    assert failed(result) == ["m1", "m3"]
    assert world["publisher"].published == [("CP-H", "CP-H-2:0")]


def test_a_poison_message_is_dead_lettered_and_its_charger_goes_on(world):
    batch = [sqs_message(1, "CP-G", body="[not an envelope"), sqs_message(2, "CP-G")]

    result = on_batch({"Records": batch})

    assert failed(result) == []
    [(message_id, reason)] = world["dead"].letters
    assert message_id == "m1" and reason.startswith("malformed envelope")
    assert world["publisher"].published == [("CP-G", "CP-G-2:0")]


def test_a_message_failing_its_last_attempt_is_dead_lettered_with_the_reason(world):
    world["publisher"].failing = "CP-G"

    result = on_batch({"Records": [sqs_message(1, "CP-G", attempt=3)]})

    assert failed(result) == []
    [(message_id, reason)] = world["dead"].letters
    assert message_id == "m1" and "failed 3 times" in reason and "broker gone" in reason


def test_a_storage_failure_fails_all_of_that_tenants_messages(world, monkeypatch):
    def broken(tenant, batch):
        raise OSError("MongoDB unreachable")

    monkeypatch.setattr(world["applier"], "store", broken)

    result = on_batch({"Records": [sqs_message(1, "CP-G"), sqs_message(2, "CP-H")]})

    assert failed(result) == ["m1", "m2"]
    assert world["publisher"].published == []


# ---------- bundles: envelopes of several charge points in one message ----------


def bundle_message(n: int, cps: list[str], attempt: int = 1, poison_at: int | None = None
                   ) -> dict:
    """Message n: a bundle of one envelope per charge point, as the local gateway sends
    them (`poison_at`: that envelope is one no retry can store)."""
    envelopes = [json.loads(sqs_message(n * 100 + i, cp)["body"]) for i, cp in enumerate(cps)]
    if poison_at is not None:
        envelopes[poison_at] = {"id": "bad", "records": "not a list"}
    body = {BUNDLE_KEY: envelopes}
    message = sqs_message(n, cps[0], attempt, body=json.dumps(body))
    message["attributes"]["MessageGroupId"] = "t1/~0"
    return message


def test_a_bundle_stores_and_publishes_each_charge_points_envelope_in_order(world):
    result = on_batch({"Records": [bundle_message(1, ["CP-A", "CP-B", "CP-C"])]})

    assert failed(result) == []
    assert world["publisher"].published == [
        ("CP-A", "CP-A-100:0"), ("CP-B", "CP-B-101:0"), ("CP-C", "CP-C-102:0")]


def test_a_poison_envelope_in_a_bundle_is_dead_lettered_alone(world):
    result = on_batch({"Records": [bundle_message(1, ["CP-A", "CP-B", "CP-C"], poison_at=1)]})

    assert failed(result) == []
    [(letter, reason)] = world["dead"].letters
    assert letter == "m1:1" and reason.startswith("malformed envelope")
    assert world["publisher"].published == [("CP-A", "CP-A-100:0"), ("CP-C", "CP-C-102:0")]


def test_a_failure_in_a_bundle_retries_the_whole_message_once(world):
    world["publisher"].failing = "CP-B"
    batch = [bundle_message(1, ["CP-A", "CP-B", "CP-C"]), bundle_message(2, ["CP-D"])]

    result = on_batch({"Records": batch})

    # The message is retried as a whole (its stores are idempotent) and what follows it in
    # its group waits; nothing after the failing envelope is published meanwhile.
    assert failed(result) == ["m1", "m2"]
    assert world["publisher"].published == [("CP-A", "CP-A-100:0")]


def test_a_bundle_failing_its_last_attempt_is_dead_lettered_once(world):
    world["publisher"].failing = "CP-B"

    result = on_batch({"Records": [bundle_message(1, ["CP-A", "CP-B", "CP-B"], attempt=3)]})

    assert failed(result) == []
    [(letter, reason)] = world["dead"].letters
    assert letter == "m1" and "failed 3 times" in reason
