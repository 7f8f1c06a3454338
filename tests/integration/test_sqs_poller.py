"""The local stand-in for Lambda's SQS event source: its batching window. Against moto's
SQS (the AWS API emulator: there is no local SQS otherwise), over a real socket."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from csms_local import aws_local
from csms_local.sqs_poller import SqsPoller, create_queues


class Batches:
    """The handler: remembers the size of each batch it is given."""

    def __init__(self) -> None:
        self.sizes: list[int] = []
        self._changed = threading.Condition()

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        with self._changed:
            self.sizes.append(len(event["Records"]))
            self._changed.notify_all()
        return {"batchItemFailures": []}

    def wait_for(self, records: int, timeout: float = 15.0) -> list[int]:
        with self._changed:
            self._changed.wait_for(lambda: sum(self.sizes) >= records, timeout)
            return list(self.sizes)


@pytest.fixture
def queue_url(moto_url: str) -> str:
    return create_queues(moto_url, name=f"window-{uuid.uuid4().hex[:8]}")["EVENTS_QUEUE_URL"]


@pytest.fixture
def send(moto_url: str, queue_url: str) -> Any:
    sqs = aws_local.client("sqs", moto_url)

    def one(body: str) -> None:
        sqs.send_message(QueueUrl=queue_url, MessageBody=body, MessageGroupId="tenant",
                         MessageDeduplicationId=uuid.uuid4().hex)

    return one


def polling(moto_url: str, queue_url: str, window: float) -> Iterator[Batches]:
    batches = Batches()
    # One thread: a second one may have a long poll in flight when the window opens,
    # which answers as soon as a record comes (the stack's two threads then fall into
    # turn, one receive per window).
    poller = SqsPoller(moto_url, queue_url, batches, workers=1, batch_window=window).start()
    try:
        yield batches
    finally:
        poller.stop()


def test_records_sent_within_the_window_after_a_small_batch_come_as_one_batch(
    moto_url: str, queue_url: str, send: Any
) -> None:
    for batches in polling(moto_url, queue_url, window=1.0):
        # Given a first record, taken at once as a batch of one
        send("first")
        assert batches.wait_for(1) == [1]
        # When three more follow within the window
        for n in range(3):
            send(f"next-{n}")
            time.sleep(0.05)
        # Then the poller has waited for the window to pass and takes them together
        assert batches.wait_for(4) == [1, 3]


def test_without_a_window_the_poller_asks_again_as_soon_as_it_is_done(
    moto_url: str, queue_url: str, send: Any
) -> None:
    for batches in polling(moto_url, queue_url, window=0.0):
        send("first")
        assert batches.wait_for(1) == [1]
        send("second")
        # Taken alone: no thread waits for more to gather
        assert batches.wait_for(2) == [1, 1]
