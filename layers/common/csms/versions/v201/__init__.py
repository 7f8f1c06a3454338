"""OCPP 2.0.1: vocabulary and plug-in. The handlers of charger-initiated messages are in
central_system.py, what accepted commands change in command_effects.py."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from csms.protocol.errors import ErrorKind
from csms.protocol.router import OcppVersion

if TYPE_CHECKING:
    from csms.versions import VersionPlugin

SUBPROTOCOL = "ocpp2.0.1"

# OCPP 2.0.1 part 2 (messages sent by the Charging Station).
CHARGER_INITIATED = frozenset(
    {
        "Authorize",
        "BootNotification",
        "ClearedChargingLimit",
        "DataTransfer",
        "FirmwareStatusNotification",
        "Get15118EVCertificate",
        "GetCertificateStatus",
        "Heartbeat",
        "LogStatusNotification",
        "MeterValues",
        "NotifyChargingLimit",
        "NotifyCustomerInformation",
        "NotifyDisplayMessages",
        "NotifyEVChargingNeeds",
        "NotifyEVChargingSchedule",
        "NotifyEvent",
        "NotifyMonitoringReport",
        "NotifyReport",
        "PublishFirmwareStatusNotification",
        "ReportChargingProfiles",
        "ReservationStatusUpdate",
        "SecurityEventNotification",
        "SignCertificate",
        "StatusNotification",
        "TransactionEvent",
    }
)

# Messages the CSMS sends (DataTransfer goes both ways).
CSMS_INITIATED = frozenset(
    {
        "CancelReservation",
        "CertificateSigned",
        "ChangeAvailability",
        "ClearCache",
        "ClearChargingProfile",
        "ClearDisplayMessage",
        "ClearVariableMonitoring",
        "CostUpdated",
        "CustomerInformation",
        "DataTransfer",
        "DeleteCertificate",
        "GetBaseReport",
        "GetChargingProfiles",
        "GetCompositeSchedule",
        "GetDisplayMessages",
        "GetInstalledCertificateIds",
        "GetLocalListVersion",
        "GetLog",
        "GetMonitoringReport",
        "GetReport",
        "GetTransactionStatus",
        "GetVariables",
        "InstallCertificate",
        "PublishFirmware",
        "RequestStartTransaction",
        "RequestStopTransaction",
        "ReserveNow",
        "Reset",
        "SendLocalList",
        "SetChargingProfile",
        "SetDisplayMessage",
        "SetMonitoringBase",
        "SetMonitoringLevel",
        "SetNetworkProfile",
        "SetVariableMonitoring",
        "SetVariables",
        "TriggerMessage",
        "UnlockConnector",
        "UnpublishFirmware",
        "UpdateFirmware",
    }
)

# OCPP-J 2.0.1 (part 4, section 4.3): 2.x spells OccurrenceConstraintViolation right and
# names frame-level errors RpcFrameworkError.
ERROR_CODES = {
    ErrorKind.RPC_FRAMEWORK_ERROR: "RpcFrameworkError",
    ErrorKind.FORMAT_VIOLATION: "FormatViolation",
    ErrorKind.MESSAGE_TYPE_NOT_SUPPORTED: "MessageTypeNotSupported",
    ErrorKind.PROTOCOL_ERROR: "ProtocolError",
    ErrorKind.TYPE_CONSTRAINT_VIOLATION: "TypeConstraintViolation",
    ErrorKind.PROPERTY_CONSTRAINT_VIOLATION: "PropertyConstraintViolation",
    ErrorKind.OCCURRENCE_CONSTRAINT_VIOLATION: "OccurrenceConstraintViolation",
    ErrorKind.NOT_IMPLEMENTED: "NotImplemented",
    ErrorKind.NOT_SUPPORTED: "NotSupported",
    ErrorKind.SECURITY_ERROR: "SecurityError",
    ErrorKind.INTERNAL_ERROR: "InternalError",
    ErrorKind.GENERIC_ERROR: "GenericError",
}

VERSION = OcppVersion(
    subprotocol=SUBPROTOCOL,
    schema_dir="v201",
    error_codes=ERROR_CODES,
    charger_initiated=CHARGER_INITIATED,
    csms_initiated=CSMS_INITIATED,
)

# The `status` values of 2.0.1 responses that mean "done as asked"; the others
# (Rejected, NotSupported, UnknownComponent, Occupied, ...) refuse.
AGREEING_STATUSES = frozenset(
    # UnpublishFirmware's "Unpublished" is its success.
    {"Accepted", "Scheduled", "RebootRequired", "Unlocked", "AcceptedCanceled", "Unpublished"}
)


@cache
def plugin() -> VersionPlugin:
    """OCPP 2.0.1 as a plug-in (built once: its schemas compile on first use)."""
    from csms.protocol.schemas import SchemaSet, ocpp_schema_dir
    from csms.services.commands import CommandVocabulary
    from csms.versions import CentralSystemParts, VersionPlugin
    from csms.versions.v201.central_system import CentralSystem201
    from csms.versions.v201.command_effects import EFFECTS, PASSWORD_CHANGE, SPLITTINGS
    from csms.versions.v201.requests import REQUEST_SHAPES
    from csms.versions.v201.smart_charging import CHECKS

    schemas = SchemaSet(ocpp_schema_dir(VERSION.schema_dir), request_suffix="Request")

    def handlers(parts: CentralSystemParts):  # type: ignore[no-untyped-def]
        return CentralSystem201(parts).handlers()

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
