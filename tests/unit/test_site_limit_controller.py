"""The site limit controller with in-memory sites, transactions and commands: who gets
which TxProfile in which version, lowering before raising, raises held back when a
lowering is refused, needs honoured, and runs of one site never overlapping."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from csms.domain.charger_transactions import ChargerTransaction
from csms.domain.charging_profiles import RateUnit
from csms.domain.commands import Command, CommandStatus
from csms.domain.model import AuthorizationStatus, Notified, Transaction
from csms.services.record_applier import Decoded, triggers
from csms.services.site_limit import Need, Share, Site, SiteLimitController, Trigger
from csms.versions.v16.charging_profiles import build_set_request as set_16
from csms.versions.v201.charging_profiles import build_set_request as set_201

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


class Sites:
    def __init__(self, *sites: Site) -> None:
        self.sites = {s.site_id: s for s in sites}
        self.saved: dict[str, list[Share]] = {}
        self.need_list: dict[tuple[str, int], Need] = {}
        self.dirty: set[str] = set()
        self.owner: dict[str, str] = {}
        self.on_lease = None  # a test's hook: another trigger arriving mid-run

    def get(self, site_id):
        return self.sites.get(site_id)

    def site_of(self, cp):
        return next((s for s in self.sites.values() if cp in s.charge_point_ids), None)

    def shares(self, site_id):
        return list(self.saved.get(site_id, []))

    def save_shares(self, site_id, shares):
        self.saved[site_id] = list(shares)

    def record_need(self, need):
        self.need_list[(need.charge_point_id, need.evse_id)] = need

    def needs(self, cps):
        return [n for n in self.need_list.values() if n.charge_point_id in cps]

    def mark_dirty(self, site_id):
        self.dirty.add(site_id)

    def lease(self, site_id, owner, until, now):
        if self.owner.get(site_id, owner) != owner:
            return False
        self.owner[site_id] = owner
        return True

    def take_dirty(self, site_id, owner):
        if self.owner.get(site_id) != owner or site_id not in self.dirty:
            return False
        self.dirty.discard(site_id)
        if self.on_lease is not None:
            hook, self.on_lease = self.on_lease, None
            hook()
        return True

    def is_dirty(self, site_id):
        return site_id in self.dirty

    def release(self, site_id, owner):
        if self.owner.get(site_id) == owner:
            del self.owner[site_id]


@dataclass
class Data:
    transactions_16: list[Transaction] = field(default_factory=list)
    transactions_201: list[ChargerTransaction] = field(default_factory=list)

    @property
    def transactions(self):
        data = self

        class Active:
            def active(self, charge_point_id=None, **_):
                return [t for t in data.transactions_16 if t.charge_point_id == charge_point_id
                        and t.active]
        return Active()

    @property
    def charger_transactions(self):
        data = self

        class Active:
            def active(self, charge_point_id=None, **_):
                return [t for t in data.transactions_201
                        if t.charge_point_id == charge_point_id and t.active]
        return Active()


class Store:
    def __init__(self) -> None:
        self.data = Data()

    def for_tenant(self, tenant_id):
        return self.data


class Commands:
    def __init__(self, versions: dict[str, str]) -> None:
        self.versions = versions
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.answer: dict[str, CommandStatus] = {}  # by charger; default completed
        self.log: list[str] = []

    def version_of(self, cp):
        return self.versions[cp]

    def submit(self, tenant_id, cp, action, payload, queue_if_offline=False):
        assert action == "SetChargingProfile"
        self.sent.append((cp, payload))
        self.log.append(f"submit {cp}")
        return Command(f"c{len(self.sent)}", cp, action, payload, CommandStatus.QUEUED, T0,
                       T0 + timedelta(minutes=1))

    def wait(self, tenant_id, command_id, seconds):
        index = int(command_id[1:]) - 1
        cp, payload = self.sent[index]
        self.log.append(f"wait {cp}")
        status = self.answer.get(cp, CommandStatus.COMPLETED)
        return Command(command_id, cp, "SetChargingProfile", payload, status, T0, T0)


def tx16(cp, connector, tx_id, minutes):
    return Transaction(tx_id, cp, connector, "TAG", 0, T0 + timedelta(minutes=minutes),
                       AuthorizationStatus.ACCEPTED)


def tx201(cp, evse, tx_id, minutes):
    return ChargerTransaction(cp, tx_id, T0 + timedelta(minutes=minutes), T0, evse_id=evse)


SITE = Site("depot", "Depot", 32.0, RateUnit.AMPERES, ("CP16", "CP201"))


def controller(sites=None, versions=None):
    sites = sites or Sites(SITE)
    store = Store()
    commands = Commands(versions or {"CP16": "ocpp1.6", "CP201": "ocpp2.0.1"})
    ctl = SiteLimitController(
        sites=lambda tenant: sites, store=store, commands=commands,
        requests={"ocpp1.6": set_16, "ocpp2.0.1": set_201}, clock=lambda: T0,
    )
    return ctl, sites, store.data, commands


def limits(commands) -> list[tuple[str, float]]:
    out = []
    for cp, payload in commands.sent:
        if "csChargingProfiles" in payload:
            profile = payload["csChargingProfiles"]
            limit = profile["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"]
        else:
            profile = payload["chargingProfile"]
            limit = profile["chargingSchedule"][0]["chargingSchedulePeriod"][0]["limit"]
        out.append((cp, limit))
    return out


def test_a_charger_in_no_site_changes_nothing():
    ctl, _, _, commands = controller()
    assert ctl.on_stored("t", [Trigger("ELSEWHERE")]) == []
    assert commands.sent == []


def test_the_first_session_gets_the_whole_limit_in_its_version():
    ctl, sites, data, commands = controller()
    data.transactions_16.append(tx16("CP16", 1, 41, 0))
    [outcome] = ctl.on_stored("t", [Trigger("CP16")])
    assert outcome.shares == {"CP16|1|41": 32.0}
    [(_cp, payload)] = commands.sent
    assert payload == {"connectorId": 1, "csChargingProfiles": {
        "chargingProfileId": 7_000_001, "stackLevel": 1, "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Relative", "transactionId": 41,
        "chargingSchedule": {"chargingRateUnit": "A",
                             "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 32.0}]}}}
    assert [(s.key, s.limit) for s in sites.saved["depot"]] == [("CP16|1|41", 32.0)]


def test_a_second_session_lowers_the_first_before_its_own_share():
    ctl, _sites, data, commands = controller()
    data.transactions_16.append(tx16("CP16", 1, 41, 0))
    ctl.on_stored("t", [Trigger("CP16")])
    data.transactions_201.append(tx201("CP201", 2, "tx-b", 5))
    commands.sent.clear()
    commands.log.clear()
    ctl.on_stored("t", [Trigger("CP201")])
    assert limits(commands) == [("CP16", 16.0), ("CP201", 16.0)]
    _cp, payload = commands.sent[1]
    assert payload["evseId"] == 2 and payload["chargingProfile"]["transactionId"] == "tx-b"
    # The running session is lowered and confirmed before the new one gets its share.
    assert commands.log == ["submit CP16", "wait CP16", "submit CP201", "wait CP201"]


def test_a_stop_raises_the_others_after_nothing_is_lowered():
    ctl, sites, data, commands = controller()
    data.transactions_16.append(tx16("CP16", 1, 41, 0))
    data.transactions_201.append(tx201("CP201", 2, "tx-b", 5))
    ctl.on_stored("t", [Trigger("CP16")])
    data.transactions_16[0] = replace(data.transactions_16[0], status="Stopped")
    commands.sent.clear()
    ctl.on_stored("t", [Trigger("CP16")])
    assert limits(commands) == [("CP201", 32.0)]
    assert [(s.key, s.limit) for s in sites.saved["depot"]] == [("CP201|2|tx-b", 32.0)]


def test_a_refused_lowering_holds_the_raises_back():
    site = replace(SITE, charge_point_ids=("A", "B", "C"))
    ctl, sites, data, commands = controller(Sites(site), {c: "ocpp1.6" for c in "ABC"})
    data.transactions_16 += [tx16("A", 1, 1, 0), tx16("B", 1, 2, 1), tx16("C", 1, 3, 2)]
    ctl.on_stored("t", [Trigger("A")])  # 10.7 / 10.7 / 10.6 (6 A minimum each)
    assert limits(commands) == [("A", 10.7), ("B", 10.7), ("C", 10.6)]
    # C stops: A and B are only raised, nothing to wait for.
    data.transactions_16[2] = replace(data.transactions_16[2], status="Stopped")
    commands.sent.clear()
    ctl.on_stored("t", [Trigger("C")])
    assert sorted(limits(commands)) == [("A", 16.0), ("B", 16.0)]

    data.transactions_16.append(tx16("A", 2, 4, 3))
    commands.answer["A"] = CommandStatus.REJECTED
    commands.sent.clear()
    [outcome] = ctl.on_stored("t", [Trigger("A")])
    # A new session on A's connector 2: all three are lowered; A refuses, so A's shares
    # stay recorded as they were (16 A on connector 1, none on 2), to be sent again.
    assert [c.key for c in outcome.lowered] == ["A|1|1", "B|1|2", "A|2|4"]
    saved = {s.key: s.limit for s in sites.saved["depot"]}
    assert saved == {"A|1|1": 16.0, "B|1|2": 10.7}


def test_raises_wait_for_every_lowering():
    site = replace(SITE, charge_point_ids=("A", "B"))
    ctl, sites, data, commands = controller(Sites(site), {"A": "ocpp1.6", "B": "ocpp1.6"})
    data.transactions_16 += [tx16("A", 1, 1, 0), tx16("B", 1, 2, 1)]
    sites.record_need(Need("B", 1, T0 + timedelta(minutes=2), 10.0))
    ctl.on_stored("t", [Trigger("A")])
    assert limits(commands) == [("A", 22.0), ("B", 10.0)]
    # B's EV can take 20 A now: B rises to 16, A must drop to 16 first.
    commands.sent.clear()
    commands.answer["A"] = CommandStatus.FAILED
    need = Need("B", 1, T0 + timedelta(minutes=3), 20.0)
    [outcome] = ctl.on_stored("t", [Trigger("B", need)])
    assert limits(commands) == [("A", 16.0)]  # B's raise held back
    assert outcome.held_back
    assert {s.key: s.limit for s in sites.saved["depot"]} == {"A|1|1": 22.0, "B|1|2": 10.0}
    # A accepts the next time: then B is raised.
    commands.sent.clear()
    commands.answer.clear()
    ctl.on_stored("t", [Trigger("B")])
    assert limits(commands) == [("A", 16.0), ("B", 16.0)]


def test_a_need_from_before_the_session_is_another_evs():
    site = replace(SITE, charge_point_ids=("A",))
    ctl, sites, data, commands = controller(Sites(site), {"A": "ocpp2.0.1"})
    sites.record_need(Need("A", 1, T0 - timedelta(hours=1), 8.0))
    data.transactions_201.append(tx201("A", 1, "t1", 0))
    ctl.on_stored("t", [Trigger("A")])
    assert limits(commands) == [("A", 32.0)]


def test_watts_sites_send_watts():
    site = Site("yard", "Yard", 22000, RateUnit.WATTS, ("A", "B"))
    ctl, _sites, data, commands = controller(Sites(site), {"A": "ocpp2.0.1", "B": "ocpp1.6"})
    data.transactions_201.append(tx201("A", 1, "t1", 0))
    data.transactions_16.append(tx16("B", 1, 9, 1))
    ctl.on_stored("t", [Trigger("A")])
    assert limits(commands) == [("A", 11000.0), ("B", 11000.0)]
    assert commands.sent[1][1]["csChargingProfiles"]["chargingSchedule"]["chargingRateUnit"] == "W"


def test_an_offline_charger_holds_the_raises_back_but_does_not_break_the_run():
    class Offline(Commands):
        def submit(self, tenant_id, cp, action, payload, queue_if_offline=False):
            if cp == "A":
                raise RuntimeError("not connected")
            return super().submit(tenant_id, cp, action, payload)

    site = replace(SITE, charge_point_ids=("A", "B"))
    sites = Sites(site)
    store = Store()
    commands = Offline({"A": "ocpp1.6", "B": "ocpp1.6"})
    ctl = SiteLimitController(lambda t: sites, store, commands, {"ocpp1.6": set_16},
                              clock=lambda: T0)
    store.data.transactions_16 += [tx16("A", 1, 1, 0), tx16("B", 1, 2, 1)]
    [_outcome] = ctl.on_stored("t", [Trigger("B")])
    assert limits(commands) == [("B", 16.0)]
    assert {s.key for s in sites.saved["depot"]} == {"B|1|2"}


def test_a_trigger_during_a_run_makes_the_holder_run_again():
    ctl, sites, data, _commands = controller()
    data.transactions_16.append(tx16("CP16", 1, 41, 0))

    def another_worker():
        # Another worker's trigger finds the lease held: it only marks the site dirty.
        data.transactions_201.append(tx201("CP201", 1, "late", 1))
        assert ctl.rebalance("t", "depot") == []

    sites.on_lease = another_worker
    outcomes = ctl.on_stored("t", [Trigger("CP16")])
    assert len(outcomes) == 2
    assert outcomes[-1].shares == {"CP16|1|41": 16.0, "CP201|1|late": 16.0}
    assert sites.owner == {} and not sites.dirty


def test_the_record_applier_finds_the_triggers():
    started = Decoded("e1", "t", "CP16", events=[("e1:0", "transaction_started", "", {})])
    status = Decoded("e2", "t", "CP201", events=[("e2:0", "connector_status", "", {})])
    need = Decoded("e3", "t", "CP201", changes=[Notified(
        "CP201", "charging_need", {"evse_id": 2, "max_current_a": 16, "max_power_w": None},
        T0, "e3:0")])
    found = triggers([started, status, need])
    assert found == [Trigger("CP16"), Trigger("CP201", Need("CP201", 2, T0, 16, None))]
