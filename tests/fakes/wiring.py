"""A composition root whose every part is in memory, for tests of handlers and services."""

from __future__ import annotations

from typing import Any

from csms.bootstrap import Wiring
from csms.config import Settings

from tests.fakes.memory import (
    MemoryCommandQueue,
    MemoryConnectionRegistry,
    MemoryDeadLetters,
    MemoryDirectory,
    MemoryGateway,
    MemoryPendingCalls,
    MemoryPublisher,
    MemoryReplayCache,
    MemoryTenantStore,
    MemoryVerifiedCredentials,
)


def memory_wiring(settings: Settings | None = None, **parts: Any) -> Wiring:
    """A Wiring that never touches the network: memory fakes for every port, records
    stored (and published) inline. `parts` replace any of them, by Wiring's keyword.

    The fakes are reachable through the Wiring (`wiring.tenant_store`, ...); the
    @connections gateway is `wiring.connection_gateway(None)`, one MemoryGateway."""
    pending = parts.pop("pending_calls", None) or MemoryPendingCalls()
    gateway = MemoryGateway()
    fakes: dict[str, Any] = {
        "directory": MemoryDirectory(),
        "tenant_store": MemoryTenantStore(),
        "connection_registry": MemoryConnectionRegistry(),
        "pending_calls": pending,
        # Shares the pending calls, as the Redis queue shares their keys.
        "command_queue": MemoryCommandQueue(pending),
        "replay_cache": MemoryReplayCache(),
        "verified_credentials": MemoryVerifiedCredentials(),
        "gateway": lambda endpoint: gateway,
        "event_publisher": MemoryPublisher(),
        "dead_letters": MemoryDeadLetters(),
    }
    return Wiring(settings or Settings(), **{**fakes, **parts})
