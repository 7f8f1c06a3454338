"""Request bodies of the tenant API (pydantic: validated, and documented in OpenAPI)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, ConfigDict, Field

from csms.domain.model import (
    DEFAULT_CONCURRENT_TX_WINDOW_MINUTES,
    ConcurrentTransactions,
)

# Pagination of every list: at most 200 items a page.
Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0, le=100_000)]

TenantId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")]
# OCPP 1.6 chargeBoxIdentity: at most 48 characters, URL-safe (it is part of the path).
ChargePointId = Annotated[str, Field(pattern=r"^[A-Za-z0-9._~:-]{1,48}$")]
IdToken = Annotated[str, Field(min_length=1, max_length=20)]  # OCPP 1.6 IdToken: CiString20
# An id token of either version: 1.6 idTag (20) or 2.0.1 IdTokenType.idToken (36).
AnyIdToken = Annotated[str, Field(min_length=1, max_length=36)]
IdTokenTypeName = Literal[
    "Central", "eMAID", "ISO14443", "ISO15693", "KeyCode", "Local", "MacAddress",
    "NoAuthorization",
]
RegistrationStatusName = Literal["Accepted", "Pending", "Rejected"]
Password = Annotated[str, Field(min_length=16, max_length=40)]
CertificateEndpoint = Annotated[
    str,
    Field(max_length=500, pattern=r"^(https://[^\s]+|http://(127\.0\.0\.1|localhost)(:\d+)?(/[^\s]*)?)$"),
]
TopicPrefix = Annotated[
    str, Field(max_length=100, pattern=r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$")
]
RateLimit = Annotated[int, Field(ge=1, le=100_000, description="requests per minute")]
MaxChargePoints = Annotated[int, Field(ge=0, le=10_000_000)]
AuthorizationStatusName = Literal["Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


RetentionDays = Annotated[int, Field(ge=1, le=3650)]
ConcurrentPolicy = Annotated[
    ConcurrentTransactions,
    Field(
        description="allow: an Accepted id tag is never answered ConcurrentTx. reject: "
        "ConcurrentTx while the id tag has an open transaction at another charge point "
        "heard from within concurrent_tx_window_minutes"
    ),
]
ConcurrentWindow = Annotated[
    int,
    Field(
        ge=1,
        le=7 * 24 * 60,
        description="with reject: how recently (minutes) the other charge point must have "
        "sent anything for its open transaction to count",
    ),
]


class TenantCreate(Strict):
    tenant_id: TenantId
    name: Annotated[str, Field(min_length=1, max_length=200)]
    max_charge_points: MaxChargePoints | None = None
    api_rate_limit: RateLimit = 600
    mqtt_topic_prefix: TopicPrefix = "ocpp"
    message_retention_days: RetentionDays = 30
    meter_value_retention_days: RetentionDays = 90
    concurrent_transactions: ConcurrentPolicy = ConcurrentTransactions.ALLOW
    concurrent_tx_window_minutes: ConcurrentWindow = DEFAULT_CONCURRENT_TX_WINDOW_MINUTES
    master_pass_group_id: AnyIdToken | None = None
    certificate_endpoint: CertificateEndpoint | None = None


class TenantUpdate(Strict):
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    max_charge_points: MaxChargePoints | None = None
    api_rate_limit: RateLimit | None = None
    mqtt_topic_prefix: TopicPrefix | None = None
    message_retention_days: RetentionDays | None = None
    meter_value_retention_days: RetentionDays | None = None
    concurrent_transactions: ConcurrentPolicy | None = None
    concurrent_tx_window_minutes: ConcurrentWindow | None = None
    master_pass_group_id: AnyIdToken | None = Field(
        default=None,
        description="OCPP 2.0.1 C16: id tokens of this group may stop any transaction, "
        "never start one",
    )
    certificate_endpoint: CertificateEndpoint | None = Field(
        default=None,
        description="OCPP 2.0.1 M: where Get15118EVCertificate and GetCertificateStatus "
        "are forwarded (https; http only to 127.0.0.1/localhost); unset: answered Failed",
    )


class ChargePointCreate(Strict):
    charge_point_id: ChargePointId
    password: Password | None = Field(
        default=None, description="16-40 characters; generated when left out"
    )
    description: Annotated[str, Field(max_length=500)] | None = None


class ChargePointUpdate(Strict):
    description: Annotated[str, Field(max_length=500)] | None = None
    enabled: bool | None = None
    registration_status: RegistrationStatusName | None = Field(
        default=None,
        description="what its BootNotification is answered (OCPP 2.0.1; Pending: the "
        "CSMS may send commands, the charger's other requests get SecurityError)",
    )


class PasswordChange(Strict):
    password: Password | None = Field(default=None, description="generated when left out")


class IdTagFields(Strict):
    status: AuthorizationStatusName = "Accepted"
    expiry_date: datetime | None = None
    parent_id_tag: IdToken | None = None
    id_token_type: IdTokenTypeName | None = Field(
        default=None, description="OCPP 2.0.1 IdTokenType.type; unset: any type matches"
    )
    group_id_token: AnyIdToken | None = Field(
        default=None, description="OCPP 2.0.1 groupIdToken"
    )


class IdTagCreate(IdTagFields):
    id_tag: AnyIdToken = Field(description="1.6 idTag (up to 20) or 2.0.1 idToken (up to 36)")


class TransactionClose(Strict):
    meter_stop: Annotated[int, Field(ge=0, le=2**31 - 1)] | None = Field(
        default=None,
        description="Wh; left out: the last energy register reading, if any (else unknown)",
    )
    reason: Annotated[str, Field(min_length=1, max_length=50)] | None = Field(
        default=None, description="the stop reason recorded; default ClosedByOperator"
    )


class LocalListPush(Strict):
    update_type: Literal["Full", "Differential"] = Field(
        default="Differential",
        description="Full: the whole list replaces the charger's. Differential: only what "
        "changed since the list the charger last accepted (a charger never sent a list "
        "gets it Full)",
    )


class ReservationCreate(Strict):
    id_token: AnyIdToken
    id_token_type: IdTokenTypeName = Field(
        default="ISO14443", description="OCPP 2.0.1 IdTokenType.type (1.6 has none)"
    )
    expires_at: datetime = Field(description="expiryDateTime; the CSMS ends it then")
    evse_id: Annotated[int, Field(ge=1)] | None = Field(
        default=None, description="the EVSE (1.6: connector); left out: the whole station"
    )
    group_id_token: AnyIdToken | None = Field(
        default=None, description="2.0.1 groupIdToken, 1.6 parentIdTag"
    )
    connector_type: Annotated[str, Field(max_length=20)] | None = Field(
        default=None, description="2.0.1 connectorType (cCCS1, cType2, ...)"
    )


VendorId = Annotated[str, Field(min_length=1, max_length=255)]


class VendorHandlerFields(Strict):
    mode: Literal["store", "forward"] = Field(
        description="store: kept, published as a data_transfer event, answered Accepted. "
        "forward: POSTed to `url` as JSON {tenant_id, charge_point_id, ocpp_version, "
        "vendorId, messageId, data}; its JSON reply {status, data} is the answer "
        "(Rejected when it fails or answers no valid status)"
    )
    url: Annotated[str, Field(max_length=2000)] | None = Field(
        default=None, description="forward: https:// (http:// only to this machine)"
    )
    timeout_seconds: Annotated[float, Field(gt=0, le=10)] = Field(
        default=5.0, description="forward: the charger waits for the answer meanwhile"
    )
    secret: Annotated[str, Field(min_length=16, max_length=200)] | None = Field(
        default=None,
        description="forward: requests carry X-Csms-Signature: sha256=<HMAC-SHA256 of the "
        "body>; never shown again",
    )
    message_ids: list[Annotated[str, Field(max_length=50)]] = Field(
        default_factory=list,
        description="when given, other messageIds are answered UnknownMessageId",
    )


class FirmwareRolloutCreate(Strict):
    charge_point_ids: list[ChargePointId] = Field(min_length=1, max_length=500)
    location: Annotated[str, Field(min_length=1, max_length=512)] = Field(
        description="the URI the chargers download the firmware from"
    )
    retrieve_at: datetime = Field(description="retrieveDateTime: download from then on")
    install_at: datetime | None = Field(default=None, description="installDateTime")
    signing_certificate: Annotated[str, Field(max_length=5500)] | None = Field(
        default=None, description="PEM certificate of the signing key (signed firmware)"
    )
    signature: Annotated[str, Field(max_length=800)] | None = Field(
        default=None, description="base64 signature of the image (signed firmware)"
    )
    retries: Annotated[int, Field(ge=0, le=100)] | None = None
    retry_interval: Annotated[int, Field(ge=0, le=86_400)] | None = Field(
        default=None, description="seconds"
    )
