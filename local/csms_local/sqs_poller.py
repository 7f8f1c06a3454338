"""What Lambda's SQS event source mapping does, locally: receive batches from the events
queue (on the local AWS: LocalStack, or moto's server), invoke event_worker with an SQS
event, delete what it did not report as failed. Failed messages come back after the
visibility timeout."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from csms.adapters.aws_http import AwsJsonClient

from csms_local import aws_local
from csms_local.lambdas import LambdaContext

logger = logging.getLogger("csms_local.sqs_poller")

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


# The events queues as template.yaml declares them (EventsQueue, EventsDeadLetterQueue),
# in SQS attribute form; tests/integration/test_local_queues_match_template.py holds the
# two together. Only the names differ: CloudFormation makes up its own.
DLQ_ATTRIBUTES = {
    "FifoQueue": "true",
    "MessageRetentionPeriod": "1209600",
    "SqsManagedSseEnabled": "true",
}
QUEUE_ATTRIBUTES = {
    "FifoQueue": "true",
    "DeduplicationScope": "messageGroup",
    "FifoThroughputLimit": "perMessageGroupId",
    "VisibilityTimeout": "360",
    "SqsManagedSseEnabled": "true",
}
MAX_RECEIVE_COUNT = 10


def _local_sqs(target: str | None) -> Any:
    return aws_local.client("sqs", target)


def create_queues(
    target: str | None = None, name: str = "csms-events", visibility: int | None = None
) -> dict[str, str]:
    """The FIFO events queue and its dead-letter queue, with template.yaml's attributes, on
    the local AWS (`target`: host:port or URL; None: the environment's, see aws_local).
    `visibility` shortens the visibility timeout for tests that wait for retries."""
    sqs = _local_sqs(target)
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq.fifo", Attributes=DLQ_ATTRIBUTES)[
        "QueueUrl"
    ]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    attributes = dict(QUEUE_ATTRIBUTES)
    if visibility is not None:
        attributes["VisibilityTimeout"] = str(visibility)
    # A backstop behind the worker's own attempts (EVENT_MAX_ATTEMPTS).
    attributes["RedrivePolicy"] = json.dumps(
        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVE_COUNT}
    )
    queue_url = sqs.create_queue(QueueName=f"{name}.fifo", Attributes=attributes)["QueueUrl"]
    return {"EVENTS_QUEUE_URL": queue_url, "EVENTS_DLQ_URL": dlq_url}


def find_queues(target: str | None = None, name: str = "csms-events") -> dict[str, str]:
    """The running local stack's events queues (EVENTS_QUEUE_URL, EVENTS_DLQ_URL) on the
    local AWS, or {} when there is no such AWS or queue (answers within a few seconds)."""
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    quick = Config(connect_timeout=1, read_timeout=5, retries={"max_attempts": 1})
    sqs = aws_local.session(target).client("sqs", config=quick)
    try:
        return {
            "EVENTS_QUEUE_URL": sqs.get_queue_url(QueueName=f"{name}.fifo")["QueueUrl"],
            "EVENTS_DLQ_URL": sqs.get_queue_url(QueueName=f"{name}-dlq.fifo")["QueueUrl"],
        }
    except (BotoCoreError, ClientError):
        return {}


class SqsPoller:
    """`workers` threads poll at once, as Lambda runs several batches of a FIFO queue at
    once (never two of one message group: the queue hands a group's next messages out only
    when the earlier ones are deleted), so storing one batch overlaps fetching the next.

    `batch_window` (seconds; Lambda has none for FIFO queues): after a batch that was not
    full, no thread asks for the next one before the window has passed. A worker that
    keeps up otherwise asks again as soon as it has deleted, and gets the one or two
    messages sent meanwhile: each receive and delete then costs the local SQS more than
    the records it carries (docs/perf.md, seventh pass)."""

    def __init__(
        self,
        target: str | None,
        queue_url: str,
        handler: Handler,
        batch_size: int = 10,
        workers: int = 1,
        batch_window: float = 0.0,
    ):
        setup: Any = _local_sqs(target)
        self._queue_url = queue_url
        self._arn = setup.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        # The hot loop speaks SQS's JSON protocol itself (as the handlers' sends do):
        # boto3's request pipeline cost more CPU per batch than the batch's own work.
        self._sqs = AwsJsonClient(
            "sqs",
            "AmazonSQS",
            aws_local.REGION,
            endpoint_url=setup.meta.endpoint_url,
            env={
                "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID") or "test",
                "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY") or "test",
            },
            # Above the long poll's wait, so an idle queue is not taken for a dead one.
            timeout=10.0,
        )
        self._handler = handler
        self._batch_size = batch_size
        self._batch_window = batch_window
        self._not_before = 0.0  # time.monotonic() of the next receive, for every thread
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, name=f"sqs-poller-{n}", daemon=True)
            for n in range(max(1, workers))
        ]
        self.batches = 0

    def start(self) -> SqsPoller:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            if thread.is_alive():  # a poller only polled once was never started
                thread.join(10)
        self._sqs.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            pause = self._not_before - time.monotonic()
            if pause > 0 and self._stop.wait(pause):
                return
            try:
                self.poll_once(wait_seconds=1)
            except Exception:
                logger.exception("polling the events queue failed")
                self._stop.wait(1)

    def poll_once(self, wait_seconds: int = 0) -> int:
        received: list[dict[str, Any]] = self._sqs.call(
            "ReceiveMessage",
            {
                "QueueUrl": self._queue_url,
                "MaxNumberOfMessages": self._batch_size,
                "WaitTimeSeconds": wait_seconds,
                "AttributeNames": ["All"],
                "MessageAttributeNames": ["All"],
            },
        ).get("Messages", [])
        if not received:
            return 0
        if len(received) < self._batch_size:
            self._not_before = time.monotonic() + self._batch_window
        event = {"Records": [self._record(m) for m in received]}
        try:
            result = self._handler(event, LambdaContext("event_worker", uuid.uuid4().hex))
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        except Exception:
            logger.exception("event_worker failed; the whole batch will be retried")
            return len(received)
        done = [m for m in received if m["MessageId"] not in failed]
        if done:
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)
            ]
            answer = self._sqs.call(
                "DeleteMessageBatch", {"QueueUrl": self._queue_url, "Entries": entries}
            )
            if answer.get("Failed"):
                # Back after the visibility timeout, as with Lambda; worth a line in the log.
                logger.warning("deleting processed messages failed: %s", answer["Failed"])
        self.batches += 1
        return len(received)

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {
                name: {
                    "stringValue": value.get("StringValue"),
                    "dataType": value.get("DataType"),
                }
                for name, value in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message.get("MD5OfBody"),
            "eventSource": "aws:sqs",
            "eventSourceARN": self._arn,
            "awsRegion": "us-east-1",
        }
