"""The event worker: SQS (FIFO) batches of runtime-record envelopes in, the message log
and runtime state out to MongoDB in bulk, events out to MQTT.

Phase 1 decodes each message (Powertools' FIFO batch processor: a failure skips the rest
of its message group); a message holds one envelope, or a bundle of them (several charge
points of one group, see adapters/sqs.py). Phase 2 stores each tenant's envelopes with one bulk
write per collection; phase 3 publishes their events in order. A message that fails is
reported back (partial batch response) and retried; one that can never succeed (poison),
or fails on its last attempt, goes to the dead-letter queue with the reason.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from typing import Any

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from csms import bootstrap
from csms.domain.model import ConnectionChanged, ConnectionStatus
from csms.observability import logger
from csms.services.record_applier import Decoded, PoisonRecord, decode
from csms.services.records import BUNDLE_KEY, encode


class _Batch:
    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.order = [SQSRecord(r) for r in records]
        # The envelopes of each message still to store, in order.
        self.decoded: dict[str, list[Decoded]] = {}
        self.failed: set[str] = set()
        self.dead: set[str] = set()  # dead-lettered after their last attempt
        self.blocked_groups: set[str] = set()

    def fail(self, record: SQSRecord, reason: str) -> None:
        """Retry it, or dead-letter it on its last attempt; later messages of its charge
        point wait either way (FIFO order). Once per message, however many of its
        envelopes failed."""
        if record.message_id in self.failed or record.message_id in self.dead:
            return
        group = record.attributes.message_group_id or ""
        attempts = int(record.attributes.approximate_receive_count or 1)
        if attempts >= bootstrap.settings().event_max_attempts:
            _dead_letter(record, f"failed {attempts} times: {reason}")
            self.dead.add(record.message_id)
        else:
            self.failed.add(record.message_id)
            self.blocked_groups.add(group)
        self.decoded.pop(record.message_id, None)

    def held_back(self, record: SQSRecord) -> bool:
        """Whether the message failed already (another envelope of its bundle, say: it
        is retried whole) or waits behind a failure of its group."""
        if record.message_id in self.failed or record.message_id in self.dead:
            return True
        if (record.attributes.message_group_id or "") in self.blocked_groups:
            self.failed.add(record.message_id)
            self.decoded.pop(record.message_id, None)
            return True
        return False

    def pending(self) -> list[tuple[SQSRecord, Decoded]]:
        """Decoded envelopes still to do, in order, skipping those behind a failure."""
        todo: list[tuple[SQSRecord, Decoded]] = []
        for record in self.order:
            group = record.attributes.message_group_id or ""
            envelopes = self.decoded.get(record.message_id)
            if envelopes is None:
                continue
            if group in self.blocked_groups:
                self.failed.add(record.message_id)
                self.decoded.pop(record.message_id)
                continue
            todo.extend((record, decoded) for decoded in envelopes)
        return todo


def _dead_letter(
    record: SQSRecord, reason: str, body: str | None = None, part: int | None = None
) -> None:
    """The message, or (`body`, `part`) one envelope of its bundle, to the dead-letter
    queue with the reason."""
    url = bootstrap.settings().events_dead_letter_queue_url
    if not url:
        raise RuntimeError(f"no dead-letter queue configured for: {reason}")
    source = record.message_id if part is None else f"{record.message_id}:{part}"
    bootstrap.dead_letters().put(
        record.body if body is None else body, reason, source,
        record.attributes.message_group_id,
    )
    logger.error("record dead-lettered", extra={"message_id": source, "reason": reason})


def _decode_message(record: SQSRecord) -> list[Decoded]:
    """A message's envelopes; one that can never be stored goes to the dead-letter queue
    alone, the others of its bundle are stored."""
    try:
        body = json.loads(record.body)
    except ValueError as not_json:
        _dead_letter(record, f"malformed envelope: not JSON: {not_json}")
        return []
    bundle = body.get(BUNDLE_KEY) if isinstance(body, dict) else None
    if not isinstance(bundle, list):
        try:
            return [decode(body)]
        except PoisonRecord as poison:
            # No retry can make it storable: to the dead-letter queue now, with why.
            _dead_letter(record, str(poison))
            return []
    decoded = []
    for part, envelope in enumerate(bundle):
        try:
            decoded.append(decode(envelope))
        except PoisonRecord as poison:
            _dead_letter(record, str(poison), encode(envelope), part)
    return decoded


def on_batch(event: dict[str, Any]) -> dict[str, Any]:
    batch = _Batch(event.get("Records") or [])

    def decode_one(record: SQSRecord) -> None:
        batch.decoded[record.message_id] = _decode_message(record)

    processor = SqsFifoPartialProcessor(skip_group_on_error=True)
    with processor(records=event.get("Records") or [], handler=decode_one):
        processor.process()
    skipped = {f["itemIdentifier"] for f in processor.response()["batchItemFailures"]}
    for record in batch.order:
        if record.message_id in skipped:
            batch.failed.add(record.message_id)
            batch.blocked_groups.add(record.attributes.message_group_id or "")
            batch.decoded.pop(record.message_id, None)

    applier = bootstrap.record_applier()
    by_tenant: dict[str, list[tuple[SQSRecord, Decoded]]] = defaultdict(list)
    for record, decoded in batch.pending():
        by_tenant[decoded.tenant_id].append((record, decoded))
    tenants = {}
    for tenant_id, items in by_tenant.items():
        try:
            tenants[tenant_id] = tenant = applier.tenant(tenant_id)
            applier.store(tenant, [decoded for _, decoded in items])
        except Exception as exc:
            logger.exception("storing records failed", extra={"tenant_id": tenant_id})
            for record, _ in items:
                batch.fail(record, f"storage: {type(exc).__name__}: {exc}")

    publisher = bootstrap.event_publisher()
    for record, decoded in batch.pending():
        if batch.held_back(record):
            continue
        try:
            for topic, published in applier.events(tenants[decoded.tenant_id], decoded):
                publisher.publish(topic, published)
        except Exception as exc:
            logger.exception("publishing events failed", extra={"message_id": record.message_id})
            batch.fail(record, f"publish: {type(exc).__name__}: {exc}")

    _deliver_queued_commands([decoded for record, decoded in batch.pending()])
    failures = [
        {"itemIdentifier": r.message_id} for r in batch.order if r.message_id in batch.failed
    ]
    logger.info("batch done", extra={"records": len(batch.order), "failed": len(failures)})
    return {"batchItemFailures": failures}


def _deliver_queued_commands(done: list[Decoded]) -> None:
    """A charger that connected gets the commands queued for it now, without waiting
    for it to send a Call (a BootNotification's reply goes first: see MessageService).
    Runs here, not in $connect: API Gateway cannot post to a connection before the
    $connect integration has returned."""
    connected: dict[tuple[str, str], datetime] = {}
    for decoded in done:
        for change in decoded.changes:
            if not isinstance(change, ConnectionChanged):
                continue
            if change.status is ConnectionStatus.CONNECTED:
                connected[(decoded.tenant_id, decoded.charge_point_id)] = change.at
    if not connected:
        return
    commands = bootstrap.command_service()
    for (tenant_id, charge_point_id), at in connected.items():
        try:
            commands.deliver_after_connect(tenant_id, charge_point_id, at)
        except Exception:
            # Stored and published already; the sweep or the charger's next Call sends them.
            logger.exception(
                "could not send queued commands",
                extra={"tenant_id": tenant_id, "charge_point_id": charge_point_id},
            )
    # What sending them recorded (command outcomes) goes to the queue like any record.
    bootstrap.records().flush()
