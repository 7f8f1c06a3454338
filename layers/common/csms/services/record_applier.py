"""The event worker's logic: decode envelopes of runtime records, store them in bulk per
tenant, and turn them into the events operators subscribe to."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from csms.domain import events
from csms.domain.model import (
    DEFAULT_MQTT_TOPIC_PREFIX,
    Booted,
    BootInfo,
    ConnectionChanged,
    ConnectionStatus,
    ConnectorStatus,
    ConnectorStatusChanged,
    Heartbeat,
    MeterValue,
    Notified,
    SessionChange,
    StateChange,
    Tenant,
)
from csms.ports import Directory, EventPublisher, TenantStore
from csms.protocol.timestamps import format_timestamp, parse_timestamp
from csms.services.records import encode
from csms.services.site_limit import Need, Trigger

logger = logging.getLogger(__name__)


class PoisonRecord(Exception):
    """An envelope that can never be stored: retrying it cannot help."""


@dataclass
class Decoded:
    """One envelope, checked and turned into what storage and publishing need."""

    envelope_id: str
    tenant_id: str
    charge_point_id: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    meter_values: list[MeterValue] = field(default_factory=list)
    changes: list[StateChange] = field(default_factory=list)
    sessions: list[SessionChange] = field(default_factory=list)
    # (event id, type, timestamp, data), in the order the records happened
    events: list[tuple[str, str, str, dict[str, Any]]] = field(default_factory=list)


def decode(envelope: Any) -> Decoded:
    try:
        decoded = Decoded(
            str(envelope["id"]), str(envelope["tenant_id"]), str(envelope["charge_point_id"])
        )
        for index, record in enumerate(envelope["records"]):
            _decode_record(decoded, f"{decoded.envelope_id}:{index}", record)
    except PoisonRecord:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise PoisonRecord(f"malformed envelope: {type(exc).__name__}: {exc}") from None
    except Exception as exc:  # OcppError from a bad timestamp, and the like
        raise PoisonRecord(f"malformed envelope: {exc}") from None
    return decoded


def _decode_record(decoded: Decoded, record_id: str, record: dict[str, Any]) -> None:
    kind = record["type"]
    at = parse_timestamp(record["at"], "at")
    data = record.get("data") or {}
    cp = decoded.charge_point_id
    when = format_timestamp(at)
    if kind == "message":
        entry = dict(data, _id=record_id, timestamp=parse_timestamp(data["timestamp"]))
        decoded.messages.append(entry)
    elif kind == "heartbeat":
        # Stored to the second: a charger that heartbeats several times a second then
        # moves its stored state once a second (the store skips a Heartbeat that would
        # not raise it), and nobody reads a liveness time closer than that.
        decoded.changes.append(Heartbeat(cp, at.replace(microsecond=0)))
    elif kind == "boot":
        boot = BootInfo(data["charge_point_vendor"], data["charge_point_model"], data["details"])
        decoded.changes.append(Booted(cp, boot, at))
        decoded.events.append((record_id, "boot", when, data))
    elif kind == "connector_status":
        status = ConnectorStatus(**dict(data, timestamp=parse_timestamp(data["timestamp"])))
        decoded.changes.append(ConnectorStatusChanged(cp, status))
        decoded.events.append((record_id, "connector_status", when, data))
    elif kind == "connection":
        connection = ConnectionStatus(data["status"])
        decoded.changes.append(ConnectionChanged(cp, connection, at))
        event_type = "connected" if connection is ConnectionStatus.CONNECTED else "disconnected"
        decoded.events.append((record_id, event_type, when, {}))
    elif kind == "session":
        fields = dict(data["fields"])
        for moment in ("connected_at", "disconnected_at"):
            if fields.get(moment) is not None:
                fields[moment] = parse_timestamp(fields[moment], moment)
        decoded.sessions.append(SessionChange(str(data["connection_id"]), fields))
    elif kind == "notification":
        decoded.changes.append(Notified(cp, data["kind"], data["data"], at, record_id))
    elif kind == "meter_value":
        value = MeterValue(**dict(data, timestamp=at))
        decoded.meter_values.append(value)
        if value.transaction_id is not None:
            decoded.events.append((record_id, "meter_values", when, data))
    elif kind == "event":
        event_type = data["kind"]
        if event_type not in events.STREAM_OF:
            raise PoisonRecord(f"unknown event type {event_type!r}")
        body = {k: v for k, v in data.items() if k != "kind"}
        decoded.events.append((record_id, event_type, when, body))
    else:
        raise PoisonRecord(f"unknown record type {kind!r}")


# A tenant's settings (retention, topic prefix) reach the worker within this long.
TENANT_CACHE_SECONDS = 30.0

# What the site limit controller reacts to, once stored: sessions that started or stopped
# (either version), and an EV's charging needs in neutral terms (the 2.0.1 plug-in's
# `charging_need` notification).
SESSION_EVENTS = frozenset({"transaction_started", "transaction_stopped"})
CHARGING_NEED = "charging_need"

# Called with a tenant's triggers after its records are stored.
SiteLimits = Callable[[str, Sequence[Trigger]], object]


def triggers(batch: Sequence[Decoded]) -> list[Trigger]:
    """What in these envelopes may change a site's shares, in order."""
    found: list[Trigger] = []
    for decoded in batch:
        cp = decoded.charge_point_id
        if any(kind in SESSION_EVENTS for _, kind, _, _ in decoded.events):
            found.append(Trigger(cp))
        for change in decoded.changes:
            if isinstance(change, Notified) and change.kind == CHARGING_NEED:
                data = change.data
                need = Need(cp, int(data["evse_id"]), change.at, data.get("max_current_a"),
                            data.get("max_power_w"))
                found.append(Trigger(cp, need))
    return found


class RecordApplier:
    def __init__(
        self,
        store: TenantStore,
        directory: Directory,
        monotonic: Callable[[], float] = time.monotonic,
        site_limits: SiteLimits | None = None,
        cost_updates: Callable[[str, Sequence[MeterValue]], object] | None = None,
        on_stored: Callable[[str, Sequence[Decoded]], object] | None = None,
    ) -> None:
        self._store = store
        self._directory = directory
        self._monotonic = monotonic
        self._tenants: dict[str, tuple[float, Tenant]] = {}
        # None: no site limits (bootstrap passes the controller's entry point).
        self._site_limits = site_limits
        # None: no CostUpdated pushes (bootstrap passes the tariff service's entry point).
        self._cost_updates = cost_updates
        # Called with each tenant's stored batch (CertificateSigned for signing requests).
        self._on_stored = on_stored

    def tenant(self, tenant_id: str) -> Tenant:
        """The tenant's settings, read at most every TENANT_CACHE_SECONDS: every batch
        needs them, and they rarely change."""
        now = self._monotonic()
        cached = self._tenants.get(tenant_id)
        if cached is not None and now - cached[0] < TENANT_CACHE_SECONDS:
            return cached[1]
        # A tenant removed meanwhile still gets its records stored, with the defaults.
        tenant = self._directory.get_tenant(tenant_id) or Tenant(tenant_id, tenant_id)
        self._tenants[tenant_id] = (now, tenant)
        return tenant

    def store(self, tenant: Tenant, batch: Sequence[Decoded], react: bool = True) -> None:
        """Everything of one tenant's envelopes, in one bulk write per collection; then,
        unless `react` is False, the site limit controller for the sessions that started
        or stopped (stored first: it reads them back)."""
        data = self._store.for_tenant(tenant.tenant_id)
        keep_messages = timedelta(days=tenant.message_retention_days)
        messages = [
            dict(entry, expire_at=entry["timestamp"] + keep_messages)
            for decoded in batch
            for entry in decoded.messages
        ]
        data.messages.record(messages)
        values = [value for decoded in batch for value in decoded.meter_values]
        data.meter_values.add(values, timedelta(days=tenant.meter_value_retention_days))
        data.charge_points.sync([change for decoded in batch for change in decoded.changes])
        data.sessions.sync([change for decoded in batch for change in decoded.sessions])
        if react:
            self.react(tenant.tenant_id, batch)

    def react(self, tenant_id: str, batch: Sequence[Decoded]) -> None:
        """Hand the batch's triggers to the site limit controller. Its failures are
        logged, never raised: the records are stored, and retrying the batch would store
        them again for nothing; the next session change divides the site again."""
        values = [v for d in batch for v in d.meter_values if v.transaction_id is not None]
        if values and self._cost_updates is not None:
            try:
                self._cost_updates(tenant_id, values)
            except Exception:
                logger.exception("cost updates failed", extra={"tenant_id": tenant_id})
        if self._on_stored is not None:
            try:
                self._on_stored(tenant_id, batch)
            except Exception:
                logger.exception("reacting to stored records failed",
                                 extra={"tenant_id": tenant_id})
        found = triggers(batch)
        if not found:
            return
        try:
            if self._site_limits is not None:
                self._site_limits(tenant_id, found)
        except Exception:
            logger.exception("site limit controller failed", extra={"tenant_id": tenant_id})

    def events(self, tenant: Tenant, decoded: Decoded) -> list[tuple[str, dict[str, Any]]]:
        """(topic, event) pairs of one envelope, in order."""
        prefix = tenant.mqtt_topic_prefix or DEFAULT_MQTT_TOPIC_PREFIX
        tenant_id, cp = tenant.tenant_id, decoded.charge_point_id
        return [
            (
                events.topic(prefix, events.STREAM_OF[kind], tenant_id, cp),
                events.event(event_id, kind, tenant_id, cp, at, data),
            )
            for event_id, kind, at, data in decoded.events
        ]


class StoreNow:
    """A RecordQueue that stores (and publishes) at once, in the sending invocation: for
    deployments and tests without an events queue."""

    def __init__(self, applier: RecordApplier, publisher: EventPublisher | None = None) -> None:
        self._applier = applier
        self._publisher = publisher

    def send(self, envelopes: Sequence[dict[str, Any]]) -> None:
        # Through the wire format, so what is stored here is exactly what the worker
        # would store from the queue.
        batch = [decode(json.loads(encode(envelope))) for envelope in envelopes]
        by_tenant: dict[str, list[Decoded]] = {}
        for decoded in batch:
            by_tenant.setdefault(decoded.tenant_id, []).append(decoded)
        for tenant_id, decoded_envelopes in by_tenant.items():
            tenant = self._applier.tenant(tenant_id)
            # Not the site limit controller: here the records are stored in the charger's
            # own invocation, and the controller's waiting would delay its reply. Site
            # limits need the events queue and its worker.
            self._applier.store(tenant, decoded_envelopes, react=False)
            if self._publisher is not None:
                for decoded in decoded_envelopes:
                    for topic, event in self._applier.events(tenant, decoded):
                        self._publisher.publish(topic, event)
