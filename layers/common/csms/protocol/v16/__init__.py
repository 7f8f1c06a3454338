"""OCPP 1.6J (with the 1.6 security extension): vocabulary and Central System handlers."""

from csms.protocol.errors import ErrorKind
from csms.protocol.router import OcppVersion

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
