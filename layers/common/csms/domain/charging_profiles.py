"""Charging profiles (smart charging, OCPP 1.6 section 3.13 and 2.0.1 block K) as
version-neutral values, and the rules a profile must meet before it is sent.

Each version package parses its own payloads into these values and builds its own
SetChargingProfile payloads back from them; the rules are the same for both, so they live
here. An EVSE is numbered as in 2.0.1; a 1.6 connector n is EVSE n, and 0 is the whole
charging station in both.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Purpose(StrEnum):
    # 1.6 calls it ChargePointMaxProfile; its parser maps the name.
    CHARGING_STATION_MAX = "ChargingStationMaxProfile"
    TX_DEFAULT = "TxDefaultProfile"
    TX = "TxProfile"
    # 2.0.1 only: limits an external system (an energy management system) set on the
    # station; the station reports them, the CSMS never sets them.
    EXTERNAL_CONSTRAINTS = "ChargingStationExternalConstraints"


class Kind(StrEnum):
    ABSOLUTE = "Absolute"
    RECURRING = "Recurring"
    RELATIVE = "Relative"


class Recurrency(StrEnum):
    DAILY = "Daily"
    WEEKLY = "Weekly"


class RateUnit(StrEnum):
    AMPERES = "A"
    WATTS = "W"


@dataclass(frozen=True)
class SchedulePeriod:
    """From `start_period` seconds after the schedule's start, at most `limit` (in the
    schedule's unit; amperes are per phase)."""

    start_period: int
    limit: float
    number_phases: int | None = None
    phase_to_use: int | None = None  # 2.0.1 only


@dataclass(frozen=True)
class Schedule:
    unit: RateUnit
    periods: tuple[SchedulePeriod, ...]
    duration: int | None = None
    start_schedule: datetime | None = None
    min_charging_rate: float | None = None
    schedule_id: int | None = None  # 2.0.1 numbers its schedules; 1.6 has one, unnumbered


@dataclass(frozen=True)
class ChargingProfile:
    profile_id: int
    stack_level: int
    purpose: Purpose
    kind: Kind
    evse_id: int
    schedules: tuple[Schedule, ...]
    transaction_id: str | None = None
    recurrency: Recurrency | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None


@dataclass(frozen=True)
class ProfileCriteria:
    """Which installed profiles a ClearChargingProfile selects: those matching every
    criterion given (none given: all of the charger's)."""

    profile_id: int | None = None
    evse_id: int | None = None
    purpose: Purpose | None = None
    stack_level: int | None = None

    def matches(self, profile: ChargingProfile) -> bool:
        return all(wanted is None or wanted == found for wanted, found in (
            (self.profile_id, profile.profile_id),
            (self.evse_id, profile.evse_id),
            (self.purpose, profile.purpose),
            (self.stack_level, profile.stack_level),
        ))


class ProfileRuleBroken(ValueError):
    """A profile the spec forbids; `rule` names the rule, the message says why."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(f"{rule}: {message}")
        self.rule = rule
        self.message = message


# Rule names, as the tenant API reports them.
STACK_LEVEL = "stack_level"
TX_PROFILE_NEEDS_TRANSACTION = "tx_profile_needs_transaction"
TRANSACTION_ONLY_FOR_TX_PROFILE = "transaction_only_for_tx_profile"
TX_PROFILE_ON_AN_EVSE = "tx_profile_on_an_evse"
STATION_MAX_ON_EVSE_0 = "station_max_on_evse_0"
EXTERNAL_CONSTRAINTS_NOT_SET = "external_constraints_not_set_by_csms"
VALIDITY = "validity"
KIND = "kind"
SCHEDULE = "schedule"
DUPLICATE_STACK_LEVEL = "duplicate_stack_level"


def check(
    profile: ChargingProfile,
    now: datetime | None = None,
    max_stack_level: int | None = None,
    max_schedules: int = 3,
    absolute_needs_start: bool = True,
) -> None:
    """Raise ProfileRuleBroken for the first rule `profile` breaks. `now` checks that the
    profile is still valid; `max_stack_level` is the station's ChargingProfileMaxStackLevel
    (1.6) or SmartChargingCtrlr.ProfileStackLevel (2.0.1) when known. 1.6 lets an
    Absolute schedule omit startSchedule (it then starts with charging):
    `absolute_needs_start=False`."""
    if profile.stack_level < 0 or (
        max_stack_level is not None and profile.stack_level > max_stack_level
    ):
        upper = "" if max_stack_level is None else f" and at most {max_stack_level}"
        raise ProfileRuleBroken(STACK_LEVEL, f"stackLevel must be at least 0{upper}")
    if profile.evse_id < 0:
        raise ProfileRuleBroken(TX_PROFILE_ON_AN_EVSE, "the evse (connector) id must be >= 0")
    if profile.purpose is Purpose.EXTERNAL_CONSTRAINTS:
        raise ProfileRuleBroken(
            EXTERNAL_CONSTRAINTS_NOT_SET,
            "ChargingStationExternalConstraints profiles are set by external systems only",
        )
    if profile.purpose is Purpose.TX:
        if profile.transaction_id is None:
            # Without a transaction the station cannot know which session it limits.
            raise ProfileRuleBroken(
                TX_PROFILE_NEEDS_TRANSACTION, "a TxProfile needs the transaction it limits"
            )
        if profile.evse_id == 0:
            raise ProfileRuleBroken(
                TX_PROFILE_ON_AN_EVSE, "a TxProfile applies to an evse (connector) > 0"
            )
    elif profile.transaction_id is not None:
        raise ProfileRuleBroken(
            TRANSACTION_ONLY_FOR_TX_PROFILE, "only a TxProfile names a transaction"
        )
    if profile.purpose is Purpose.CHARGING_STATION_MAX and profile.evse_id != 0:
        raise ProfileRuleBroken(
            STATION_MAX_ON_EVSE_0,
            "a ChargingStationMaxProfile (ChargePointMaxProfile) applies to evse 0 only",
        )
    _check_validity(profile, now)
    _check_kind(profile, absolute_needs_start)
    if not 1 <= len(profile.schedules) <= max_schedules:
        raise ProfileRuleBroken(SCHEDULE, f"1 to {max_schedules} charging schedules")
    for schedule in profile.schedules:
        _check_schedule(schedule)


def _check_validity(profile: ChargingProfile, now: datetime | None) -> None:
    start, end = profile.valid_from, profile.valid_to
    if start is not None and end is not None and end <= start:
        raise ProfileRuleBroken(VALIDITY, "validTo must be after validFrom")
    if now is not None and end is not None and end <= now:
        # A profile that has expired would be discarded at once: sending it is a mistake.
        raise ProfileRuleBroken(VALIDITY, "validTo is in the past")


def _check_kind(profile: ChargingProfile, absolute_needs_start: bool) -> None:
    if profile.kind is Kind.RECURRING and profile.recurrency is None:
        raise ProfileRuleBroken(KIND, "a Recurring profile needs its recurrencyKind")
    if profile.kind is not Kind.RECURRING and profile.recurrency is not None:
        raise ProfileRuleBroken(KIND, "recurrencyKind belongs to Recurring profiles only")
    for schedule in profile.schedules:
        if profile.kind is Kind.RELATIVE and schedule.start_schedule is not None:
            # Relative schedules start with the transaction: a start time contradicts it.
            raise ProfileRuleBroken(KIND, "a Relative profile's schedule has no startSchedule")
        needs_start = profile.kind is Kind.RECURRING or (
            profile.kind is Kind.ABSOLUTE and absolute_needs_start
        )
        if needs_start and schedule.start_schedule is None:
            raise ProfileRuleBroken(
                KIND, f"an {profile.kind.value} profile's schedule needs its startSchedule"
            )


def _check_schedule(schedule: Schedule) -> None:
    if not schedule.periods:
        raise ProfileRuleBroken(SCHEDULE, "a schedule needs at least one period")
    if schedule.periods[0].start_period != 0:
        # A gap before the first period would leave the start of the schedule undefined.
        raise ProfileRuleBroken(SCHEDULE, "the first period starts at startPeriod 0")
    previous = -1
    for period in schedule.periods:
        if period.start_period <= previous:
            raise ProfileRuleBroken(SCHEDULE, "startPeriod values must increase")
        previous = period.start_period
        if period.limit < 0:
            raise ProfileRuleBroken(SCHEDULE, "a period's limit must be >= 0")
        if period.number_phases is not None and not 1 <= period.number_phases <= 3:
            raise ProfileRuleBroken(SCHEDULE, "numberPhases is 1, 2 or 3")
        if period.phase_to_use is not None and period.number_phases != 1:
            raise ProfileRuleBroken(SCHEDULE, "phaseToUse only with numberPhases 1")
    if schedule.duration is not None and schedule.duration < 0:
        raise ProfileRuleBroken(SCHEDULE, "duration must be >= 0")
    if schedule.min_charging_rate is not None and schedule.min_charging_rate < 0:
        raise ProfileRuleBroken(SCHEDULE, "minChargingRate must be >= 0")


def _overlap(a: ChargingProfile, b: ChargingProfile) -> bool:
    """Whether the validity periods of two profiles overlap (an unset bound is open)."""
    if a.valid_to is not None and b.valid_from is not None and a.valid_to <= b.valid_from:
        return False
    return not (b.valid_to is not None and a.valid_from is not None and b.valid_to <= a.valid_from)


def check_against(profile: ChargingProfile, installed: Iterable[ChargingProfile]) -> None:
    """No two profiles with the same purpose and stack level on one evse (for
    TxProfiles: one transaction) with overlapping validity, else the station could not
    tell which applies. A profile with the same id replaces the old one, so it does not
    count."""
    for other in installed:
        if other.profile_id == profile.profile_id:
            continue
        same_place = other.evse_id == profile.evse_id and other.purpose is profile.purpose
        if profile.purpose is Purpose.TX:
            same_place = same_place and other.transaction_id == profile.transaction_id
        if same_place and other.stack_level == profile.stack_level and _overlap(profile, other):
            raise ProfileRuleBroken(
                DUPLICATE_STACK_LEVEL,
                f"profile {other.profile_id} has purpose {profile.purpose.value} and stack "
                f"level {profile.stack_level} on evse {profile.evse_id} already",
            )


def check_criteria(
    purpose: Purpose | None, evse_id: int | None, stack_level: int | None
) -> None:
    """The rules of a Clear/GetChargingProfiles selection: it cannot name what no valid
    profile could be."""
    if stack_level is not None and stack_level < 0:
        raise ProfileRuleBroken(STACK_LEVEL, "stackLevel must be at least 0")
    if evse_id is not None and evse_id < 0:
        raise ProfileRuleBroken(TX_PROFILE_ON_AN_EVSE, "the evse id must be >= 0")
    if purpose is Purpose.CHARGING_STATION_MAX and evse_id not in (None, 0):
        raise ProfileRuleBroken(
            STATION_MAX_ON_EVSE_0, "a ChargingStationMaxProfile is on evse 0 only"
        )
