"""Event worker (SQS FIFO batches): stores runtime records in bulk, publishes events."""

from typing import Any

from csms.entrypoints import event_worker


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return event_worker.on_batch(event)
