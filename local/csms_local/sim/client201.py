"""One simulated OCPP 2.0.1 charging station (also under the ocpp2.1 subprotocol: 2.1 kept
every message used here): the connection machinery of `client.Charger` with 2.0.1's
messages. Transactions are the station's own (E01-E07): it makes the transactionId, numbers
each TransactionEvent of a transaction with seqNo from 0, and reports meter readings inside
TransactionEvent Updated while a transaction runs and through MeterValues outside one.
Answers to the CSMS's Calls come from `responder201`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from csms_local.sim import responder, responder201
from csms_local.sim.client import Charger, now_iso
from csms_local.sim.config import SimConfig
from csms_local.sim.stats import Stats

# The idToken type of the sessions the fleet profile starts itself (a card at the reader).
LOCAL_TOKEN_TYPE = "ISO14443"
ENERGY = "Energy.Active.Import.Register"

# Why a transaction ends (the names the profiles and responders use, which are 2.0.1's
# stoppedReason values) -> the triggerReason of its TransactionEvent Ended.
_ENDED_BY = {
    "Local": "StopAuthorized",
    "Remote": "RemoteStop",
    "DeAuthorized": "Deauthorized",
    "ImmediateReset": "ResetCommand",
    "Reboot": "ResetCommand",
}


@dataclass
class Transaction:
    """A transaction of one EVSE, as the station keeps it."""

    transaction_id: str
    id_token: dict[str, Any]
    next_seq_no: int = 0
    remote_start_id: int | None = None

    def seq_no(self) -> int:
        number = self.next_seq_no
        self.next_seq_no += 1
        return number


class Charger201(Charger):
    """A station with one EVSE (id 1) of one connector (id 1); `transactions` maps the EVSE
    to its transaction's id, `ongoing` to the transaction itself."""

    def __init__(self, charge_point_id: str, config: SimConfig, stats: Stats) -> None:
        super().__init__(charge_point_id, config, stats)
        self.ongoing: dict[int, Transaction] = {}
        self.boot_reason = "PowerUp"
        self.device_model = responder201.DeviceModel.of(config)
        self.tariffs: dict[str, int] = {}  # 2.1 default tariffs: tariffId -> EVSE (0: all)

    def respond(self, action: str, payload: dict[str, Any]) -> responder.Answer:
        return responder201.answer(self, action, payload)

    # --- what stations send ---

    async def boot(self) -> dict[str, Any]:
        reply = await self.call(
            "BootNotification",
            {
                "chargingStation": {
                    "vendorName": "csms-sim",
                    "model": "SIM-1",
                    "serialNumber": self.charge_point_id[-25:],
                    "firmwareVersion": "1.0.0",
                },
                "reason": self.boot_reason,
            },
        )
        if reply.get("status") == "Accepted" and not self.booted:
            self.booted = True
            self.stats.booted += 1
            self.boot_reason = "PowerUp"  # what the next power cycle would say
        elif reply.get("status") != "Accepted":
            self.stats.error(f"BootNotification:{reply.get('status')}")
        return reply

    async def status(self, connector: int, status: str) -> None:
        # `connector` is the EVSE; each EVSE of the simulated station has connector 1.
        await self.call(
            "StatusNotification",
            {"timestamp": now_iso(), "connectorStatus": status, "evseId": connector,
             "connectorId": 1},
        )

    async def authorize(self, id_tag: str) -> str:
        reply = await self.call("Authorize", {"idToken": self._token(id_tag)})
        return str(reply.get("idTokenInfo", {}).get("status", "Invalid"))

    async def start_transaction(self, connector: int, id_tag: str) -> str | None:
        return await self.start(connector, self._token(id_tag), "Authorized")

    async def start(
        self,
        evse: int,
        id_token: dict[str, Any],
        trigger_reason: str,
        remote_start_id: int | None = None,
    ) -> str | None:
        """TransactionEvent Started; a token the CSMS refuses ends it at once (E05)."""
        transaction = Transaction(str(uuid.uuid4()), id_token, remote_start_id=remote_start_id)
        self.ongoing[evse] = transaction
        self.transactions[evse] = transaction.transaction_id
        info: dict[str, Any] = {"transactionId": transaction.transaction_id,
                                "chargingState": "Charging"}
        if remote_start_id is not None:
            info["remoteStartId"] = remote_start_id
        # Started once sent: unanswered, it stays the station's transaction and ends later.
        self.stats.transactions_started += 1
        reply = await self.call("TransactionEvent", {
            "eventType": "Started",
            "timestamp": now_iso(),
            "triggerReason": trigger_reason,
            "seqNo": transaction.seq_no(),
            "transactionInfo": info,
            "idToken": id_token,
            "evse": {"id": evse, "connectorId": 1},
            "meterValue": self._reading("Transaction.Begin"),
        })
        status = reply.get("idTokenInfo", {}).get("status", "Accepted")
        if status != "Accepted":
            await self.stop_transaction(evse, "DeAuthorized")
            return None
        return transaction.transaction_id

    async def session_meter_values(self, connector: int) -> None:
        """TransactionEvent Updated with the periodic sample (J02)."""
        transaction = self.ongoing.get(connector)
        if transaction is None:
            return
        self.meter_wh += 1_000
        await self.call("TransactionEvent", {
            "eventType": "Updated",
            "timestamp": now_iso(),
            "triggerReason": "MeterValuePeriodic",
            "seqNo": transaction.seq_no(),
            "transactionInfo": {"transactionId": transaction.transaction_id,
                                "chargingState": "Charging"},
            "meterValue": self._reading("Sample.Periodic", power=True),
        })

    async def meter_values(self, connector: int) -> None:
        """MeterValues: the EVSE's clock-aligned reading outside a transaction (J01)."""
        await self.call("MeterValues", {
            "evseId": connector,
            "meterValue": self._reading("Sample.Clock"),
        })

    async def stop_transaction(self, connector: int, reason: str = "Local") -> None:
        transaction = self.ongoing.pop(connector, None)
        self.transactions.pop(connector, None)
        if transaction is None:
            return
        # Counted once sent, like Started: a run's end may cancel the wait for the answer.
        self.stats.transactions_stopped += 1
        await self.call("TransactionEvent", {
            "eventType": "Ended",
            "timestamp": now_iso(),
            "triggerReason": _ENDED_BY.get(reason, "AbnormalCondition"),
            "seqNo": transaction.seq_no(),
            "transactionInfo": {"transactionId": transaction.transaction_id,
                                "chargingState": "Idle", "stoppedReason": reason},
            "meterValue": self._reading("Transaction.End"),
        })

    async def transaction_triggered(self, evse: int) -> None:
        """TransactionEvent Updated asked for by TriggerMessage (F06)."""
        transaction = self.ongoing.get(evse)
        if transaction is None:
            return
        await self.call("TransactionEvent", {
            "eventType": "Updated",
            "timestamp": now_iso(),
            "triggerReason": "Trigger",
            "seqNo": transaction.seq_no(),
            "transactionInfo": {"transactionId": transaction.transaction_id,
                                "chargingState": "Charging"},
            "meterValue": self._reading("Trigger"),
        })

    async def send_triggered(self, requested: str, connector: int) -> None:
        evse = connector or 1
        if requested == "BootNotification":
            self.boot_reason = "Triggered"
            await self.boot()
        elif requested == "Heartbeat":
            await self.heartbeat()
        elif requested == "StatusNotification":
            await self.connector_status(evse, evse in self.ongoing)
        elif requested == "MeterValues":
            await self.meter_values(evse)
        elif requested == "TransactionEvent":
            await self.transaction_triggered(evse)
        elif requested in ("LogStatusNotification", "FirmwareStatusNotification"):
            # Nothing uploading or installing: both report Idle.
            await self.call(requested, {"status": "Idle"})

    # --- what the profiles ask for ---

    async def initial_status(self) -> None:
        # 2.0.1 reports connectors only (no charge-point-wide status like 1.6's connector 0).
        await self.connector_status(1, 1 in self.ongoing)

    async def connector_status(self, connector: int, in_use: bool) -> None:
        await self.status(connector, "Occupied" if in_use else "Available")

    async def between_sessions(self, connector: int) -> None:
        await self.meter_values(connector)

    async def reboot(self, reason: str) -> None:
        self.boot_reason = "RemoteReset"
        await super().reboot(reason)

    # --- payloads ---

    def _token(self, id_tag: str) -> dict[str, Any]:
        return {"idToken": id_tag, "type": LOCAL_TOKEN_TYPE}

    def _reading(self, context: str, power: bool = False) -> list[dict[str, Any]]:
        sampled: list[dict[str, Any]] = [{
            "value": self.meter_wh,
            "measurand": ENERGY,
            "context": context,
            "unitOfMeasure": {"unit": "Wh"},
        }]
        if power:
            sampled.append({"value": 11_000, "measurand": "Power.Active.Import",
                            "context": context, "unitOfMeasure": {"unit": "W"}})
        return [{"timestamp": now_iso(), "sampledValue": sampled}]


def new_charger(charge_point_id: str, config: SimConfig, stats: Stats) -> Charger:
    """A charger of the configured OCPP version."""
    if config.ocpp == "1.6":
        return Charger(charge_point_id, config, stats)
    return Charger201(charge_point_id, config, stats)
