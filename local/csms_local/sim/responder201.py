"""How a simulated OCPP 2.0.1 (or 2.1) station answers the CSMS's commands: what a real one
says (every answer valid against the 2.0.1 and 2.1 response schemas; 2.1's new commands
only when speaking ocpp2.1), and what it does next
(RequestStartTransaction leads to TransactionEvent Started with the remoteStartId,
RequestStopTransaction to Ended, Reset to a reboot, GetBaseReport to NotifyReport, ...).

The station keeps a small device model (part 1, the device model; part 2, appendix 3) that
GetVariables, SetVariables and the reports read and write."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from csms_local.sim.client import now_iso
from csms_local.sim.config import SimConfig
from csms_local.sim.responder import ACCEPTED, Answer

if TYPE_CHECKING:
    from csms_local.sim.client201 import Charger201

Payload = dict[str, Any]
Key = tuple[str, str]  # (component name, variable name)

# SecurityCtrlr.BasicAuthPassword: WriteOnly; a station takes a new one and logs in with it.
PASSWORD = ("SecurityCtrlr", "BasicAuthPassword")
# How long a station waits for an OnIdle reset before giving up on it (s).
ON_IDLE_WAIT = 3_600.0


@dataclass
class Variable:
    value: str
    mutability: str = "ReadWrite"  # ReadOnly, WriteOnly, ReadWrite
    data_type: str = "string"


@dataclass
class DeviceModel:
    variables: dict[Key, Variable] = field(default_factory=dict)

    @classmethod
    def of(cls, config: SimConfig) -> DeviceModel:
        return cls({
            ("OCPPCommCtrlr", "HeartbeatInterval"):
                Variable(str(int(config.heartbeat_interval)), data_type="integer"),
            ("SampledDataCtrlr", "TxUpdatedInterval"):
                Variable(str(int(config.meter_interval)), data_type="integer"),
            ("AlignedDataCtrlr", "Interval"):
                Variable(str(int(config.meter_interval)), data_type="integer"),
            ("AuthCtrlr", "AuthorizeRemoteStart"): Variable("false", data_type="boolean"),
            ("DeviceModelCtrlr", "ItemsPerMessage"):
                Variable("50", "ReadOnly", data_type="integer"),
            ("DeviceModelCtrlr", "BytesPerMessage"):
                Variable("65000", "ReadOnly", data_type="integer"),
            ("SecurityCtrlr", "SecurityProfile"): Variable("1", "ReadOnly", data_type="integer"),
            PASSWORD: Variable("", "WriteOnly"),
            ("EVSE", "AvailabilityState"):
                Variable("Available", "ReadOnly", data_type="OptionList"),
        })

    def items(self, components: set[str] | None = None) -> Iterator[tuple[Key, Variable]]:
        for key, variable in self.variables.items():
            if components is None or key[0] in components:
                yield key, variable


def answer(charger: Charger201, action: str, payload: Payload) -> Answer:
    if charger.config.ocpp == "2.1":
        own = _HANDLERS_21.get(action)
        if own is not None:
            return own(charger, payload)
    if action in _ACCEPTING:
        return ACCEPTED
    fixed = _FIXED.get(action)
    if fixed is not None:
        return Answer(dict(fixed))
    handler = _HANDLERS.get(action)
    if handler is None:
        return Answer(error="NotImplemented")
    return handler(charger, payload)


# Commands a station takes without more to say or do here.
_ACCEPTING = frozenset(
    {
        "CancelReservation",
        "CertificateSigned",
        "ChangeAvailability",
        "ClearCache",
        "ClearChargingProfile",
        "ClearDisplayMessage",
        "DataTransfer",
        "DeleteCertificate",
        "InstallCertificate",
        "PublishFirmware",
        "ReserveNow",
        "SendLocalList",
        "SetChargingProfile",
        "SetDisplayMessage",
        "SetMonitoringBase",
        "SetMonitoringLevel",
        "SetNetworkProfile",
        "UpdateFirmware",
    }
)

# Commands whose answer does not depend on the request: a station with nothing to report.
_FIXED: dict[str, Payload] = {
    "CostUpdated": {},
    "GetChargingProfiles": {"status": "NoProfiles"},
    "GetCompositeSchedule": {"status": "Rejected"},
    "GetDisplayMessages": {"status": "Unknown"},
    "GetInstalledCertificateIds": {"status": "NotFound"},
    "GetLocalListVersion": {"versionNumber": 0},
    "GetMonitoringReport": {"status": "EmptyResultSet"},
    "UnlockConnector": {"status": "Unlocked"},
    "UnpublishFirmware": {"status": "NoFirmware"},
}


def _request_start(charger: Charger201, payload: Payload) -> Answer:
    evse = int(payload.get("evseId") or 1)
    if evse in charger.ongoing or evse in charger.starting:
        return Answer({"status": "Rejected"})
    charger.starting.add(evse)
    id_token = payload.get("idToken") or {"idToken": charger.id_tag, "type": "Central"}
    remote_start_id = int(payload.get("remoteStartId", 0))

    async def start() -> None:
        try:
            await charger.start(evse, id_token, "RemoteStart", remote_start_id)
        finally:
            charger.starting.discard(evse)

    return Answer({"status": "Accepted"}, follow_up=start)


def _request_stop(charger: Charger201, payload: Payload) -> Answer:
    wanted = payload.get("transactionId")
    for evse, transaction in charger.ongoing.items():
        if transaction.transaction_id == wanted:

            async def stop(evse: int = evse) -> None:
                await charger.stop_transaction(evse, "Remote")

            return Answer({"status": "Accepted"}, follow_up=stop)
    return Answer({"status": "Rejected"})


def _reset(charger: Charger201, payload: Payload) -> Answer:
    evse = payload.get("evseId")
    if evse is not None:
        # Resetting one EVSE ends its transaction; the station stays connected.
        async def reset_evse(evse: int = int(evse)) -> None:
            await charger.stop_transaction(evse, "ImmediateReset")

        return Answer({"status": "Accepted"}, follow_up=reset_evse)
    if payload.get("type") == "OnIdle" and charger.ongoing:
        # B12: Scheduled, and the reboot once the last transaction has ended.
        async def when_idle() -> None:
            async with asyncio.timeout(ON_IDLE_WAIT):
                while charger.ongoing:
                    await asyncio.sleep(0.5)
            await charger.reboot("Reboot")

        return Answer({"status": "Scheduled"}, follow_up=when_idle)

    async def reboot() -> None:
        await charger.reboot("ImmediateReset")

    return Answer({"status": "Accepted"}, follow_up=reboot)


def _key(item: Payload) -> Key:
    return (str(item.get("component", {}).get("name", "")),
            str(item.get("variable", {}).get("name", "")))


def _unknown(charger: Charger201, key: Key) -> str | None:
    """UnknownComponent or UnknownVariable, or None for a variable the station has."""
    if key in charger.device_model.variables:
        return None
    if any(component == key[0] for component, _ in charger.device_model.variables):
        return "UnknownVariable"
    return "UnknownComponent"


def _echo(item: Payload) -> Payload:
    """The component, variable and attribute type of a result, as the request named them."""
    echoed = {"component": item.get("component", {}), "variable": item.get("variable", {})}
    if "attributeType" in item:
        echoed["attributeType"] = item["attributeType"]
    return echoed


def _get_variables(charger: Charger201, payload: Payload) -> Answer:
    results = []
    for item in payload.get("getVariableData", []):
        key = _key(item)
        result = _echo(item)
        unknown = _unknown(charger, key)
        variable = charger.device_model.variables.get(key)
        if unknown is not None:
            result["attributeStatus"] = unknown
        elif item.get("attributeType", "Actual") != "Actual":
            result["attributeStatus"] = "NotSupportedAttributeType"
        elif variable is None or variable.mutability == "WriteOnly":
            result["attributeStatus"] = "Rejected"  # B06: WriteOnly values are not read back
        else:
            result["attributeStatus"] = "Accepted"
            result["attributeValue"] = variable.value
        results.append(result)
    return Answer({"getVariableResult": results})


def _set_variables(charger: Charger201, payload: Payload) -> Answer:
    results = []
    for item in payload.get("setVariableData", []):
        key = _key(item)
        result = _echo(item)
        unknown = _unknown(charger, key)
        variable = charger.device_model.variables.get(key)
        if unknown is not None:
            result["attributeStatus"] = unknown
        elif item.get("attributeType", "Actual") != "Actual":
            result["attributeStatus"] = "NotSupportedAttributeType"
        elif variable is None or variable.mutability == "ReadOnly":
            result["attributeStatus"] = "Rejected"
        else:
            variable.value = str(item.get("attributeValue", ""))
            if key == PASSWORD:
                # A01: the new password is used from the next connection on.
                charger.password = variable.value
            result["attributeStatus"] = "Accepted"
        results.append(result)
    return Answer({"setVariableResult": results})


def _report_data(charger: Charger201, components: set[str] | None) -> list[Payload]:
    return [
        {
            "component": {"name": component},
            "variable": {"name": name},
            "variableAttribute": [
                {"type": "Actual", "mutability": variable.mutability}
                | ({} if variable.mutability == "WriteOnly" else {"value": variable.value})
            ],
            "variableCharacteristics": {"dataType": variable.data_type,
                                        "supportsMonitoring": False},
        }
        for (component, name), variable in charger.device_model.items(components)
    ]


def _report(charger: Charger201, payload: Payload) -> Answer:
    """GetBaseReport and GetReport: Accepted, then the report in one NotifyReport."""
    request_id = int(payload.get("requestId", 0))
    criteria = payload.get("componentVariable")
    components = None if not criteria else {
        str(item.get("component", {}).get("name", "")) for item in criteria
    }
    data = _report_data(charger, components)
    if not data:
        return Answer({"status": "EmptyResultSet"})

    async def report() -> None:
        await charger.call("NotifyReport", {
            "requestId": request_id,
            "generatedAt": now_iso(),
            "seqNo": 0,
            "tbc": False,
            "reportData": data,
        })

    return Answer({"status": "Accepted"}, follow_up=report)


_TRIGGERABLE = frozenset(
    {
        "BootNotification",
        "Heartbeat",
        "StatusNotification",
        "MeterValues",
        "TransactionEvent",
        "LogStatusNotification",
        "FirmwareStatusNotification",
    }
)


def _trigger(charger: Charger201, payload: Payload) -> Answer:
    requested = str(payload.get("requestedMessage", ""))
    if requested not in _TRIGGERABLE:
        return Answer({"status": "NotImplemented"})
    evse = int((payload.get("evse") or {}).get("id", 0))
    if requested == "TransactionEvent" and (evse or 1) not in charger.ongoing:
        return Answer({"status": "Rejected"})  # F06: no transaction there to report

    async def send() -> None:
        await charger.send_triggered(requested, evse)

    return Answer({"status": "Accepted"}, follow_up=send)


def _transaction_status(charger: Charger201, payload: Payload) -> Answer:
    # Nothing is ever queued offline here; ongoingIndicator only when asked about one.
    result: Payload = {"messagesInQueue": False}
    wanted = payload.get("transactionId")
    if wanted is not None:
        result["ongoingIndicator"] = any(
            t.transaction_id == wanted for t in charger.ongoing.values()
        )
    return Answer(result)


def _customer_information(charger: Charger201, payload: Payload) -> Answer:
    """Accepted; when asked to report, one NotifyCustomerInformation saying there is none."""
    if not payload.get("report"):
        return ACCEPTED
    request_id = int(payload.get("requestId", 0))

    async def notify() -> None:
        await charger.call("NotifyCustomerInformation", {
            "data": "no customer data is kept",
            "seqNo": 0,
            "generatedAt": now_iso(),
            "requestId": request_id,
            "tbc": False,
        })

    return Answer({"status": "Accepted"}, follow_up=notify)


def _get_log(charger: Charger201, payload: Payload) -> Answer:
    return Answer({"status": "Accepted", "filename": f"{charger.charge_point_id}.log"})


def _set_monitoring(charger: Charger201, payload: Payload) -> Answer:
    return Answer({"setMonitoringResult": [
        {"status": "Accepted", "type": item.get("type", "Delta"),
         "severity": int(item.get("severity", 0)), **_echo(item)}
        for item in payload.get("setMonitoringData", [])
    ]})


def _clear_monitoring(charger: Charger201, payload: Payload) -> Answer:
    return Answer({"clearMonitoringResult": [
        {"status": "NotFound", "id": int(monitor_id)} for monitor_id in payload.get("id", [])
    ]})


_HANDLERS: dict[str, Callable[[Charger201, Payload], Answer]] = {
    "RequestStartTransaction": _request_start,
    "RequestStopTransaction": _request_stop,
    "Reset": _reset,
    "GetVariables": _get_variables,
    "SetVariables": _set_variables,
    "GetBaseReport": _report,
    "GetReport": _report,
    "TriggerMessage": _trigger,
    "GetTransactionStatus": _transaction_status,
    "CustomerInformation": _customer_information,
    "GetLog": _get_log,
    "SetVariableMonitoring": _set_monitoring,
    "ClearVariableMonitoring": _clear_monitoring,
}

# Every 2.0.1 command the CSMS may send has an answer here.
ANSWERED = _ACCEPTING | set(_FIXED) | set(_HANDLERS)


# OCPP 2.1's new commands, answered by a station speaking ocpp2.1: it keeps default
# tariffs per EVSE (I: tariffs), and has no DER inverter, battery swap, aFRR, dynamic
# profiles nor periodic event streams, so it refuses those with the spec's statuses.


def _set_default_tariff(charger: Charger201, payload: Payload) -> Answer:
    tariff = payload.get("tariff") or {}
    charger.tariffs[str(tariff.get("tariffId", ""))] = int(payload.get("evseId", 0))
    return ACCEPTED


def _get_tariffs(charger: Charger201, payload: Payload) -> Answer:
    evse = int(payload.get("evseId", 0))
    # EVSE 0 asks for every EVSE's; a tariff set on EVSE 0 applies to all of them.
    assigned = sorted(
        (tariff_id, on) for tariff_id, on in charger.tariffs.items()
        if evse == 0 or on in (0, evse)
    )
    if not assigned:
        return Answer({"status": "NoTariff"})
    return Answer({"status": "Accepted", "tariffAssignments": [
        {"tariffId": tariff_id, "tariffKind": "DefaultTariff", "evseIds": [on]}
        for tariff_id, on in assigned
    ]})


def _clear_tariffs(charger: Charger201, payload: Payload) -> Answer:
    wanted = payload.get("tariffIds")
    evse = payload.get("evseId")
    if not wanted:
        cleared = [t for t, on in charger.tariffs.items() if evse is None or on == evse]
        for tariff_id in cleared:
            del charger.tariffs[tariff_id]
        return Answer({"clearTariffsResult": [
            {"status": "Accepted" if cleared else "NoTariff"}]})
    results = []
    for tariff_id in wanted:
        found = charger.tariffs.pop(str(tariff_id), None) is not None
        results.append({"tariffId": tariff_id, "status": "Accepted" if found else "NoTariff"})
    return Answer({"clearTariffsResult": results})


def _ongoing(charger: Charger201, payload: Payload) -> bool:
    wanted = payload.get("transactionId")
    return any(t.transaction_id == wanted for t in charger.ongoing.values())


def _change_transaction_tariff(charger: Charger201, payload: Payload) -> Answer:
    return Answer({"status": "Accepted" if _ongoing(charger, payload) else "TxNotFound"})


def _use_priority_charging(charger: Charger201, payload: Payload) -> Answer:
    # No priority charging profile is installed: NoProfile for a transaction it has.
    return Answer({"status": "NoProfile" if _ongoing(charger, payload) else "Rejected"})


_HANDLERS_21: dict[str, Callable[[Charger201, Payload], Answer]] = {
    "SetDefaultTariff": _set_default_tariff,
    "GetTariffs": _get_tariffs,
    "ClearTariffs": _clear_tariffs,
    "ChangeTransactionTariff": _change_transaction_tariff,
    "UsePriorityCharging": _use_priority_charging,
    "SetDERControl": lambda charger, payload: Answer({"status": "NotSupported"}),
    "GetDERControl": lambda charger, payload: Answer({"status": "NotSupported"}),
    "ClearDERControl": lambda charger, payload: Answer({"status": "NotSupported"}),
    "RequestBatterySwap": lambda charger, payload: Answer({"status": "Rejected"}),
    "NotifyAllowedEnergyTransfer": lambda charger, payload: ACCEPTED,
    "NotifyWebPaymentStarted": lambda charger, payload: Answer({}),
    "AFRRSignal": lambda charger, payload: Answer({"status": "Rejected"}),
    "UpdateDynamicSchedule": lambda charger, payload: Answer({"status": "Rejected"}),
    "AdjustPeriodicEventStream": lambda charger, payload: Answer({"status": "Rejected"}),
    "GetPeriodicEventStream": lambda charger, payload: Answer({}),
}

ANSWERED_21 = ANSWERED | set(_HANDLERS_21)
