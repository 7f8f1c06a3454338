"""Scheduled every minute (EventBridge on AWS, the local stack's scheduler locally):
ends commands past their deadline and sends the next queued ones."""

from typing import Any

from csms.entrypoints import scheduled


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return scheduled.on_sweep(event)
