"""OCPP 2.0.1 smart charging (block K) in the plug-in: the spec's rules checked on the
CSMS's requests before they are sent, and the handlers of the charger's smart charging
messages.

Checks (`CHECKS`, by action) raise OcppError, which the tenant API answers 422 with the
rule broken. Handlers (`handlers(parts)`) store what the charger reports as notifications;
NotifyEVChargingNeeds also records the EV's needs in version-neutral terms
(`charging_need`), which the event worker hands to the site limit controller.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from csms.domain.charging_profiles import (
    ProfileRuleBroken,
    Purpose,
    check,
    check_criteria,
)
from csms.protocol.errors import ErrorKind, OcppError
from csms.protocol.router import CallContext, Handler
from csms.versions.v201.charging_profiles import parse_profile, parse_set_request

if TYPE_CHECKING:
    from csms.versions import CentralSystemParts

Payload = dict[str, Any]

# The notification kind of a charger's EV charging needs in version-neutral terms; the
# event worker's record applier reacts to it (services/site_limit.py).
CHARGING_NEED = "charging_need"


def _broken(broken: ProfileRuleBroken) -> OcppError:
    return OcppError(ErrorKind.PROPERTY_CONSTRAINT_VIOLATION, str(broken))


def check_set_charging_profile(payload: Payload, now: datetime | None = None) -> None:
    profile = parse_set_request(payload)
    try:
        check(profile, now=now or datetime.now(UTC))
    except ProfileRuleBroken as broken:
        raise _broken(broken) from None


def check_clear_charging_profile(payload: Payload) -> None:
    criteria = payload.get("chargingProfileCriteria") or {}
    purpose = _purpose(criteria.get("chargingProfilePurpose"))
    try:
        if purpose is Purpose.EXTERNAL_CONSTRAINTS:
            # Only the external system that set them may remove them.
            raise ProfileRuleBroken(
                "external_constraints_not_cleared_by_csms",
                "ChargingStationExternalConstraints profiles are cleared by their source",
            )
        check_criteria(purpose, criteria.get("evseId"), criteria.get("stackLevel"))
    except ProfileRuleBroken as broken:
        raise _broken(broken) from None


def check_get_charging_profiles(payload: Payload) -> None:
    criterion = payload.get("chargingProfile") or {}
    try:
        check_criteria(
            _purpose(criterion.get("chargingProfilePurpose")),
            payload.get("evseId"),
            criterion.get("stackLevel"),
        )
    except ProfileRuleBroken as broken:
        raise _broken(broken) from None


def check_get_composite_schedule(payload: Payload) -> None:
    if payload["duration"] <= 0:
        raise OcppError(ErrorKind.PROPERTY_CONSTRAINT_VIOLATION,
                        "duration: a composite schedule lasts at least 1 s")
    if payload["evseId"] < 0:
        raise OcppError(ErrorKind.PROPERTY_CONSTRAINT_VIOLATION, "evseId: must be >= 0")


def _purpose(name: str | None) -> Purpose | None:
    return Purpose(name) if name else None


# What the CSMS checks before sending, by action (each after the action's schema).
CHECKS: dict[str, Callable[[Payload], None]] = {
    "SetChargingProfile": check_set_charging_profile,
    "ClearChargingProfile": check_clear_charging_profile,
    "GetChargingProfiles": check_get_charging_profiles,
    "GetCompositeSchedule": check_get_composite_schedule,
}


def charging_need(payload: Payload) -> Payload:
    """A NotifyEVChargingNeedsRequest in version-neutral terms: the most the EV can take,
    per phase in amperes (AC and DC) and in watts (DC, where the EV says so)."""
    needs = payload["chargingNeeds"]
    ac = needs.get("acChargingParameters")
    dc = needs.get("dcChargingParameters")
    need: Payload = {
        "evse_id": payload["evseId"],
        "requested_energy_transfer": needs["requestedEnergyTransfer"],
        "departure_time": needs.get("departureTime"),
        "max_current_a": None,
        "max_power_w": None,
        "energy_wh": None,
    }
    if ac is not None:
        need.update(max_current_a=ac["evMaxCurrent"], energy_wh=ac["energyAmount"])
    elif dc is not None:
        power = dc.get("evMaxPower")
        if power is None:
            power = dc["evMaxCurrent"] * dc["evMaxVoltage"]
        need.update(max_current_a=dc["evMaxCurrent"], max_power_w=power,
                    energy_wh=dc.get("energyAmount"))
    return need


class SmartCharging201:
    """`on_site(tenant_id, charge_point_id)`: whether the charger belongs to a site whose
    limit the CSMS divides; without it, every charger is taken to (the needs are recorded
    either way and used when it is)."""

    def __init__(
        self,
        parts: CentralSystemParts,
        on_site: Callable[[str, str], bool] | None = None,
    ) -> None:
        self._charging = parts.charging
        self._on_site = on_site

    def handlers(self) -> dict[str, Handler]:
        return {
            "NotifyChargingLimit": self.on_notify_charging_limit,
            "ClearedChargingLimit": self.on_cleared_charging_limit,
            "ReportChargingProfiles": self.on_report_charging_profiles,
            "NotifyEVChargingNeeds": self.on_notify_ev_charging_needs,
        }

    def _notify(self, ctx: CallContext, kind: str, payload: Payload) -> None:
        self._charging.notification(
            ctx.tenant_id, ctx.charge_point_id, kind, payload, ctx.received_at
        )

    def on_notify_charging_limit(self, ctx: CallContext, payload: Payload) -> Payload:
        # K12: an external system limits the station; the operator sees it on the charger.
        self._notify(ctx, "charging_limit", payload)
        return {}

    def on_cleared_charging_limit(self, ctx: CallContext, payload: Payload) -> Payload:
        self._notify(ctx, "charging_limit_cleared", payload)
        return {}

    def on_report_charging_profiles(self, ctx: CallContext, payload: Payload) -> Payload:
        # The answer to GetChargingProfiles, stored with each profile also in neutral
        # terms (a profile the rules would refuse is still what the charger has).
        evse_id = payload["evseId"]
        profiles = []
        for reported in payload["chargingProfile"]:
            profile = parse_profile(reported, evse_id)
            profiles.append({
                "id": profile.profile_id, "evse_id": evse_id,
                "purpose": profile.purpose.value, "stack_level": profile.stack_level,
                "transaction_id": profile.transaction_id,
            })
        self._notify(ctx, "charging_profiles_report", dict(payload, profiles=profiles))
        return {}

    def on_notify_ev_charging_needs(self, ctx: CallContext, payload: Payload) -> Payload:
        self._notify(ctx, "ev_charging_needs", payload)
        self._notify(ctx, CHARGING_NEED, charging_need(payload))
        if self._on_site is not None and not self._on_site(ctx.tenant_id, ctx.charge_point_id):
            # No schedule will follow for a charger no site limit governs.
            return {"status": "Rejected",
                    "statusInfo": {"reasonCode": "NoSmartCharging",
                                   "additionalInfo": "the charger belongs to no site"}}
        # The site limit controller sends a TxProfile honouring the needs (from the
        # event worker, so this answer is not held up).
        return {"status": "Accepted"}


def handlers(
    parts: CentralSystemParts, on_site: Callable[[str, str], bool] | None = None
) -> dict[str, Handler]:
    return SmartCharging201(parts, on_site).handlers()
