"""What an accepted OCPP 2.1 command changes in the tenant's records: 2.0.1's effects for
the commands 2.1 keeps (their answers have the same shape), and for the commands new in
2.1 the request kept on the charge point, so an operator sees what the charger was last
told (its default tariff, its DER controls, ...). GetVariables and SetVariables split as
in 2.0.1, and the password is set the same way (SecurityCtrlr.BasicAuthPassword)."""

from __future__ import annotations

from typing import Any

from csms.ports import TenantData
from csms.services.commands import CommandEffect, PasswordChange, Splitting
from csms.versions.v201 import command_effects as v201_effects

Payload = dict[str, Any]


def _kept(name: str, *, per_evse: bool = False, answer: bool = False) -> CommandEffect:
    """Keeps the request (or with `answer`, the charger's response) on the charge point,
    under `name`, or `name.<evseId>` for settings an EVSE holds on its own."""

    def effect(data: TenantData, cp: str, request: Payload, response: Payload) -> None:
        where = f"{name}.{request.get('evseId', 0)}" if per_evse else name
        data.charge_points.record_command_effect(cp, where, response if answer else request)

    return effect


def _tariffs_cleared(data: TenantData, cp: str, request: Payload, response: Payload) -> None:
    data.charge_points.record_command_effect(
        cp, "tariffs_cleared",
        {"request": request, "results": response.get("clearTariffsResult", [])},
    )


def _der_control(data: TenantData, cp: str, request: Payload, response: Payload) -> None:
    # One entry per control type: a new control of a type supersedes the charger's last.
    data.charge_points.record_command_effect(
        cp, f"der_control.{request['controlType']}", request
    )


NEW_EFFECTS: dict[str, CommandEffect] = {
    "SetDefaultTariff": _kept("default_tariff", per_evse=True),
    "ChangeTransactionTariff": _kept("transaction_tariff"),
    "ClearTariffs": _tariffs_cleared,
    "GetTariffs": _kept("tariffs", answer=True),
    "SetDERControl": _der_control,
    "ClearDERControl": _kept("der_control_cleared"),
    "GetDERControl": _kept("der_control_report_requested"),
    "UsePriorityCharging": _kept("priority_charging"),
    "RequestBatterySwap": _kept("battery_swap_requested"),
    "NotifyAllowedEnergyTransfer": _kept("allowed_energy_transfer"),
    "UpdateDynamicSchedule": _kept("dynamic_schedule_update"),
    "AdjustPeriodicEventStream": _kept("periodic_event_stream_adjusted"),
    "GetPeriodicEventStream": _kept("periodic_event_streams", answer=True),
}

EFFECTS: dict[str, CommandEffect] = {**v201_effects.EFFECTS, **NEW_EFFECTS}
SPLITTINGS: dict[str, Splitting] = dict(v201_effects.SPLITTINGS)
PASSWORD_CHANGE: PasswordChange = v201_effects.PASSWORD_CHANGE
