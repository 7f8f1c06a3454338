"""OCPP 2.1: vocabulary and plug-in. 2.1 keeps every 2.0.1 message (with new optional
fields), so the 2.0.1 handlers and command effects serve it, validated against the 2.1
schemas; the messages new in 2.1 are in central_system.py (charger-initiated) and
command_effects.py (what the new commands change)."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from csms.protocol.framing import CALL_RESULT_ERROR, SEND
from csms.protocol.router import OcppVersion
from csms.versions import v201

if TYPE_CHECKING:
    from csms.versions import VersionPlugin

SUBPROTOCOL = "ocpp2.1"

# OCPP 2.1 part 2: the messages new in 2.1 that the Charging Station sends as Calls.
NEW_CHARGER_INITIATED = frozenset(
    {
        "BatterySwap",
        "ClosePeriodicEventStream",
        "GetCertificateChainStatus",
        "NotifyDERAlarm",
        "NotifyDERStartStop",
        "NotifyPriorityCharging",
        "NotifySettlement",
        "OpenPeriodicEventStream",
        "PullDynamicScheduleUpdate",
        "ReportDERControl",
        "VatNumberValidation",
    }
)

# The messages new in 2.1 that the CSMS sends.
NEW_CSMS_INITIATED = frozenset(
    {
        "AFRRSignal",
        "AdjustPeriodicEventStream",
        "ChangeTransactionTariff",
        "ClearDERControl",
        "ClearTariffs",
        "GetDERControl",
        "GetPeriodicEventStream",
        "GetTariffs",
        "NotifyAllowedEnergyTransfer",
        "NotifyWebPaymentStarted",
        "RequestBatterySwap",
        "SetDERControl",
        "SetDefaultTariff",
        "UpdateDynamicSchedule",
        "UsePriorityCharging",
    }
)

# What the Charging Station sends as SEND frames (OCPP-J 2.1, MessageTypeId 6): the data
# of the periodic event streams it opened with OpenPeriodicEventStream. Never answered.
CHARGER_SENDS = frozenset({"NotifyPeriodicEventStream"})

CHARGER_INITIATED = v201.CHARGER_INITIATED | NEW_CHARGER_INITIATED
CSMS_INITIATED = v201.CSMS_INITIATED | NEW_CSMS_INITIATED

# OCPP-J 2.1 keeps 2.0.1's CallError codes.
ERROR_CODES = v201.ERROR_CODES

VERSION = OcppVersion(
    subprotocol=SUBPROTOCOL,
    schema_dir="v21",
    error_codes=ERROR_CODES,
    charger_initiated=CHARGER_INITIATED,
    csms_initiated=CSMS_INITIATED,
    extra_message_types=frozenset({CALL_RESULT_ERROR, SEND}),
    charger_sends=CHARGER_SENDS,
)

# 2.0.1's agreeing statuses, and UnpublishFirmware's "Unpublished" (done as asked).
# GetTariffs' NoTariff and the like refuse: nothing of what was asked exists.
AGREEING_STATUSES = v201.AGREEING_STATUSES | {"Unpublished"}


@cache
def plugin() -> VersionPlugin:
    """OCPP 2.1 as a plug-in (built once: its schemas compile on first use)."""
    from csms.protocol.schemas import ocpp_schema_dir
    from csms.services.commands import CommandVocabulary
    from csms.versions import CentralSystemParts, VersionPlugin
    from csms.versions.v21.central_system import CentralSystem21
    from csms.versions.v21.command_effects import EFFECTS, PASSWORD_CHANGE, SPLITTINGS
    from csms.versions.v21.schemas import Schemas21

    # 2.1 words reservations, firmware updates and local lists as 2.0.1 does.
    from csms.versions.v201.requests import REQUEST_SHAPES
    from csms.versions.v201.smart_charging import CHECKS

    schemas = Schemas21(ocpp_schema_dir(VERSION.schema_dir))

    def handlers(parts: CentralSystemParts):  # type: ignore[no-untyped-def]
        return CentralSystem21(parts).handlers()

    return VersionPlugin(
        version=VERSION,
        schemas=schemas,
        handlers=handlers,
        commands=CommandVocabulary(
            schemas=schemas,
            actions=CSMS_INITIATED,
            agreeing_statuses=AGREEING_STATUSES,
            effects=EFFECTS,
            splittings=SPLITTINGS,
            password_change=PASSWORD_CHANGE,
            checks=CHECKS,
            requests=REQUEST_SHAPES,
        ),
    )
