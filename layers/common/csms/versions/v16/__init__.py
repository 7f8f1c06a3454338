"""OCPP 1.6J (with the 1.6 security extension): vocabulary and Central System handlers."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from csms.protocol.errors import ErrorKind
from csms.protocol.router import OcppVersion

if TYPE_CHECKING:
    from csms.versions import VersionPlugin

SUBPROTOCOL = "ocpp1.6"

CHARGER_INITIATED = frozenset(
    {
        "Authorize",
        "BootNotification",
        "DataTransfer",
        "DiagnosticsStatusNotification",
        "FirmwareStatusNotification",
        "Heartbeat",
        "MeterValues",
        "StartTransaction",
        "StatusNotification",
        "StopTransaction",
        # Security extension (OCPP 1.6 Security Whitepaper, edition 2)
        "LogStatusNotification",
        "SecurityEventNotification",
        "SignCertificate",
        "SignedFirmwareStatusNotification",
    }
)

CSMS_INITIATED = frozenset(
    {
        "CancelReservation",
        "ChangeAvailability",
        "ChangeConfiguration",
        "ClearCache",
        "ClearChargingProfile",
        # Either side may send DataTransfer (OCPP 1.6 section 4.3 and 5.6).
        "DataTransfer",
        "GetCompositeSchedule",
        "GetConfiguration",
        "GetDiagnostics",
        "GetLocalListVersion",
        "RemoteStartTransaction",
        "RemoteStopTransaction",
        "ReserveNow",
        "Reset",
        "SendLocalList",
        "SetChargingProfile",
        "TriggerMessage",
        "UnlockConnector",
        "UpdateFirmware",
        "CertificateSigned",
        "DeleteCertificate",
        "ExtendedTriggerMessage",
        "GetInstalledCertificateIds",
        "GetLog",
        "InstallCertificate",
        "SignedUpdateFirmware",
    }
)

# OCPP-J 1.6 section 4.2.3; note 1.6's own spellings ("FormationViolation",
# "OccurenceConstraintViolation"). 1.6 has no MessageTypeNotSupported: an unknown
# message type is a frame that does not conform to the PDU structure.
ERROR_CODES = {
    ErrorKind.RPC_FRAMEWORK_ERROR: "FormationViolation",
    ErrorKind.FORMAT_VIOLATION: "FormationViolation",
    ErrorKind.MESSAGE_TYPE_NOT_SUPPORTED: "FormationViolation",
    ErrorKind.PROTOCOL_ERROR: "ProtocolError",
    ErrorKind.TYPE_CONSTRAINT_VIOLATION: "TypeConstraintViolation",
    ErrorKind.PROPERTY_CONSTRAINT_VIOLATION: "PropertyConstraintViolation",
    ErrorKind.OCCURRENCE_CONSTRAINT_VIOLATION: "OccurenceConstraintViolation",
    ErrorKind.NOT_IMPLEMENTED: "NotImplemented",
    ErrorKind.NOT_SUPPORTED: "NotSupported",
    ErrorKind.SECURITY_ERROR: "SecurityError",
    ErrorKind.INTERNAL_ERROR: "InternalError",
    ErrorKind.GENERIC_ERROR: "GenericError",
}

VERSION = OcppVersion(
    subprotocol=SUBPROTOCOL,
    schema_dir="v16",
    error_codes=ERROR_CODES,
    charger_initiated=CHARGER_INITIATED,
    csms_initiated=CSMS_INITIATED,
)

# The `status` values of 1.6 confirmations that mean "done as asked". Any other status in a
# CallResult (Rejected, NotSupported, Faulted, Occupied, UnlockFailed, ...) is a refusal.
AGREEING_STATUSES = frozenset({"Accepted", "Scheduled", "RebootRequired", "Unlocked"})


@cache
def plugin() -> VersionPlugin:
    """OCPP 1.6J as a plug-in (built once: its schemas compile on first use)."""
    from csms.protocol.schemas import SchemaSet, ocpp_schema_dir
    from csms.services.commands import CommandVocabulary
    from csms.versions import CentralSystemParts, VersionPlugin
    from csms.versions.v16.central_system import CentralSystem16
    from csms.versions.v16.charging_profiles import CHECKS
    from csms.versions.v16.command_effects import EFFECTS
    from csms.versions.v16.requests import PASSWORD_CHANGE, REQUEST_SHAPES

    schemas = SchemaSet(ocpp_schema_dir(VERSION.schema_dir))

    def handlers(parts: CentralSystemParts):  # type: ignore[no-untyped-def]
        return CentralSystem16(
            parts.charging, parts.heartbeat_interval, parts.clock, store=parts.store,
            records=parts.records,
        ).handlers()

    return VersionPlugin(
        version=VERSION,
        schemas=schemas,
        handlers=handlers,
        commands=CommandVocabulary(
            schemas=schemas,
            actions=CSMS_INITIATED,
            agreeing_statuses=AGREEING_STATUSES,
            effects=EFFECTS,
            password_change=PASSWORD_CHANGE,
            checks=CHECKS,
            requests=REQUEST_SHAPES,
        ),
    )
