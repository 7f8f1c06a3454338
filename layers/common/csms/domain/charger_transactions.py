"""Transactions whose ids the charger assigns (OCPP 2.0.1 TransactionEvent, part 2 E).

A transaction is built from its events, which may arrive late, twice or out of order:
each (transactionId, seqNo) counts once, and every field takes the value the events'
own timestamps call latest (or first, for the start)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from csms.domain.model import MeterValue, TransactionStatus, energy_register_wh

STARTED = "Started"
UPDATED = "Updated"
ENDED = "Ended"
DEFAULT_STOPPED_REASON = "Local"  # 2.0.1: an Ended event without stoppedReason


@dataclass(frozen=True, slots=True)
class TransactionEventData:
    """One TransactionEventRequest, in domain terms."""

    charge_point_id: str
    transaction_id: str
    event_type: str  # Started, Updated, Ended
    seq_no: int
    timestamp: datetime
    trigger_reason: str
    offline: bool = False
    evse_id: int | None = None
    connector_id: int | None = None
    charging_state: str | None = None
    stopped_reason: str | None = None
    id_token: str | None = None
    id_token_type: str | None = None
    remote_start_id: int | None = None
    meter_values: Sequence[MeterValue] = ()
    # The subprotocol of the charger that sent it (2.1 shares 2.0.1's transactions).
    ocpp_version: str = "ocpp2.0.1"


@dataclass(frozen=True, slots=True)
class Reading:
    at: datetime
    wh: int


@dataclass(frozen=True, slots=True)
class ChargerTransaction:
    charge_point_id: str
    transaction_id: str
    started_at: datetime
    last_event_at: datetime
    status: TransactionStatus = TransactionStatus.ACTIVE
    evse_id: int | None = None
    connector_id: int | None = None
    id_token: str | None = None
    id_token_type: str | None = None
    id_token_status: str | None = None
    stop_id_token: str | None = None
    charging_state: str | None = None
    stopped_reason: str | None = None
    ended_at: datetime | None = None
    first_reading: Reading | None = None
    last_reading: Reading | None = None
    remote_start_id: int | None = None
    offline: bool = False
    seq_nos: tuple[int, ...] = field(default_factory=tuple)
    # Set when the CSMS closed it (Superseded): the charger never sent its Ended.
    closed_at: datetime | None = None
    ocpp_version: str = "ocpp2.0.1"

    @property
    def active(self) -> bool:
        return self.status is TransactionStatus.ACTIVE

    @property
    def meter_start(self) -> int | None:
        return None if self.first_reading is None else self.first_reading.wh

    @property
    def meter_stop(self) -> int | None:
        if self.active or self.last_reading is None:
            return None
        return self.last_reading.wh

    @property
    def energy_wh(self) -> int | None:
        start, stop = self.meter_start, self.meter_stop
        if start is None or stop is None:
            return None
        return max(0, stop - start)

    def closed(self, reason: str, at: datetime) -> ChargerTransaction:
        return replace(
            self, status=TransactionStatus.COMPLETED, stopped_reason=reason,
            ended_at=max(at, self.started_at), closed_at=at,
        )


def register_reading(values: Sequence[MeterValue]) -> Reading | None:
    """The newest Energy.Active.Import.Register reading of these meter values."""
    readings = [
        (v.timestamp, wh) for v in values
        if (wh := energy_register_wh([v])) is not None
    ]
    if not readings:
        return None
    at, wh = max(readings, key=lambda r: r[0])
    return Reading(at, wh)


def _earliest_reading(values: Sequence[MeterValue]) -> Reading | None:
    readings = [
        (v.timestamp, wh) for v in values
        if (wh := energy_register_wh([v])) is not None
    ]
    if not readings:
        return None
    at, wh = min(readings, key=lambda r: r[0])
    return Reading(at, wh)


def applied(
    current: ChargerTransaction | None, event: TransactionEventData, id_token_status: str | None
) -> ChargerTransaction:
    """`current` (None: not seen yet) with `event` applied. The caller makes sure each
    (transactionId, seqNo) is applied once."""
    tx = current or ChargerTransaction(
        charge_point_id=event.charge_point_id,
        transaction_id=event.transaction_id,
        started_at=event.timestamp,
        last_event_at=event.timestamp,
        ocpp_version=event.ocpp_version,
    )
    changes: dict[str, Any] = {"seq_nos": tuple(sorted({*tx.seq_nos, event.seq_no}))}
    newest = event.timestamp >= tx.last_event_at
    if event.event_type == STARTED or event.timestamp < tx.started_at:
        changes["started_at"] = min(event.timestamp, tx.started_at)
    if newest:
        changes["last_event_at"] = event.timestamp
    if event.evse_id is not None and (tx.evse_id is None or newest):
        changes["evse_id"] = event.evse_id
        changes["connector_id"] = event.connector_id or tx.connector_id
    if event.charging_state is not None and newest:
        changes["charging_state"] = event.charging_state
    if event.remote_start_id is not None:
        changes["remote_start_id"] = event.remote_start_id
    if event.offline:
        changes["offline"] = True
    if event.id_token is not None:
        if tx.id_token is None:
            changes.update(id_token=event.id_token, id_token_type=event.id_token_type,
                           id_token_status=id_token_status)
        elif event.id_token != tx.id_token:
            changes["stop_id_token"] = event.id_token
    if event.event_type == ENDED:
        changes.update(
            status=TransactionStatus.COMPLETED,
            stopped_reason=event.stopped_reason or DEFAULT_STOPPED_REASON,
            ended_at=event.timestamp,
        )
    first = _earliest_reading(event.meter_values)
    if first is not None and (tx.first_reading is None or first.at < tx.first_reading.at):
        changes["first_reading"] = first
    last = register_reading(event.meter_values)
    if last is not None and (tx.last_reading is None or last.at >= tx.last_reading.at):
        changes["last_reading"] = last
    return replace(tx, **changes)
