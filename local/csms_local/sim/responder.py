"""How a simulated charger answers the CSMS's OCPP 1.6 commands: what a real one says, and
what it does next (RemoteStart leads to a StartTransaction, Reset to a reboot, ...).

`answer` returns the CallResult payload (or a CallError code) and, when the command has
consequences, a follow-up the charger runs after its answer is on the wire."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from csms_local.sim.client import Charger

FollowUp = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Answer:
    payload: dict[str, Any] | None = None
    error: str | None = None  # a CallError code instead of a payload
    follow_up: FollowUp | None = None


ACCEPTED = Answer({"status": "Accepted"})

# Commands whose every form a charger accepts without further work.
_ACCEPTING = frozenset(
    {
        "ChangeAvailability",
        "ClearCache",
        "DataTransfer",
        "ReserveNow",
        "CancelReservation",
        "SendLocalList",
        "SetChargingProfile",
        "ClearChargingProfile",
        "CertificateSigned",
        "InstallCertificate",
        "DeleteCertificate",
        "SignedUpdateFirmware",
    }
)


def answer(charger: Charger, action: str, payload: dict[str, Any]) -> Answer:
    if action in _ACCEPTING:
        return ACCEPTED
    handler = _HANDLERS.get(action)
    if handler is None:
        return Answer(error="NotImplemented")
    return handler(charger, payload)


def _remote_start(charger: Charger, payload: dict[str, Any]) -> Answer:
    connector = int(payload.get("connectorId") or 1)
    id_tag = str(payload.get("idTag", charger.id_tag))
    if connector in charger.transactions or connector in charger.starting:
        return Answer({"status": "Rejected"})
    charger.starting.add(connector)

    async def start() -> None:
        try:
            await charger.start_transaction(connector, id_tag)
        finally:
            charger.starting.discard(connector)

    return Answer({"status": "Accepted"}, follow_up=start)


def _remote_stop(charger: Charger, payload: dict[str, Any]) -> Answer:
    transaction_id = payload.get("transactionId")
    for connector, open_id in charger.transactions.items():
        if open_id == transaction_id:

            async def stop(connector: int = connector) -> None:
                await charger.stop_transaction(connector, "Remote")

            return Answer({"status": "Accepted"}, follow_up=stop)
    return Answer({"status": "Rejected"})


def _reset(charger: Charger, payload: dict[str, Any]) -> Answer:
    reason = "HardReset" if payload.get("type") == "Hard" else "SoftReset"

    async def reboot() -> None:
        await charger.reboot(reason)

    return Answer({"status": "Accepted"}, follow_up=reboot)


def _unlock(charger: Charger, payload: dict[str, Any]) -> Answer:
    return Answer({"status": "Unlocked"})


def _get_configuration(charger: Charger, payload: dict[str, Any]) -> Answer:
    wanted = payload.get("key") or list(charger.configuration)
    known = [
        {"key": key, "readonly": False, "value": charger.configuration[key]}
        for key in wanted
        if key in charger.configuration
    ]
    unknown = [key for key in wanted if key not in charger.configuration]
    result: dict[str, Any] = {"configurationKey": known}
    if unknown:
        result["unknownKey"] = unknown
    return Answer(result)


def _change_configuration(charger: Charger, payload: dict[str, Any]) -> Answer:
    key, value = str(payload.get("key", "")), str(payload.get("value", ""))
    if key not in charger.configuration:
        return Answer({"status": "NotSupported"})
    charger.configuration[key] = value
    return ACCEPTED


_TRIGGERABLE = frozenset({"BootNotification", "Heartbeat", "StatusNotification", "MeterValues"})


def _trigger(charger: Charger, payload: dict[str, Any]) -> Answer:
    requested = str(payload.get("requestedMessage", ""))
    if requested not in _TRIGGERABLE:
        return Answer({"status": "NotImplemented"})
    connector = int(payload.get("connectorId") or 0)

    async def send() -> None:
        await charger.send_triggered(requested, connector)

    return Answer({"status": "Accepted"}, follow_up=send)


def _diagnostics(charger: Charger, payload: dict[str, Any]) -> Answer:
    return Answer({"fileName": f"{charger.charge_point_id}-diagnostics.log"})


def _empty(charger: Charger, payload: dict[str, Any]) -> Answer:
    return Answer({})


def _local_list_version(charger: Charger, payload: dict[str, Any]) -> Answer:
    return Answer({"listVersion": 0})


def _composite_schedule(charger: Charger, payload: dict[str, Any]) -> Answer:
    return Answer({"status": "Rejected"})  # a charger with no schedule to report


def _installed_certificates(charger: Charger, payload: dict[str, Any]) -> Answer:
    return Answer({"status": "NotFound"})


def _get_log(charger: Charger, payload: dict[str, Any]) -> Answer:
    return Answer({"status": "Accepted", "filename": f"{charger.charge_point_id}.log"})


_HANDLERS: dict[str, Callable[[Charger, dict[str, Any]], Answer]] = {
    "RemoteStartTransaction": _remote_start,
    "RemoteStopTransaction": _remote_stop,
    "Reset": _reset,
    "UnlockConnector": _unlock,
    "GetConfiguration": _get_configuration,
    "ChangeConfiguration": _change_configuration,
    "TriggerMessage": _trigger,
    "ExtendedTriggerMessage": _trigger,
    "GetDiagnostics": _diagnostics,
    "UpdateFirmware": _empty,
    "GetLocalListVersion": _local_list_version,
    "GetCompositeSchedule": _composite_schedule,
    "GetInstalledCertificateIds": _installed_certificates,
    "GetLog": _get_log,
}
