"""Charging profiles: the spec's rules on version-neutral profiles, and each version's
payloads parsed into them and built back (the built payloads pass the version's schema)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from csms.domain import charging_profiles as cp
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
    check_against,
    check_criteria,
)
from csms.protocol.errors import OcppError
from csms.versions import v16, v201
from csms.versions.v16 import charging_profiles as p16
from csms.versions.v201 import charging_profiles as p201
from csms.versions.v201 import smart_charging

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
RELATIVE = (Schedule(RateUnit.AMPERES, (SchedulePeriod(0, 16.0),)),)


def tx(**changes) -> ChargingProfile:
    profile = ChargingProfile(
        profile_id=1, stack_level=0, purpose=Purpose.TX, kind=Kind.RELATIVE, evse_id=1,
        schedules=RELATIVE, transaction_id="tx-1",
    )
    return replace(profile, **changes)


def broken(profile: ChargingProfile, **kwargs) -> str:
    with pytest.raises(ProfileRuleBroken) as raised:
        check(profile, **kwargs)
    return raised.value.rule


def test_a_plain_tx_profile_is_fine():
    check(tx(), now=NOW, max_stack_level=3)


@pytest.mark.parametrize(
    ("profile", "rule"),
    [
        (tx(stack_level=-1), cp.STACK_LEVEL),
        (tx(transaction_id=None), cp.TX_PROFILE_NEEDS_TRANSACTION),
        (tx(evse_id=0), cp.TX_PROFILE_ON_AN_EVSE),
        (tx(evse_id=-1), cp.TX_PROFILE_ON_AN_EVSE),
        (tx(purpose=Purpose.TX_DEFAULT), cp.TRANSACTION_ONLY_FOR_TX_PROFILE),
        (tx(purpose=Purpose.CHARGING_STATION_MAX, transaction_id=None), cp.STATION_MAX_ON_EVSE_0),
        (tx(purpose=Purpose.EXTERNAL_CONSTRAINTS, transaction_id=None, evse_id=0),
         cp.EXTERNAL_CONSTRAINTS_NOT_SET),
        (tx(valid_from=NOW, valid_to=NOW), cp.VALIDITY),
        (tx(valid_to=NOW - timedelta(seconds=1)), cp.VALIDITY),
        (tx(kind=Kind.RECURRING), cp.KIND),
        (tx(recurrency=Recurrency.DAILY), cp.KIND),
        (tx(kind=Kind.ABSOLUTE), cp.KIND),
        (tx(schedules=(Schedule(RateUnit.AMPERES, (SchedulePeriod(0, 1),), start_schedule=NOW),)),
         cp.KIND),
        (tx(schedules=()), cp.SCHEDULE),
        (tx(schedules=RELATIVE * 4), cp.SCHEDULE),
        (tx(schedules=(Schedule(RateUnit.AMPERES, ()),)), cp.SCHEDULE),
        (tx(schedules=(Schedule(RateUnit.AMPERES, (SchedulePeriod(10, 1),)),)), cp.SCHEDULE),
        (tx(schedules=(Schedule(RateUnit.WATTS, (SchedulePeriod(0, 1), SchedulePeriod(0, 2))),)),
         cp.SCHEDULE),
        (tx(schedules=(Schedule(RateUnit.AMPERES, (SchedulePeriod(0, -1),)),)), cp.SCHEDULE),
        (tx(schedules=(Schedule(RateUnit.AMPERES, (SchedulePeriod(0, 6, 4),)),)), cp.SCHEDULE),
        (tx(schedules=(Schedule(RateUnit.AMPERES, (SchedulePeriod(0, 6, 3, 1),)),)), cp.SCHEDULE),
        (tx(schedules=(Schedule(RateUnit.AMPERES, (SchedulePeriod(0, 6),), duration=-1),)),
         cp.SCHEDULE),
    ],
)
def test_each_rule(profile, rule):
    assert broken(profile, now=NOW) == rule


def test_the_stations_highest_stack_level():
    assert broken(tx(stack_level=4), max_stack_level=3) == cp.STACK_LEVEL
    check(tx(stack_level=3), max_stack_level=3)


def test_absolute_and_recurring_profiles_start_somewhere():
    absolute = (Schedule(RateUnit.WATTS, (SchedulePeriod(0, 11000),), start_schedule=NOW),)
    station_max = tx(purpose=Purpose.CHARGING_STATION_MAX, transaction_id=None, evse_id=0,
                     kind=Kind.ABSOLUTE, schedules=absolute)
    check(station_max)
    check(replace(station_max, kind=Kind.RECURRING, recurrency=Recurrency.WEEKLY))


def test_validity_in_the_future_or_open_is_fine():
    check(tx(valid_from=NOW + timedelta(hours=1), valid_to=NOW + timedelta(hours=2)), now=NOW)
    check(tx(valid_from=NOW - timedelta(days=1)), now=NOW)


def test_two_profiles_with_one_purpose_and_stack_level_on_an_evse():
    default = tx(purpose=Purpose.TX_DEFAULT, transaction_id=None)
    with pytest.raises(ProfileRuleBroken) as raised:
        check_against(replace(default, profile_id=2), [default])
    assert raised.value.rule == cp.DUPLICATE_STACK_LEVEL
    # The same id replaces it; another stack level, evse or purpose is fine.
    check_against(replace(default, stack_level=0), [default])
    check_against(replace(default, profile_id=2, stack_level=1), [default])
    check_against(replace(default, profile_id=2, evse_id=2), [default])
    check_against(replace(default, profile_id=2, purpose=Purpose.TX, transaction_id="t"),
                  [default])


def test_duplicates_need_overlapping_validity_and_for_tx_profiles_one_transaction():
    morning = tx(purpose=Purpose.TX_DEFAULT, transaction_id=None, valid_from=NOW,
                 valid_to=NOW + timedelta(hours=4))
    afternoon = replace(morning, profile_id=2, valid_from=NOW + timedelta(hours=4),
                        valid_to=NOW + timedelta(hours=8))
    check_against(afternoon, [morning])
    with pytest.raises(ProfileRuleBroken):
        check_against(replace(afternoon, valid_from=NOW + timedelta(hours=3)), [morning])
    check_against(tx(profile_id=2, transaction_id="tx-2"), [tx()])
    with pytest.raises(ProfileRuleBroken):
        check_against(tx(profile_id=2), [tx()])


def test_criteria():
    check_criteria(Purpose.CHARGING_STATION_MAX, 0, 2)
    check_criteria(None, None, None)
    for args in [(None, None, -1), (None, -1, None), (Purpose.CHARGING_STATION_MAX, 1, None)]:
        with pytest.raises(ProfileRuleBroken):
            check_criteria(*args)


# OCPP 1.6

SET_16 = {
    "connectorId": 2,
    "csChargingProfiles": {
        "chargingProfileId": 7, "transactionId": 42, "stackLevel": 1,
        "chargingProfilePurpose": "TxProfile", "chargingProfileKind": "Relative",
        "chargingSchedule": {"chargingRateUnit": "A", "duration": 3600,
                             "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0},
                                                        {"startPeriod": 600, "limit": 10.5,
                                                         "numberPhases": 3}]},
    },
}


def test_v16_round_trip():
    profile = p16.parse_set_request(SET_16)
    assert (profile.evse_id, profile.transaction_id, profile.purpose) == (2, "42", Purpose.TX)
    assert profile.schedules[0].periods[1] == SchedulePeriod(600, 10.5, 3)
    assert p16.build_set_request(profile) == SET_16
    v16.plugin().schemas.validate_request("SetChargingProfile", p16.build_set_request(profile))


def test_v16_charge_point_max_profile_is_the_station_max():
    payload = {"connectorId": 0, "csChargingProfiles": {
        "chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": "ChargePointMaxProfile",
        "chargingProfileKind": "Absolute", "validFrom": "2026-11-23T00:00:00.000Z",
        "chargingSchedule": {"chargingRateUnit": "W", "startSchedule": "2026-11-23T00:00:00.000Z",
                             "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 22000}]}}}
    profile = p16.parse_set_request(payload)
    assert profile.purpose is Purpose.CHARGING_STATION_MAX
    assert p16.build_set_request(profile)["csChargingProfiles"]["chargingProfilePurpose"] == (
        "ChargePointMaxProfile")
    p16.check_set_request(payload)


def test_v16_checks_refuse_with_the_rule():
    wrong = {"connectorId": 1, "csChargingProfiles": dict(
        SET_16["csChargingProfiles"], chargingProfilePurpose="ChargePointMaxProfile")}
    with pytest.raises(OcppError) as raised:
        p16.check_set_request(wrong)
    assert "transaction_only_for_tx_profile" in raised.value.description
    # 1.6 lets a TxProfile leave its transaction out: the connector's is meant.
    open_tx = {"connectorId": 1, "csChargingProfiles": {
        k: v for k, v in SET_16["csChargingProfiles"].items() if k != "transactionId"}}
    p16.check_set_request(open_tx)


# OCPP 2.0.1

SET_201 = {
    "evseId": 1,
    "chargingProfile": {
        "id": 3, "stackLevel": 2, "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Relative", "transactionId": "abc-1",
        "validTo": "2030-01-01T00:00:00.000Z",
        "chargingSchedule": [{"id": 1, "chargingRateUnit": "W", "minChargingRate": 1380.0,
                              "chargingSchedulePeriod": [
                                  {"startPeriod": 0, "limit": 7400.0, "numberPhases": 1,
                                   "phaseToUse": 2}]}],
    },
}


def test_v201_round_trip():
    profile = p201.parse_set_request(SET_201)
    assert (profile.evse_id, profile.transaction_id, profile.stack_level) == (1, "abc-1", 2)
    assert profile.valid_to == datetime(2030, 1, 1, tzinfo=UTC)
    assert p201.build_set_request(profile) == SET_201
    v201.plugin().schemas.validate_request("SetChargingProfile", p201.build_set_request(profile))


def test_v201_schedules_without_ids_are_numbered():
    built = p201.build_profile(tx(schedules=RELATIVE * 2))
    assert [s["id"] for s in built["chargingSchedule"]] == [1, 2]


def test_v201_checks_before_sending():
    smart_charging.check_set_charging_profile(SET_201, now=NOW)
    no_tx = {"evseId": 1, "chargingProfile": {
        k: v for k, v in SET_201["chargingProfile"].items() if k != "transactionId"}}
    with pytest.raises(OcppError) as raised:
        smart_charging.check_set_charging_profile(no_tx, now=NOW)
    assert raised.value.description.startswith("tx_profile_needs_transaction")
    expired = {"evseId": 1, "chargingProfile": dict(SET_201["chargingProfile"],
                                                    validTo="2020-01-01T00:00:00Z")}
    with pytest.raises(OcppError, match="validity"):
        smart_charging.check_set_charging_profile(expired, now=NOW)


@pytest.mark.parametrize(
    ("action", "payload", "fine"),
    [
        ("ClearChargingProfile", {"chargingProfileId": 3}, True),
        ("ClearChargingProfile", {"chargingProfileCriteria": {
            "chargingProfilePurpose": "ChargingStationExternalConstraints"}}, False),
        ("ClearChargingProfile", {"chargingProfileCriteria": {
            "chargingProfilePurpose": "ChargingStationMaxProfile", "evseId": 1}}, False),
        ("ClearChargingProfile", {"chargingProfileCriteria": {"stackLevel": -1}}, False),
        ("GetChargingProfiles", {"requestId": 1, "chargingProfile": {
            "chargingProfilePurpose": "TxProfile"}}, True),
        ("GetChargingProfiles", {"requestId": 1, "evseId": 2, "chargingProfile": {
            "chargingProfilePurpose": "ChargingStationMaxProfile"}}, False),
        ("GetCompositeSchedule", {"duration": 3600, "evseId": 1}, True),
        ("GetCompositeSchedule", {"duration": 0, "evseId": 1}, False),
        ("GetCompositeSchedule", {"duration": 60, "evseId": -1}, False),
    ],
)
def test_v201_checks_of_the_other_commands(action, payload, fine):
    v201.plugin().schemas.validate_request(action, payload)
    if fine:
        smart_charging.CHECKS[action](payload)
    else:
        with pytest.raises(OcppError):
            smart_charging.CHECKS[action](payload)


def test_ev_charging_needs_in_neutral_terms():
    ac = {"evseId": 1, "chargingNeeds": {"requestedEnergyTransfer": "AC_three_phase",
          "acChargingParameters": {"energyAmount": 20000, "evMinCurrent": 6,
                                   "evMaxCurrent": 16, "evMaxVoltage": 400}}}
    assert smart_charging.charging_need(ac) | {} == {
        "evse_id": 1, "requested_energy_transfer": "AC_three_phase", "departure_time": None,
        "max_current_a": 16, "max_power_w": None, "energy_wh": 20000}
    dc = {"evseId": 2, "chargingNeeds": {"requestedEnergyTransfer": "DC",
          "dcChargingParameters": {"evMaxCurrent": 200, "evMaxVoltage": 400}}}
    assert smart_charging.charging_need(dc)["max_power_w"] == 80000


# The 2.0.1 handlers of the charger's smart charging messages


class Notifications:
    """The part of the ChargingService the handlers use."""

    def __init__(self) -> None:
        self.stored: list[tuple[str, dict]] = []

    def notification(self, tenant_id, charge_point_id, kind, data, now) -> None:
        self.stored.append((kind, data))


def smart_handlers(on_site=None):
    from types import SimpleNamespace

    charging = Notifications()
    return smart_charging.handlers(SimpleNamespace(charging=charging), on_site), charging


def context():
    from csms.protocol.router import CallContext

    return CallContext("CP201", "t", "conn", "m-1", NOW)


NEEDS = {"evseId": 1, "chargingNeeds": {"requestedEnergyTransfer": "AC_three_phase",
         "acChargingParameters": {"energyAmount": 20000, "evMinCurrent": 6,
                                  "evMaxCurrent": 16, "evMaxVoltage": 400}}}


def test_ev_charging_needs_are_stored_twice_and_accepted_on_a_site():
    handlers, charging = smart_handlers(on_site=lambda tenant, cp: cp == "CP201")
    v201.plugin().schemas.validate_request("NotifyEVChargingNeeds", NEEDS)
    answer = handlers["NotifyEVChargingNeeds"](context(), NEEDS)
    assert answer == {"status": "Accepted"}
    v201.plugin().schemas.validate_response("NotifyEVChargingNeeds", answer)
    assert [kind for kind, _ in charging.stored] == ["ev_charging_needs", "charging_need"]
    assert charging.stored[1][1]["max_current_a"] == 16


def test_ev_charging_needs_off_a_site_are_refused_with_a_reason():
    handlers, _ = smart_handlers(on_site=lambda tenant, cp: False)
    answer = handlers["NotifyEVChargingNeeds"](context(), NEEDS)
    assert answer["status"] == "Rejected"
    assert answer["statusInfo"]["reasonCode"] == "NoSmartCharging"
    v201.plugin().schemas.validate_response("NotifyEVChargingNeeds", answer)


def test_the_stored_need_becomes_a_trigger_of_the_site_limit():
    from csms.domain.model import Notified
    from csms.services.record_applier import Decoded, triggers
    from csms.services.site_limit import Need, Trigger

    handlers, charging = smart_handlers()
    handlers["NotifyEVChargingNeeds"](context(), NEEDS)
    kind, data = charging.stored[1]
    decoded = Decoded("e", "t", "CP201", changes=[Notified("CP201", kind, data, NOW, "e:0")])
    assert triggers([decoded]) == [Trigger("CP201", Need("CP201", 1, NOW, 16, None))]


@pytest.mark.parametrize(
    ("action", "payload", "kind"),
    [
        ("NotifyChargingLimit", {"chargingLimit": {"chargingLimitSource": "EMS",
                                                   "isGridCritical": True}}, "charging_limit"),
        ("ClearedChargingLimit", {"chargingLimitSource": "SO", "evseId": 1},
         "charging_limit_cleared"),
        ("ReportChargingProfiles", {"requestId": 4, "chargingLimitSource": "CSO", "evseId": 1,
                                    "chargingProfile": [SET_201["chargingProfile"]]},
         "charging_profiles_report"),
    ],
)
def test_limits_and_reports_are_stored_and_acknowledged(action, payload, kind):
    handlers, charging = smart_handlers()
    v201.plugin().schemas.validate_request(action, payload)
    answer = handlers[action](context(), payload)
    v201.plugin().schemas.validate_response(action, answer)
    assert [k for k, _ in charging.stored] == [kind]
    if action == "ReportChargingProfiles":
        assert charging.stored[0][1]["profiles"] == [{
            "id": 3, "evse_id": 1, "purpose": "TxProfile", "stack_level": 2,
            "transaction_id": "abc-1"}]
