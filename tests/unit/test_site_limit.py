"""Dividing a site's limit among its sessions: fixed cases, then properties that must hold
for any limit, minimum and set of sessions."""

from __future__ import annotations

import math

import pytest
from csms.domain.site_limit import Demand, InvalidLimit, changes, divide
from hypothesis import given, settings
from hypothesis import strategies as st


def keys(n: int) -> list[Demand]:
    return [Demand(f"s{i}") for i in range(n)]


def test_one_session_gets_the_whole_limit():
    assert divide(32, keys(1), minimum=6) == {"s0": 32}


def test_equal_shares():
    assert divide(32, keys(2), minimum=6) == {"s0": 16, "s1": 16}


def test_shares_are_steps_and_the_oldest_get_the_remainder():
    assert divide(10, keys(3), minimum=0, step=1) == {"s0": 4, "s1": 3, "s2": 3}


def test_a_fraction_of_a_step_is_never_handed_out():
    shares = divide(10, keys(3), minimum=0)
    assert shares == {"s0": 3.4, "s1": 3.3, "s2": 3.3}
    assert math.fsum(shares.values()) <= 10


def test_sessions_beyond_the_minimum_get_zero_newest_first():
    assert divide(16, keys(3), minimum=6) == {"s0": 8, "s1": 8, "s2": 0}


def test_a_limit_below_the_minimum_serves_nobody():
    assert divide(5, keys(2), minimum=6) == {"s0": 0, "s1": 0}


def test_exactly_the_minimum_each():
    assert divide(18, keys(3), minimum=6) == {"s0": 6, "s1": 6, "s2": 6}


def test_no_sessions():
    assert divide(32, [], minimum=6) == {}


def test_a_known_need_caps_the_share_and_frees_the_rest():
    demands = [Demand("small", need=10), Demand("big"), Demand("other")]
    assert divide(63, demands, minimum=6) == {"small": 10, "big": 26.5, "other": 26.5}


def test_needs_all_met_leave_the_rest_unused():
    demands = [Demand("a", need=10), Demand("b", need=12)]
    assert divide(63, demands, minimum=6) == {"a": 10, "b": 12}


def test_a_need_below_the_minimum_still_gets_the_minimum():
    assert divide(32, [Demand("a", need=2), Demand("b")], minimum=6) == {"a": 6, "b": 26}


def test_watts():
    assert divide(22_000, keys(3), minimum=4_140, step=1) == {
        "s0": 7_334, "s1": 7_333, "s2": 7_333}


def test_floating_point_limits_are_counted_in_whole_steps():
    assert divide(0.3, keys(1), minimum=0) == {"s0": 0.3}


@pytest.mark.parametrize("args", [(-1, 0, 0.1), (10, -1, 0.1), (10, 0, 0)])
def test_nonsense_is_refused(args):
    limit, minimum, step = args
    with pytest.raises(InvalidLimit):
        divide(limit, keys(2), minimum=minimum, step=step)


def test_two_sessions_with_one_key_are_refused():
    with pytest.raises(InvalidLimit):
        divide(10, [Demand("a"), Demand("a")])


def test_changes_lower_first_then_raise():
    lowered, raised = changes({"a": 32}, {"a": 16, "b": 16})
    assert [(c.key, c.limit, c.previous) for c in lowered] == [("a", 16, 32), ("b", 16, None)]
    assert raised == []
    lowered, raised = changes({"a": 16, "b": 16}, {"a": 32})
    assert lowered == [] and [(c.key, c.limit) for c in raised] == [("a", 32)]


def test_unchanged_shares_are_not_sent_again():
    assert changes({"a": 16, "b": 16}, {"a": 16, "b": 16}) == ([], [])


demand_lists = st.lists(
    st.one_of(st.none(), st.floats(min_value=0, max_value=500, allow_nan=False)),
    max_size=12,
).map(lambda needs: [Demand(f"s{i}", need) for i, need in enumerate(needs)])
limits = st.floats(min_value=0, max_value=100_000, allow_nan=False)
minimums = st.sampled_from([0.0, 6.0, 10.0, 1_380.0])
steps = st.sampled_from([0.1, 1.0, 0.5])


@settings(max_examples=400, deadline=None)
@given(limit=limits, demands=demand_lists, minimum=minimums, step=steps)
def test_the_shares_never_exceed_the_limit(limit, demands, minimum, step):
    shares = divide(limit, demands, minimum=minimum, step=step)
    assert math.fsum(shares.values()) <= limit + 1e-6
    assert set(shares) == {d.key for d in demands}


@settings(max_examples=400, deadline=None)
@given(limit=limits, demands=demand_lists, minimum=minimums, step=steps)
def test_every_session_gets_zero_or_at_least_the_minimum(limit, demands, minimum, step):
    shares = divide(limit, demands, minimum=minimum, step=step)
    for share in shares.values():
        assert share == 0 or share >= minimum - 1e-6


@settings(max_examples=400, deadline=None)
@given(limit=limits, demands=demand_lists, minimum=minimums, step=steps)
def test_older_sessions_are_served_first(limit, demands, minimum, step):
    shares = [divide(limit, demands, minimum=minimum, step=step)[d.key] for d in demands]
    served = [share > 0 for share in shares]
    # Once a session goes unserved, every newer one does too (unless the minimum is 0).
    if minimum > 0 and False in served:
        first_unserved = served.index(False)
        assert not any(served[first_unserved:])


@settings(max_examples=400, deadline=None)
@given(limit=limits, demands=demand_lists, minimum=minimums, step=steps)
def test_no_share_exceeds_a_known_need_above_the_minimum(limit, demands, minimum, step):
    shares = divide(limit, demands, minimum=minimum, step=step)
    for demand in demands:
        if demand.need is not None:
            assert shares[demand.key] <= max(demand.need, minimum) + 1e-6


@settings(max_examples=300, deadline=None)
@given(limit=limits, demands=demand_lists, minimum=minimums, step=steps)
def test_nothing_is_left_unused_while_a_session_could_take_more(limit, demands, minimum, step):
    shares = divide(limit, demands, minimum=minimum, step=step)
    unused = limit - math.fsum(shares.values())
    hungry = [
        d for d in demands
        if shares[d.key] > 0
        and (d.need is None or shares[d.key] + step <= max(d.need, minimum) + 1e-6)
    ]
    if hungry:
        # Less than one step for each session that could take more.
        assert unused < step * len(hungry) + 1e-6


@settings(max_examples=300, deadline=None)
@given(limit=limits, demands=demand_lists, minimum=minimums, step=steps)
def test_applying_the_changes_in_order_never_exceeds_the_limit(limit, demands, minimum, step):
    """From an earlier division (one session fewer), lowering first then raising keeps
    the sum under the limit after every single change."""
    before = divide(limit, demands[:-1], minimum=minimum, step=step) if demands else {}
    after = divide(limit, demands, minimum=minimum, step=step)
    lowered, raised = changes(before, after)
    current = dict(before)
    for change in lowered + raised:
        current[change.key] = change.limit
        assert math.fsum(current.values()) <= limit + 1e-6
