"""Services wired to in-memory adapters: fast, no network, same ports as production."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from csms.domain.model import ConnectionInfo
from csms.protocol.router import Router
from csms.protocol.schemas import SchemaSet, ocpp_schema_dir
from csms.services.charging import ChargingService
from csms.services.commands import CommandService
from csms.services.connect import ConnectService
from csms.services.messages import MessageService
from csms.services.record_applier import RecordApplier, StoreNow
from csms.services.records import BufferedRecords
from csms.versions import v16
from csms.versions.v16.central_system import CentralSystem16

from tests.fakes.memory import (
    MemoryCommandQueue,
    MemoryConnectionRegistry,
    MemoryDirectory,
    MemoryGateway,
    MemoryPendingCalls,
    MemoryReplayCache,
    MemoryTenantStore,
)

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
TENANT = "tenant-a"
CP = "CP-1"
CONNECTION = "conn-1"


class Clock:
    """A clock tests move by hand."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class World:
    registry: MemoryConnectionRegistry
    replay: MemoryReplayCache
    pending: MemoryPendingCalls
    store: MemoryTenantStore
    directory: MemoryDirectory
    gateway: MemoryGateway
    messages: MessageService
    connect: ConnectService
    queue: MemoryCommandQueue
    commands: CommandService
    clock: Clock
    records: BufferedRecords

    @property
    def tenant(self):
        return self.store.for_tenant(TENANT)

    def send(self, frame, connection_id: str = CONNECTION):
        """Send a frame (a list or a raw string) and decode the reply."""
        raw = frame if isinstance(frame, str) else json.dumps(frame)
        reply = self.messages.handle(connection_id, raw)
        return None if reply is None else json.loads(reply)

    def call(self, action: str, payload: dict, unique_id: str = "m1"):
        return self.send([2, unique_id, action, payload])


@pytest.fixture
def world() -> World:
    clock = Clock()
    registry = MemoryConnectionRegistry()
    store = MemoryTenantStore()
    schemas = SchemaSet(ocpp_schema_dir("v16"))
    directory = MemoryDirectory()
    # No queue here: records are stored as soon as an invocation hands them on.
    records = BufferedRecords(StoreNow(RecordApplier(store, directory)))
    central_system = CentralSystem16(ChargingService(store, records), 300, clock)
    routers = {v16.SUBPROTOCOL: Router(v16.VERSION, schemas, central_system.handlers())}
    replay, pending, gateway = MemoryReplayCache(), MemoryPendingCalls(), MemoryGateway()
    queue = MemoryCommandQueue(pending)
    ids = (f"cmd-{n}" for n in range(1, 1000))
    commands = CommandService(
        registry=registry,
        queue=queue,
        pending=pending,
        store=store,
        gateway=lambda: gateway,
        vocabularies={v16.SUBPROTOCOL: v16.plugin().commands},
        directory=directory,
        clock=clock,
        answer_timeout=timedelta(seconds=30),
        queue_timeout=timedelta(seconds=600),
        records=records,
        new_id=lambda: next(ids),
        sleep=clock.advance,  # waiting moves the hand-driven clock, never the test
    )
    messages = MessageService(
        registry, replay, pending, routers, v16.VERSION, clock, commands, records
    )
    connect = ConnectService(
        directory, registry, store, lambda endpoint: gateway, ("ocpp1.6",), clock, records,
        commands,
    )
    registry.register(ConnectionInfo(CONNECTION, CP, TENANT, "ocpp1.6", NOW))
    return World(
        registry, replay, pending, store, directory, gateway, messages, connect, queue, commands,
        clock, records,
    )
