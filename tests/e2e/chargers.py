"""A charge point for end-to-end tests: the `ocpp` package's 1.6 ChargePoint answering
the commands the tests send, and remembering what it was asked."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from ocpp.routing import after, on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action


class Charger(ChargePoint):
    """Answers the commands these tests send, and remembers what it was asked."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.received: list[str] = []
        self.started: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.configuration = {"HeartbeatInterval": "300", "MeterValueSampleInterval": "60"}
        # When set, Reset and ClearCache are held unanswered until `release` is set.
        self.entered = asyncio.Event()
        self.release: asyncio.Event | None = None

    async def _held(self) -> None:
        self.entered.set()
        if self.release is not None:
            await self.release.wait()

    @on(Action.remote_start_transaction)
    def on_remote_start(self, id_tag: str, **_):
        self.received.append("RemoteStartTransaction")
        return call_result.RemoteStartTransaction(status="Accepted")

    @after(Action.remote_start_transaction)
    async def start_after_remote_start(self, id_tag: str, connector_id: int = 1, **_):
        started = await self.call(
            call.StartTransaction(
                connector_id=connector_id,
                id_tag=id_tag,
                meter_start=0,
                timestamp=datetime.now(UTC).isoformat(),
            )
        )
        self.started.set_result(started.transaction_id)

    @on(Action.reset)
    async def on_reset(self, type: str):
        self.received.append("Reset")
        await self._held()
        return call_result.Reset(status="Accepted")

    @on(Action.clear_cache)
    async def on_clear_cache(self):
        self.received.append("ClearCache")
        await self._held()
        return call_result.ClearCache(status="Accepted")

    @on(Action.get_configuration)
    def on_get_configuration(self, key: list[str] | None = None):
        self.received.append("GetConfiguration")
        keys = [{"key": k, "readonly": False, "value": v} for k, v in self.configuration.items()]
        return call_result.GetConfiguration(configuration_key=keys)

    @on(Action.change_configuration)
    def on_change_configuration(self, key: str, value: str):
        self.received.append("ChangeConfiguration")
        self.configuration[key] = value
        return call_result.ChangeConfiguration(status="Accepted")

    @on(Action.unlock_connector)
    async def on_unlock_connector(self, connector_id: int):
        self.received.append("UnlockConnector")
        await asyncio.Event().wait()  # a charger that never answers
