"""Scheduled functions: work no charger or operator request triggers."""

from __future__ import annotations

from typing import Any

from csms import bootstrap
from csms.observability import logger


def on_sweep(event: dict[str, Any]) -> dict[str, Any]:
    """Commands past their deadline end `timed_out`; the next queued ones go out.
    Reservations past their expiry end `Expired` (a charger offline then never says so)."""
    try:
        swept = bootstrap.command_sweeper().sweep()
        swept["reservations_expired"] = bootstrap.reservation_expiry().sweep()
    finally:
        # The outcomes (command_completed events) are stored and published as usual.
        bootstrap.records().flush()
    # Quiet when there was nothing to do: it runs every minute.
    if swept["timed_out"] or swept["reservations_expired"]:
        logger.info("commands swept", extra=swept)
    else:
        logger.debug("commands swept", extra=swept)
    return swept
