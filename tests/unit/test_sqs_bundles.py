"""Where invocations share a process (the local gateway), records of several charge points
sent in the same round travel as one SQS message: a bundle, per FIFO message group.
A charge point always maps to the same group, so its records stay in order."""

from __future__ import annotations

import json

from csms.adapters.sqs import _MAX_BATCH_BYTES, SqsRecordQueue, bundled
from csms.services.records import BUNDLE_KEY

QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/events.fifo"


def envelope(cp: str, n: int = 0, tenant: str = "t1", size: int = 0) -> dict:
    return {"id": f"{cp}-{n}", "tenant_id": tenant, "charge_point_id": cp,
            "records": [{"type": "heartbeat", "at": "2026-12-06T22:00:00Z",
                         "data": {"pad": "x" * size}}]}


def entries(queue: SqsRecordQueue, envelopes: list[dict]) -> list[dict]:
    return [queue._entry(e) for e in envelopes]


def test_each_charge_point_has_a_group_of_its_own_by_default():
    queue = SqsRecordQueue(QUEUE)

    [entry] = entries(queue, [envelope("CP-1")])

    assert entry["MessageGroupId"] == "t1/CP-1"
    assert entry["MessageDeduplicationId"] == "CP-1-0"


def test_a_charge_point_maps_to_the_same_shared_group_from_any_sender():
    # Given two senders (a $connect container and the gateway, say)
    connect, gateway = SqsRecordQueue(QUEUE, groups_per_tenant=4), SqsRecordQueue(
        QUEUE, groups_per_tenant=4)

    groups = {cp: entries(connect, [envelope(cp)])[0]["MessageGroupId"]
              for cp in (f"CP-{i}" for i in range(40))}

    # Then each charge point is in the same group whoever sends, within its tenant's four
    assert groups == {cp: entries(gateway, [envelope(cp)])[0]["MessageGroupId"] for cp in groups}
    assert set(groups.values()) == {"t1/~0", "t1/~1", "t1/~2", "t1/~3"}


def test_envelopes_of_one_group_travel_as_one_message_in_their_order():
    queue = SqsRecordQueue(QUEUE, groups_per_tenant=1)
    sent = [envelope("CP-A", 1), envelope("CP-B", 1), envelope("CP-A", 2)]

    [message] = bundled(entries(queue, sent))

    assert message["MessageGroupId"] == "t1/~0"
    assert json.loads(message["MessageBody"]) == {BUNDLE_KEY: sent}


def test_groups_and_tenants_are_never_mixed_in_a_bundle():
    queue = SqsRecordQueue(QUEUE, groups_per_tenant=1)
    sent = [envelope("CP-A", tenant="t1"), envelope("CP-A", tenant="t2"),
            envelope("CP-B", tenant="t1")]

    messages = bundled(entries(queue, sent))

    assert [m["MessageGroupId"] for m in messages] == ["t1/~0", "t2/~0"]
    assert [len(json.loads(m["MessageBody"])[BUNDLE_KEY]) for m in messages[:1]] == [2]
    assert json.loads(messages[1]["MessageBody"]) == sent[1]  # alone: sent as it is


def test_the_same_envelopes_make_the_same_deduplication_id():
    queue = SqsRecordQueue(QUEUE, groups_per_tenant=1)
    sent = [envelope("CP-A"), envelope("CP-B")]

    first, again = bundled(entries(queue, sent)), bundled(entries(queue, sent))
    other = bundled(entries(queue, [envelope("CP-A"), envelope("CP-C")]))

    assert first[0]["MessageDeduplicationId"] == again[0]["MessageDeduplicationId"]
    assert first[0]["MessageDeduplicationId"] != other[0]["MessageDeduplicationId"]


def test_large_envelopes_are_spread_over_bundles_that_each_fit_a_message():
    queue = SqsRecordQueue(QUEUE, groups_per_tenant=1)
    sent = [envelope(f"CP-{i}", size=50_000) for i in range(6)]

    messages = bundled(entries(queue, sent))

    assert len(messages) > 1
    assert all(len(m["MessageBody"]) < _MAX_BATCH_BYTES for m in messages)
    unbundled = [e for m in messages for e in json.loads(m["MessageBody"])[BUNDLE_KEY]]
    assert unbundled == sent
