"""--verify: did the CSMS store what the fleet sent? Counts the simulated chargers' entries
in the tenant's message log (database ocpp_tenant_<tenant>, collection ocpp_messages)
within the run's time window: their Calls (direction in) and the CSMS's replies to them
(direction out, most of them stored with their Call as one exchange document), waiting a
bounded time for the events queue and worker to catch up."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

from csms_local.sim.stats import Summary

POLL_SECONDS = 2.0  # between counts, at least


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

    def count() -> tuple[int, int]:
        """(Calls in, replies out): one pass over the log for both."""
        per_charger = collection.aggregate(
            [
                {
                    "$match": {
                        "charge_point_id": span,
                        "message_type": {"$in": ["Call", "CallResult", "CallError"]},
                        "timestamp": window,
                    }
                },
                {
                    "$group": {
                        "_id": {
                            "cp": "$charge_point_id",
                            "direction": "$direction",
                            "type": "$message_type",
                            "reply": "$reply.message_type",
                        },
                        "n": {"$sum": 1},
                    }
                },
            ]
        )
        calls = replies = 0
        for group in per_charger:
            key = group["_id"]
            if key["cp"] not in wanted:
                continue
            n = int(group["n"])
            if key["direction"] == "in" and key["type"] == "Call":
                calls += n
                if key.get("reply") is not None:  # an exchange: the reply is stored with it
                    replies += n
            elif key["direction"] == "out" and key["type"] != "Call":
                replies += n
        return calls, replies

    expected = summary.msgs  # answered Calls: each is a Call in and a reply out
    began = time.monotonic()
    try:
        while True:
            counted_at = time.monotonic()
            calls, replies = count()
            took = time.monotonic() - counted_at
            complete = calls >= expected and replies >= expected
            if complete or time.monotonic() - began >= wait:
                break
            # A count over a large log keeps the local server busy for seconds, and the
            # worker being waited for needs it too: it gets at least as long again.
            time.sleep(max(POLL_SECONDS, took))
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
