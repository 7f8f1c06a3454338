"""The site limit controller: keeps every site of a tenant under its maximum current or
power by giving each active session on the site's chargers a TxProfile.

It runs in the event worker, after the records of a session start or stop (or an EV's
charging needs) are stored, so the charger's reply never waits for it. Each run reads the
site's open transactions of both OCPP versions, divides the limit (domain.site_limit),
and sends SetChargingProfile in each charger's version through the CommandService: first
every session that must draw less, waiting for their chargers to accept, and only then
those that may draw more. A lowering that was not accepted holds the raises back, so
the site stays under its limit even while a charger misbehaves; the next run retries.

Runs of one site never overlap: a run holds the site's lease, and a trigger that finds
the lease held only marks the site dirty, which the holder sees and runs again for.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from csms.domain.charging_profiles import (
    ChargingProfile,
    Kind,
    Purpose,
    RateUnit,
    Schedule,
    SchedulePeriod,
)
from csms.domain.commands import Command, CommandStatus
from csms.domain.site_limit import Change, Demand, changes, divide
from csms.ports import RuntimeRecords, TenantStore

logger = logging.getLogger(__name__)

Payload = dict[str, Any]

# The TxProfiles the controller sends: one id per EVSE, so each new share replaces the
# last one on the charger (same id), never stacking beside it.
SITE_PROFILE_ID_BASE = 7_000_000
SITE_STACK_LEVEL = 1
# How long a run may hold a site, and wait for a charger to accept a lowering.
LEASE = timedelta(seconds=60)
LOWERING_WAIT_SECONDS = 10.0
# Limits are sent in tenths of an ampere (the 1.6 schema's multipleOf 0.1) or whole watts.
STEP = {RateUnit.AMPERES: 0.1, RateUnit.WATTS: 1.0}
# Below about 6 A (IEC 61851) an EV cannot charge: the default minimum of a session; in
# watts, 6 A on one 230 V phase.
DEFAULT_MINIMUM = {RateUnit.AMPERES: 6.0, RateUnit.WATTS: 1380.0}


@dataclass(frozen=True)
class Site:
    site_id: str
    name: str
    limit: float
    unit: RateUnit
    charge_point_ids: tuple[str, ...] = ()
    min_session_limit: float | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def minimum(self) -> float:
        if self.min_session_limit is not None:
            return self.min_session_limit
        return DEFAULT_MINIMUM[self.unit]


@dataclass(frozen=True)
class Share:
    """What a session was last sent: its limit on one EVSE of one charger."""

    charge_point_id: str
    evse_id: int
    transaction_id: str
    limit: float
    at: datetime
    command_id: str | None = None

    @property
    def key(self) -> str:
        return session_key(self.charge_point_id, self.evse_id, self.transaction_id)


@dataclass(frozen=True)
class Need:
    """The most an EV on an EVSE can take, as its charger reported it (2.0.1
    NotifyEVChargingNeeds), per phase in amperes and, when known, in watts."""

    charge_point_id: str
    evse_id: int
    at: datetime
    max_current_a: float | None = None
    max_power_w: float | None = None

    def in_unit(self, unit: RateUnit) -> float | None:
        return self.max_current_a if unit is RateUnit.AMPERES else self.max_power_w


@dataclass(frozen=True)
class Session:
    charge_point_id: str
    evse_id: int
    transaction_id: str
    started_at: datetime

    @property
    def key(self) -> str:
        return session_key(self.charge_point_id, self.evse_id, self.transaction_id)


def session_key(charge_point_id: str, evse_id: int, transaction_id: str) -> str:
    # A new transaction on the same EVSE is a new session: its share starts over.
    return f"{charge_point_id}|{evse_id}|{transaction_id}"


class SiteStore(Protocol):
    """One tenant's sites (adapters/mongo_sites.py; an in-memory one in the tests)."""

    def get(self, site_id: str) -> Site | None: ...

    def site_of(self, charge_point_id: str) -> Site | None: ...

    def shares(self, site_id: str) -> list[Share]: ...

    def save_shares(self, site_id: str, shares: Sequence[Share]) -> None:
        """Replace the site's shares with these."""

    def record_need(self, need: Need) -> None: ...

    def needs(self, charge_point_ids: Sequence[str]) -> list[Need]: ...

    def mark_dirty(self, site_id: str) -> None: ...

    def lease(self, site_id: str, owner: str, until: datetime, now: datetime) -> bool:
        """Take the site for a run unless another owner holds an unexpired lease."""

    def take_dirty(self, site_id: str, owner: str) -> bool:
        """Clear the dirty mark, if set, while `owner` holds the lease; True if it was."""

    def is_dirty(self, site_id: str) -> bool: ...

    def release(self, site_id: str, owner: str) -> None: ...


class Commands(Protocol):
    """The part of the CommandService the controller uses."""

    def version_of(self, charge_point_id: str) -> str: ...

    def submit(
        self,
        tenant_id: str,
        charge_point_id: str,
        action: str,
        payload: dict[str, Any],
        queue_if_offline: bool = False,
    ) -> Command: ...

    def wait(self, tenant_id: str, command_id: str, seconds: float) -> Command | None: ...


# A SetChargingProfile request payload of one OCPP version, from a neutral profile.
ProfileRequest = Callable[[ChargingProfile], Payload]


@dataclass(frozen=True)
class Trigger:
    """Something the event worker stored that may change a site's shares."""

    charge_point_id: str
    need: Need | None = None


@dataclass
class Outcome:
    """What one run sent (for the tests and the log)."""

    site_id: str
    shares: dict[str, float]
    lowered: list[Change]
    raised: list[Change]
    held_back: bool = False


class SiteLimitController:
    def __init__(
        self,
        sites: Callable[[str], SiteStore],
        store: TenantStore,
        commands: Commands,
        requests: Mapping[str, ProfileRequest],
        clock: Callable[[], datetime],
        records: RuntimeRecords | None = None,
        lowering_wait_seconds: float = LOWERING_WAIT_SECONDS,
        new_owner: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        # The records its commands leave (sent, answered) are handed on after each run.
        self._records = records
        self._sites = sites
        self._store = store
        self._commands = commands
        # By subprotocol: how to say SetChargingProfile in the charger's version.
        self._requests = dict(requests)
        self._clock = clock
        self._lowering_wait = lowering_wait_seconds
        self._new_owner = new_owner

    def on_stored(self, tenant_id: str, triggers: Sequence[Trigger]) -> list[Outcome]:
        """Runs every site the triggers touch (each once, however many triggers)."""
        sites = self._sites(tenant_id)
        touched: dict[str, None] = {}
        for trigger in triggers:
            site = sites.site_of(trigger.charge_point_id)
            if site is None:
                continue
            if trigger.need is not None:
                sites.record_need(trigger.need)
            touched[site.site_id] = None
        outcomes = []
        try:
            for site_id in touched:
                outcomes.extend(self.rebalance(tenant_id, site_id))
        finally:
            if self._records is not None:
                self._records.flush()
        return outcomes

    def rebalance(self, tenant_id: str, site_id: str) -> list[Outcome]:
        """Divide the site's limit again, unless a run holds the site: then that run does
        it once more for this trigger. Returns the runs done here."""
        sites = self._sites(tenant_id)
        sites.mark_dirty(site_id)
        owner = self._new_owner()
        outcomes: list[Outcome] = []
        while True:
            now = self._clock()
            if not sites.lease(site_id, owner, now + LEASE, now):
                return outcomes  # the holder sees the dirty mark
            try:
                while sites.take_dirty(site_id, owner):
                    outcome = self._run(tenant_id, sites, site_id)
                    if outcome is not None:
                        outcomes.append(outcome)
            finally:
                sites.release(site_id, owner)
            # A trigger between our last look and the release found the lease held.
            if not sites.is_dirty(site_id):
                return outcomes

    def _run(self, tenant_id: str, sites: SiteStore, site_id: str) -> Outcome | None:
        site = sites.get(site_id)
        if site is None:
            return None
        sessions = self._sessions(tenant_id, site)
        needs = {(n.charge_point_id, n.evse_id): n for n in sites.needs(site.charge_point_ids)}
        demands = []
        for session in sessions:
            need = needs.get((session.charge_point_id, session.evse_id))
            # A need reported before this session started was another EV's.
            known = need.in_unit(site.unit) if need and need.at >= session.started_at else None
            demands.append(Demand(session.key, known))
        shares = divide(site.limit, demands, site.minimum, STEP[site.unit])
        before = {share.key: share for share in sites.shares(site_id)}
        lowered, raised = changes({k: s.limit for k, s in before.items()}, shares)
        by_key = {session.key: session for session in sessions}
        now = self._clock()
        # What stays recorded: the sessions still open, as they were, until changed.
        kept = {k: s for k, s in before.items() if k in by_key}
        outcome = Outcome(site_id, shares, lowered, raised)
        # First the sessions that must draw less, then the new ones (they had no limit:
        # any is lower, but sent after the others' so the limits held never add up to
        # more than the site's), and only when all of those are in place, the raises.
        lowering = [c for c in lowered if c.previous is not None]
        joining = [c for c in lowered if c.previous is None]
        accepted = True
        for step in (lowering, joining):
            accepted = self._apply(tenant_id, site, step, by_key, kept, now) and accepted
        if accepted:
            for share, _ in self._send(
                tenant_id, site, [(by_key[c.key], c.limit) for c in raised], now
            ):
                kept[share.key] = share
        elif raised:
            # A session may still draw more than its new share: raising the others now
            # could take the site over its limit. The next run tries again.
            # (Not marked dirty: against a charger that keeps refusing, that would spin.)
            outcome.held_back = True
            logger.warning(
                "site limit: a lowering was not accepted, raises held back",
                extra={"tenant_id": tenant_id, "site_id": site_id},
            )
        sites.save_shares(site_id, list(kept.values()))
        logger.info(
            "site limit divided",
            extra={"tenant_id": tenant_id, "site_id": site_id, "shares": shares},
        )
        return outcome

    def _apply(
        self,
        tenant_id: str,
        site: Site,
        step: Sequence[Change],
        by_key: dict[str, Session],
        kept: dict[str, Share],
        now: datetime,
    ) -> bool:
        """Send `step`'s shares and wait for the chargers; records those accepted in
        `kept`. All go out before the first wait: their chargers answer in parallel."""
        sent = self._send(tenant_id, site, [(by_key[c.key], c.limit) for c in step], now)
        accepted = True
        for share, command in sent:
            settled = self._settle(tenant_id, command)
            if settled is not None and settled.status is CommandStatus.COMPLETED:
                kept[share.key] = share
            else:
                accepted = False
        return accepted

    def _sessions(self, tenant_id: str, site: Site) -> list[Session]:
        """The site's open transactions of both versions, oldest first."""
        data = self._store.for_tenant(tenant_id)
        sessions = []
        for cp in site.charge_point_ids:
            for t in data.transactions.active(charge_point_id=cp):
                # 2.0.1 transactions share the store and show up here too, under a string
                # key; they are read below, with the charger's own id.
                if isinstance(t.transaction_id, int) and t.connector_id > 0:
                    sessions.append(
                        Session(cp, t.connector_id, str(t.transaction_id), t.start_timestamp)
                    )
            for ct in data.charger_transactions.active(charge_point_id=cp):
                if ct.evse_id:  # a TxProfile needs the evse; one not yet known waits
                    sessions.append(Session(cp, ct.evse_id, ct.transaction_id, ct.started_at))
        sessions.sort(key=lambda s: (s.started_at, s.key))
        return sessions

    def _send(
        self,
        tenant_id: str,
        site: Site,
        targets: Sequence[tuple[Session, float]],
        now: datetime,
    ) -> list[tuple[Share, Command | None]]:
        """Submit a TxProfile to each session's charger; a charger that cannot be sent
        one (offline, an unknown version) gets None as its command."""
        sent: list[tuple[Share, Command | None]] = []
        for session, limit in targets:
            profile = tx_profile(session, limit, site.unit)
            command: Command | None = None
            try:
                version = self._commands.version_of(session.charge_point_id)
                request = self._requests.get(version)
                if request is None:
                    raise LookupError(f"no SetChargingProfile for {version}")
                command = self._commands.submit(
                    tenant_id, session.charge_point_id, "SetChargingProfile", request(profile)
                )
            except Exception:
                logger.exception(
                    "site limit: could not send a TxProfile",
                    extra={"tenant_id": tenant_id, "charge_point_id": session.charge_point_id},
                )
            share = Share(
                session.charge_point_id, session.evse_id, session.transaction_id, limit, now,
                None if command is None else command.command_id,
            )
            sent.append((share, command))
        return sent

    def _settle(self, tenant_id: str, command: Command | None) -> Command | None:
        if command is None or command.final:
            return command
        return self._commands.wait(tenant_id, command.command_id, self._lowering_wait)


def tx_profile(session: Session, limit: float, unit: RateUnit) -> ChargingProfile:
    """The session's share as a TxProfile: relative to the transaction's start, one
    period, no end (it holds until the next share replaces it or the session ends)."""
    return ChargingProfile(
        profile_id=SITE_PROFILE_ID_BASE + session.evse_id,
        stack_level=SITE_STACK_LEVEL,
        purpose=Purpose.TX,
        kind=Kind.RELATIVE,
        evse_id=session.evse_id,
        transaction_id=session.transaction_id,
        schedules=(Schedule(unit, (SchedulePeriod(0, limit),)),),
    )
