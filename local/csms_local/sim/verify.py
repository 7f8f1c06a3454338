"""--verify: did the CSMS store what the fleet sent? Counts the simulated chargers' entries
in the tenant's message log (database ocpp_tenant_<tenant>, collection ocpp_messages)
within the run's time window: their Calls (direction in) and the CSMS's replies to them
(direction out), waiting a bounded time for the events queue and worker to catch up."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

from csms_local.sim.stats import Summary

BATCH = 1_000  # charge point ids per $in


def count_stored(
    mongodb_uri: str,
    tenant_id: str,
    ids: list[str],
    since: datetime,
    until: datetime,
    summary: Summary,
    wait: float = 30.0,
) -> dict[str, Any]:
    from pymongo import MongoClient

    client: MongoClient[dict[str, Any]] = MongoClient(
        mongodb_uri, serverSelectionTimeoutMS=5_000, tz_aware=True
    )
    collection = client[f"ocpp_tenant_{tenant_id}"]["ocpp_messages"]
    window = {"$gte": since - timedelta(seconds=1), "$lte": until + timedelta(seconds=wait + 5)}

    def count(direction: str, types: list[str]) -> int:
        total = 0
        for start in range(0, len(ids), BATCH):
            total += collection.count_documents(
                {
                    "charge_point_id": {"$in": ids[start : start + BATCH]},
                    "direction": direction,
                    "message_type": {"$in": types},
                    "timestamp": window,
                }
            )
        return total

    expected = summary.msgs  # answered Calls: each is a Call in and a reply out
    began = time.monotonic()
    try:
        while True:
            calls = count("in", ["Call"])
            replies = count("out", ["CallResult", "CallError"])
            complete = calls >= expected and replies >= expected
            if complete or time.monotonic() - began >= wait:
                break
            time.sleep(0.5)
    finally:
        client.close()
    return {
        "database": f"ocpp_tenant_{tenant_id}",
        "expected_calls": expected,
        "stored_calls": calls,
        "expected_replies": expected,
        "stored_replies": replies,
        "sent_calls": summary.calls_sent,
        "complete": complete,
        "waited_s": round(time.monotonic() - began, 1),
    }
