"""OCPP 1.6 csChargingProfiles payloads to and from the version-neutral profiles of
csms.domain.charging_profiles. 1.6 names the station's limit ChargePointMaxProfile, numbers
transactions with integers, has one schedule per profile and puts the profile on a
connector (connector n is evse n; 0 is the charge point)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from csms.domain.charging_profiles import (
    ChargingProfile,
    Kind,
    ProfileRuleBroken,
    Purpose,
    RateUnit,
    Recurrency,
    Schedule,
    SchedulePeriod,
    check,
)
from csms.protocol.errors import ErrorKind, OcppError
from csms.protocol.timestamps import format_timestamp, parse_timestamp

Payload = dict[str, Any]

CHARGE_POINT_MAX_PROFILE = "ChargePointMaxProfile"


def purpose_of(name: str) -> Purpose:
    return Purpose.CHARGING_STATION_MAX if name == CHARGE_POINT_MAX_PROFILE else Purpose(name)


def name_of(purpose: Purpose) -> str:
    if purpose is Purpose.CHARGING_STATION_MAX:
        return CHARGE_POINT_MAX_PROFILE
    if purpose is Purpose.EXTERNAL_CONSTRAINTS:
        raise ValueError("OCPP 1.6 has no ChargingStationExternalConstraints profiles")
    return purpose.value


def parse_profile(profile: Payload, connector_id: int) -> ChargingProfile:
    schedule = profile["chargingSchedule"]
    recurrency = profile.get("recurrencyKind")
    transaction_id = profile.get("transactionId")
    start = schedule.get("startSchedule")
    return ChargingProfile(
        profile_id=int(profile["chargingProfileId"]),
        stack_level=int(profile["stackLevel"]),
        purpose=purpose_of(profile["chargingProfilePurpose"]),
        kind=Kind(profile["chargingProfileKind"]),
        evse_id=connector_id,
        schedules=(
            Schedule(
                unit=RateUnit(schedule["chargingRateUnit"]),
                periods=tuple(
                    SchedulePeriod(int(p["startPeriod"]), float(p["limit"]), p.get("numberPhases"))
                    for p in schedule["chargingSchedulePeriod"]
                ),
                duration=schedule.get("duration"),
                start_schedule=parse_timestamp(start) if start else None,
                min_charging_rate=schedule.get("minChargingRate"),
            ),
        ),
        transaction_id=None if transaction_id is None else str(transaction_id),
        recurrency=Recurrency(recurrency) if recurrency else None,
        valid_from=_moment(profile.get("validFrom")),
        valid_to=_moment(profile.get("validTo")),
    )


def _moment(value: str | None) -> Any:
    return parse_timestamp(value) if value else None


def parse_set_request(payload: Payload) -> ChargingProfile:
    return parse_profile(payload["csChargingProfiles"], int(payload["connectorId"]))


def build_profile(profile: ChargingProfile) -> Payload:
    """csChargingProfiles of a SetChargingProfile.req; a 1.6 profile has one schedule."""
    if len(profile.schedules) != 1:
        raise ValueError("an OCPP 1.6 profile has exactly one charging schedule")
    [schedule] = profile.schedules
    periods = []
    for p in schedule.periods:
        period: Payload = {"startPeriod": p.start_period, "limit": p.limit}
        if p.number_phases is not None:
            period["numberPhases"] = p.number_phases
        periods.append(period)
    built_schedule: Payload = {
        "chargingRateUnit": schedule.unit.value,
        "chargingSchedulePeriod": periods,
    }
    if schedule.duration is not None:
        built_schedule["duration"] = schedule.duration
    if schedule.start_schedule is not None:
        built_schedule["startSchedule"] = format_timestamp(schedule.start_schedule)
    if schedule.min_charging_rate is not None:
        built_schedule["minChargingRate"] = schedule.min_charging_rate
    built: Payload = {
        "chargingProfileId": profile.profile_id,
        "stackLevel": profile.stack_level,
        "chargingProfilePurpose": name_of(profile.purpose),
        "chargingProfileKind": profile.kind.value,
        "chargingSchedule": built_schedule,
    }
    if profile.transaction_id is not None:
        built["transactionId"] = int(profile.transaction_id)
    if profile.recurrency is not None:
        built["recurrencyKind"] = profile.recurrency.value
    if profile.valid_from is not None:
        built["validFrom"] = format_timestamp(profile.valid_from)
    if profile.valid_to is not None:
        built["validTo"] = format_timestamp(profile.valid_to)
    return built


def build_set_request(profile: ChargingProfile) -> Payload:
    return {"connectorId": profile.evse_id, "csChargingProfiles": build_profile(profile)}


def check_set_request(payload: Payload) -> None:
    """The spec's rules on a schema-valid SetChargingProfile.req, as an OcppError (the
    tenant API answers it 422). 1.6 lets a TxProfile omit its transaction (the one
    running on the connector is meant), so that rule is left to the charge point."""
    profile = parse_set_request(payload)
    try:
        if profile.purpose is Purpose.TX and profile.transaction_id is None:
            # Any id stands in for the running transaction: the other rules still apply.
            profile = replace(profile, transaction_id="")
        check(profile, max_schedules=1, absolute_needs_start=False)
    except ProfileRuleBroken as broken:
        raise OcppError(ErrorKind.PROPERTY_CONSTRAINT_VIOLATION, str(broken)) from None


# What the CSMS checks before sending, by action (the schema comes first).
CHECKS = {"SetChargingProfile": check_set_request}
