"""OCPP versions as plug-ins, registered by subprotocol.

Each version package owns all of its wire knowledge: its vocabulary (which actions each
side sends, its CallError names, its schema files), the handlers of charger-initiated
Calls, the CSMS-initiated actions with what their answers mean and change. Packages sit
above the services: they translate payloads into version-neutral domain terms and call
the services; nothing below them knows a version's wire format.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from csms.ports import Directory, RuntimeRecords, TenantStore
from csms.protocol.router import Handler, OcppVersion, Router
from csms.protocol.schemas import SchemaSet
from csms.services.charging import ChargingService
from csms.services.commands import CommandVocabulary


@dataclass(frozen=True)
class CentralSystemParts:
    """What a version's charger-initiated handlers may use."""

    charging: ChargingService
    directory: Directory
    clock: Callable[[], datetime]
    heartbeat_interval: int
    # What the 2.0.1 handlers read and record beside the charging service.
    store: TenantStore | None = None
    records: RuntimeRecords | None = None


@dataclass(frozen=True)
class VersionPlugin:
    version: OcppVersion
    schemas: SchemaSet
    handlers: Callable[[CentralSystemParts], Mapping[str, Handler]]
    commands: CommandVocabulary

    @property
    def subprotocol(self) -> str:
        return self.version.subprotocol

    def router(self, parts: CentralSystemParts) -> Router:
        return Router(self.version, self.schemas, self.handlers(parts))


def by_subprotocol(plugins: Iterable[VersionPlugin]) -> dict[str, VersionPlugin]:
    """In order of the CSMS's preference (a charger's own order decides at $connect)."""
    return {plugin.subprotocol: plugin for plugin in plugins}
