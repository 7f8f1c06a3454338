"""OCPP 2.0.1 ChargingProfileType payloads to and from the version-neutral profiles of
csms.domain.charging_profiles (which holds the rules they are checked against)."""

from __future__ import annotations

from typing import Any

from csms.domain.charging_profiles import (
    ChargingProfile,
    Kind,
    Purpose,
    RateUnit,
    Recurrency,
    Schedule,
    SchedulePeriod,
)
from csms.protocol.timestamps import format_timestamp, parse_timestamp

Payload = dict[str, Any]


def parse_profile(profile: Payload, evse_id: int) -> ChargingProfile:
    """A schema-valid chargingProfile, as set on `evse_id` (SetChargingProfile's evseId, or
    a ReportChargingProfiles report's)."""
    recurrency = profile.get("recurrencyKind")
    return ChargingProfile(
        profile_id=int(profile["id"]),
        stack_level=int(profile["stackLevel"]),
        purpose=Purpose(profile["chargingProfilePurpose"]),
        kind=Kind(profile["chargingProfileKind"]),
        evse_id=evse_id,
        schedules=tuple(_schedule(s) for s in profile["chargingSchedule"]),
        transaction_id=profile.get("transactionId"),
        recurrency=Recurrency(recurrency) if recurrency else None,
        valid_from=_moment(profile.get("validFrom")),
        valid_to=_moment(profile.get("validTo")),
    )


def parse_set_request(payload: Payload) -> ChargingProfile:
    return parse_profile(payload["chargingProfile"], int(payload["evseId"]))


def _moment(value: str | None) -> Any:
    return parse_timestamp(value) if value else None


def _schedule(schedule: Payload) -> Schedule:
    return Schedule(
        unit=RateUnit(schedule["chargingRateUnit"]),
        periods=tuple(
            SchedulePeriod(
                start_period=int(p["startPeriod"]),
                limit=float(p["limit"]),
                number_phases=p.get("numberPhases"),
                phase_to_use=p.get("phaseToUse"),
            )
            for p in schedule["chargingSchedulePeriod"]
        ),
        duration=schedule.get("duration"),
        start_schedule=_moment(schedule.get("startSchedule")),
        min_charging_rate=schedule.get("minChargingRate"),
        schedule_id=schedule.get("id"),
    )


def build_profile(profile: ChargingProfile) -> Payload:
    """The chargingProfile of a SetChargingProfileRequest."""
    built: Payload = {
        "id": profile.profile_id,
        "stackLevel": profile.stack_level,
        "chargingProfilePurpose": profile.purpose.value,
        "chargingProfileKind": profile.kind.value,
        "chargingSchedule": [
            _build_schedule(s, index) for index, s in enumerate(profile.schedules, start=1)
        ],
    }
    if profile.transaction_id is not None:
        built["transactionId"] = profile.transaction_id
    if profile.recurrency is not None:
        built["recurrencyKind"] = profile.recurrency.value
    if profile.valid_from is not None:
        built["validFrom"] = format_timestamp(profile.valid_from)
    if profile.valid_to is not None:
        built["validTo"] = format_timestamp(profile.valid_to)
    return built


def build_set_request(profile: ChargingProfile) -> Payload:
    return {"evseId": profile.evse_id, "chargingProfile": build_profile(profile)}


def _build_schedule(schedule: Schedule, number: int) -> Payload:
    periods = []
    for p in schedule.periods:
        period: Payload = {"startPeriod": p.start_period, "limit": p.limit}
        if p.number_phases is not None:
            period["numberPhases"] = p.number_phases
        if p.phase_to_use is not None:
            period["phaseToUse"] = p.phase_to_use
        periods.append(period)
    # 2.0.1 requires a schedule id; a profile's schedules are numbered from 1 if unset.
    built: Payload = {
        "id": schedule.schedule_id if schedule.schedule_id is not None else number,
        "chargingRateUnit": schedule.unit.value,
        "chargingSchedulePeriod": periods,
    }
    if schedule.duration is not None:
        built["duration"] = schedule.duration
    if schedule.start_schedule is not None:
        built["startSchedule"] = format_timestamp(schedule.start_schedule)
    if schedule.min_charging_rate is not None:
        built["minChargingRate"] = schedule.min_charging_rate
    return built
