"""Dividing a site's grid connection among its charging sessions.

A site may draw at most `limit` (amperes per phase, or watts). Every session that can be
served gets at least `minimum` (below about 6 A an EV cannot charge at all, IEC 61851),
then what is left is shared equally, except that a session whose EV told how much it can
take (NotifyEVChargingNeeds) gets no more than that, and its unused share goes to the
others. Sessions beyond what the limit can serve at the minimum get 0: the newest wait,
so a session that started charging is never cut off for a later one.

Pure arithmetic on integer steps (0.1 A or 1 W by default), so the shares never add up to
more than the limit, whatever rounding would do.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

# Shares are multiples of this (in the site's unit) unless the caller says otherwise.
DEFAULT_STEP = 0.1
# Guards against 0.3 / 0.1 == 2.9999999999999996 when counting steps.
_EPSILON = 1e-9


@dataclass(frozen=True)
class Demand:
    """One active session: `key` identifies it to the caller; `need` is the most its EV
    (or EVSE) can take, when known, in the site's unit."""

    key: str
    need: float | None = None


class InvalidLimit(ValueError):
    pass


def divide(
    limit: float,
    demands: Sequence[Demand],
    minimum: float = 0.0,
    step: float = DEFAULT_STEP,
) -> dict[str, float]:
    """Each session's share, by key, in the order given (oldest session first)."""
    if limit < 0 or minimum < 0 or step <= 0:
        raise InvalidLimit("limit and minimum must be >= 0 and step > 0")
    if len({d.key for d in demands}) != len(demands):
        raise InvalidLimit("two sessions with one key")
    total = math.floor(limit / step + _EPSILON)
    floor_share = math.ceil(minimum / step - _EPSILON)
    caps = [_cap(d, floor_share, step) for d in demands]
    # How many sessions the limit can serve at the minimum, the oldest first.
    served = len(demands) if floor_share == 0 else min(len(demands), total // floor_share)
    shares = [floor_share] * served + [0] * (len(demands) - served)
    remaining = total - floor_share * served
    open_ = [i for i in range(served) if _room(caps[i], shares[i])]
    while remaining > 0 and open_:
        each = remaining // len(open_)
        if each == 0:
            # Fewer steps left than sessions: one more each for the oldest.
            for i in open_[:remaining]:
                shares[i] += 1
            remaining = 0
            break
        for i in open_:
            cap = caps[i]
            give = each if cap is None else min(each, cap - shares[i])
            shares[i] += give
            remaining -= give
        open_ = [i for i in open_ if _room(caps[i], shares[i])]
    return {d.key: round(s * step, 6) for d, s in zip(demands, shares, strict=True)}


def _room(cap: int | None, share: int) -> bool:
    return cap is None or share < cap


def _cap(demand: Demand, floor_share: int, step: float) -> int | None:
    """The most steps a session can use; never below the minimum (an EV that asks for
    less still needs the minimum signalled to charge at all)."""
    if demand.need is None:
        return None
    return max(floor_share, math.floor(max(demand.need, 0.0) / step + _EPSILON))


@dataclass(frozen=True)
class Change:
    """A session's new share; `previous` None: it had none (it draws what it likes)."""

    key: str
    limit: float
    previous: float | None

    @property
    def lowers(self) -> bool:
        return self.previous is None or self.limit < self.previous


def changes(
    previous: dict[str, float], shares: dict[str, float]
) -> tuple[list[Change], list[Change]]:
    """(lowered, raised): what to send, in the order that keeps the site under its limit
    at every moment: first every session that must draw less (and new sessions, which
    had no limit at all), only then those that may draw more. Unchanged shares are left
    out."""
    lowered: list[Change] = []
    raised: list[Change] = []
    for key, limit in shares.items():
        before = previous.get(key)
        if before is not None and math.isclose(before, limit, abs_tol=_EPSILON):
            continue
        change = Change(key, limit, before)
        (lowered if change.lowers else raised).append(change)
    return lowered, raised
