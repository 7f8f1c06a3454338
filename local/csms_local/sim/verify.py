"""--verify: did the CSMS store what the fleet sent? Counts the simulated chargers' entries
in the tenant's message log (database ocpp_tenant_<tenant>, collection ocpp_messages)
within the run's time window: their Calls (direction in) and the CSMS's replies to them
(direction out), waiting a bounded time for the events queue and worker to catch up."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

from csms_local.sim.stats import Summary

POLL_SECONDS = 2.0  # between counts: the worker being waited for needs the server too


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

    # One range on the indexed charge point id, not thousands of ids in $in (on the local
    # MongoDB-wire server those counts held its lock for seconds, and the event worker
    # they wait for with it); grouped by charger, so only these chargers' entries count.
    wanted = set(ids)
    span: dict[str, Any] = {"$gte": min(ids), "$lte": max(ids)} if ids else {"$in": []}

    def count(direction: str, types: list[str]) -> int:
        per_charger = collection.aggregate(
            [
                {
                    "$match": {
                        "charge_point_id": span,
                        "direction": direction,
                        "message_type": {"$in": types},
                        "timestamp": window,
                    }
                },
                {"$group": {"_id": "$charge_point_id", "n": {"$sum": 1}}},
            ]
        )
        return sum(int(group["n"]) for group in per_charger if group["_id"] in wanted)

    expected = summary.msgs  # answered Calls: each is a Call in and a reply out
    began = time.monotonic()
    try:
        while True:
            calls = count("in", ["Call"])
            replies = count("out", ["CallResult", "CallError"])
            complete = calls >= expected and replies >= expected
            if complete or time.monotonic() - began >= wait:
                break
            time.sleep(POLL_SECONDS)
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
