"""Redis adapters against a real redis-server."""

import time
from datetime import UTC, datetime, timedelta

import pytest
import redis
from csms.adapters.redis_state import (
    RedisCallLookup,
    RedisConnectionRegistry,
    RedisPendingCalls,
    RedisReplayCache,
)
from csms.domain.commands import Taken
from csms.domain.model import ConnectionInfo
from redis import connection as redis_connection

NOW = datetime(2026, 11, 22, tzinfo=UTC)


@pytest.fixture
def registry(redis_client, key_prefix):
    return RedisConnectionRegistry(redis_client, key_prefix, ttl_seconds=60)


@pytest.fixture
def pending(redis_client, key_prefix):
    return RedisPendingCalls(redis_client, key_prefix, ttl_seconds=30)


def connection(connection_id, cp="CP1"):
    return ConnectionInfo(connection_id, cp, "tenant-a", "ocpp1.6", NOW)


def test_a_registered_connection_is_found_both_ways(registry):
    assert registry.register(connection("c1")) is None
    assert registry.lookup("c1") == connection("c1")
    assert registry.connection_of("CP1") == "c1"


def test_registering_again_returns_the_replaced_connection(registry):
    registry.register(connection("c1"))
    assert registry.register(connection("c2")) == "c1"
    assert registry.connection_of("CP1") == "c2"


def test_unregistering_the_current_connection_removes_both_keys(registry):
    registry.register(connection("c1"))
    assert registry.unregister(connection("c1")) is True
    assert registry.lookup("c1") is None and registry.connection_of("CP1") is None


def test_unregistering_a_replaced_connection_keeps_the_new_one(registry):
    registry.register(connection("c1"))
    registry.register(connection("c2"))
    assert registry.unregister(connection("c1")) is False
    assert registry.connection_of("CP1") == "c2"
    assert registry.lookup("c2") is not None


def test_registry_keys_expire(registry, redis_client, key_prefix):
    registry.register(connection("c1"))
    assert 0 < redis_client.ttl(f"{key_prefix}:conn:c1") <= 60
    assert 0 < redis_client.ttl(f"{key_prefix}:cp:CP1") <= 60


def test_pending_calls_live_in_one_hash_per_charge_point(pending, redis_client, key_prefix):
    pending.add("CP1", "m1", '[2,"m1","Reset",{}]')
    pending.add("CP1", "m2", '[2,"m2","ClearCache",{}]')
    assert redis_client.hgetall(f"{key_prefix}:pending:CP1") == {
        "m1": '[2,"m1","Reset",{}]', "m2": '[2,"m2","ClearCache",{}]'}
    assert 0 < redis_client.ttl(f"{key_prefix}:pending:CP1") <= 30


def test_pending_get_has_delete(pending):
    pending.add("CP1", "m1", "req")
    assert pending.get("CP1", "m1") == "req" and pending.has("CP1", "m1")
    assert pending.delete("CP1", "m1") is True
    assert pending.get("CP1", "m1") is None and not pending.has("CP1", "m1")
    assert pending.delete("CP1", "m1") is False


def test_a_pending_call_is_taken_once(pending):
    pending.add("CP1", "m1", "req")

    assert pending.take("CP1", "m1") == "req"
    assert pending.take("CP1", "m1") is None  # a duplicate answer finds nothing
    assert not pending.has("CP1", "m1")


@pytest.fixture
def queue(redis_client, key_prefix):
    from csms.adapters.redis_state import RedisCommandQueue

    return RedisCommandQueue(redis_client, key_prefix, pending_ttl_seconds=30,
                             queue_ttl_seconds=60)


ANSWER_BY = NOW + timedelta(seconds=30)


def test_the_command_queue_hands_out_one_call_at_a_time_in_order(queue, pending, redis_client,
                                                                  key_prefix):
    queue.push("CP1", "c1", '[2,"c1","Reset",{"type":"Soft"}]')
    queue.push("CP1", "c2", '[2,"c2","ClearCache",{}]')

    assert queue.take_next("CP1", "conn-1", NOW, ANSWER_BY) == Taken(
        "c1", '[2,"c1","Reset",{"type":"Soft"}]'
    )
    assert queue.take_next("CP1", "conn-1", NOW, ANSWER_BY) is None  # c1 is outstanding
    assert pending.take("CP1", "c1") is not None  # the charger answered
    assert queue.take_next("CP1", "conn-1", NOW, ANSWER_BY) == Taken(
        "c2", '[2,"c2","ClearCache",{}]'
    )
    assert queue.queued("CP1") == 0
    assert 0 < redis_client.ttl(f"{key_prefix}:pending:CP1") <= 30 + 300


def test_a_pending_call_past_its_deadline_is_taken_over_atomically(queue, pending):
    queue.push("CP1", "c1", "[2]")
    queue.push("CP1", "c2", "[2]")
    queue.take_next("CP1", "conn-1", NOW, ANSWER_BY)

    later = ANSWER_BY + timedelta(seconds=1)
    assert queue.take_next("CP1", "conn-1", later, later + timedelta(seconds=30)) == Taken(
        "c2", "[2]", overdue_command_id="c1"
    )
    assert not pending.has("CP1", "c1") and pending.has("CP1", "c2")


def test_a_take_over_with_an_empty_queue_still_names_the_overdue_call(queue, pending):
    queue.push("CP1", "c1", "[2]")
    queue.take_next("CP1", "conn-1", NOW, ANSWER_BY)

    assert queue.take_next("CP1", "conn-1", ANSWER_BY, ANSWER_BY) == Taken(None, "", "c1")
    assert not pending.has("CP1", "c1")


def test_of_many_racing_take_overs_exactly_one_gets_the_overdue_call(queue, redis_client,
                                                                     key_prefix):
    from concurrent.futures import ThreadPoolExecutor

    from csms.adapters.redis_state import RedisCommandQueue

    for n in range(9):
        queue.push("CP1", f"c{n}", "[2]")
    queue.take_next("CP1", "conn-1", NOW, ANSWER_BY)
    later = ANSWER_BY + timedelta(seconds=1)

    def take(_: int):
        other = RedisCommandQueue(redis_client, key_prefix, 30, 60)
        return other.take_next("CP1", "conn-1", later, later + timedelta(seconds=30))

    with ThreadPoolExecutor(8) as pool:
        results = [r for r in pool.map(take, range(8)) if r is not None]

    assert [r.overdue_command_id for r in results] == ["c0"]
    assert [r.command_id for r in results] == ["c1"]


def test_releasing_a_connection_removes_only_the_call_sent_on_it(queue, pending):
    queue.push("CP1", "c1", "[2]")
    queue.take_next("CP1", "conn-1", NOW, ANSWER_BY)

    assert pending.release_connection("CP1", "conn-0") is None
    assert pending.release_connection("CP1", "conn-1") == "c1"
    assert pending.release_connection("CP1", "conn-1") is None  # one owner only
    assert not pending.has("CP1", "c1")


def test_an_answer_after_a_release_finds_nothing(queue, pending):
    queue.push("CP1", "c1", "[2]")
    queue.take_next("CP1", "conn-1", NOW, ANSWER_BY)
    pending.release_connection("CP1", "conn-1")

    assert pending.take("CP1", "c1") is None


def test_the_sweep_expires_a_call_only_past_its_deadline(queue, pending):
    queue.push("CP1", "c1", "[2]")
    queue.take_next("CP1", "conn-1", NOW, ANSWER_BY)

    assert pending.expire("CP1", "c1", NOW) is False
    assert pending.expire("CP1", "c1", ANSWER_BY) is True
    assert pending.expire("CP1", "c1", ANSWER_BY) is False  # already gone
    assert queue.take_next("CP1", "conn-1", ANSWER_BY, ANSWER_BY) == Taken(None, "", None)


def test_message_ids_with_lone_surrogates_round_trip(pending):
    pending.add("CP1", "id-\ud800", "req")

    assert pending.take("CP1", "id-\ud800") == "req"


def test_the_rate_limiter_counts_per_tenant_and_minute(redis_client, key_prefix):
    from csms.adapters.redis_state import RedisRateLimiter

    limiter = RedisRateLimiter(redis_client, key_prefix)
    minute_start = 1_800_000_000.0 - 1_800_000_000.0 % 60

    assert [limiter.hit("t1", 2, minute_start + 1) for _ in range(3)] == [None, None, 59]
    assert limiter.hit("t2", 2, minute_start + 1) is None
    assert limiter.hit("t1", 2, minute_start + 61) is None  # the next minute


def test_pending_clear_forgets_only_that_charge_point(pending):
    pending.add("CP1", "m1", "a")
    pending.add("CP2", "m1", "b")
    pending.clear("CP1")
    assert pending.get("CP1", "m1") is None and pending.get("CP2", "m1") == "b"


def test_pending_calls_expire_after_their_ttl(redis_client, key_prefix):
    short = RedisPendingCalls(redis_client, key_prefix, ttl_seconds=1)
    short.add("CP1", "m1", "req")
    deadline = time.monotonic() + 5
    while short.has("CP1", "m1") and time.monotonic() < deadline:
        time.sleep(0.05)  # polling Redis: expiry raises no event to await
    assert not short.has("CP1", "m1")


def test_replay_cache_returns_the_stored_reply(redis_client, key_prefix):
    cache = RedisReplayCache(redis_client, key_prefix, ttl_seconds=600)
    assert cache.get("CP1", "m1") is None
    cache.put("CP1", "m1", '[3,"m1",{}]')
    assert cache.get("CP1", "m1") == '[3,"m1",{}]'
    assert cache.get("CP2", "m1") is None


def test_connections_of_many_charge_points_in_one_call(registry):
    registry.register(ConnectionInfo("conn-a", "CP-A", "t1", "ocpp1.6", datetime.now(UTC)))

    assert registry.connections_of(["CP-A", "CP-B"]) == {"CP-A": "conn-a", "CP-B": None}
    assert registry.connections_of([]) == {}


def test_a_verified_login_is_kept_for_its_ttl_only(redis_client, key_prefix):
    from csms.adapters.redis_state import RedisVerifiedCredentials

    verified = RedisVerifiedCredentials(redis_client, key_prefix, ttl_seconds=120)
    verified.put("CP1", "tag")

    assert verified.get("CP1") == "tag" and verified.get("CP2") is None
    assert 0 < redis_client.ttl(f"{key_prefix}:cred:CP1") <= 120


@pytest.fixture
def replay(redis_client, key_prefix):
    return RedisReplayCache(redis_client, key_prefix, ttl_seconds=600)


@pytest.fixture
def calls(registry, replay):
    return RedisCallLookup(registry, replay)


class RoundTripCounter:
    """Counts the writes to Redis's socket: one per round trip, a pipeline's included."""

    def __init__(self, monkeypatch):
        self.sent = 0
        real = redis_connection.AbstractConnection.send_packed_command

        def counted(connection, *args, **kwargs):
            self.sent += 1
            return real(connection, *args, **kwargs)

        monkeypatch.setattr(redis_connection.AbstractConnection, "send_packed_command", counted)


def test_a_call_lookup_finds_the_connection_and_the_reply_already_sent(calls, registry, replay):
    registry.register(connection("c1"))
    replay.put("CP1", "m1", '[3,"m1",{}]')

    assert calls.lookup_call("c1", "m1") == (connection("c1"), '[3,"m1",{}]')
    assert calls.lookup_call("c1", "m2") == (connection("c1"), None)


def test_a_connections_later_calls_are_read_in_one_round_trip(
    calls, registry, replay, monkeypatch
):
    registry.register(connection("c1"))
    replay.put("CP1", "m2", '[3,"m2",{}]')
    counter = RoundTripCounter(monkeypatch)

    calls.lookup_call("c1", "m1")  # the first: the registry, then the replay cache
    first = counter.sent
    found = calls.lookup_call("c1", "m2")

    assert first == 2
    assert counter.sent == 3  # the second went in one round trip
    assert found == (connection("c1"), '[3,"m2",{}]')


def test_a_call_lookup_reconnects_when_redis_dropped_its_connection(calls, registry, replay,
                                                                    redis_client):
    registry.register(connection("c1"))
    calls.lookup_call("c1", "m0")
    replay.put("CP1", "m1", '[3,"m1",{}]')
    # Given Redis closed this thread's connection (a failover, an idle timeout)
    redis_client.execute_command("CLIENT", "KILL", "ID", redis_client.client_id())

    assert calls.lookup_call("c1", "m1") == (connection("c1"), '[3,"m1",{}]')
    replay.put("CP1", "m2", '[3,"m2",{}]')
    assert calls.lookup_call("c1", "m2") == (connection("c1"), '[3,"m2",{}]')


def test_an_error_reply_leaves_no_stray_reply_for_the_next_call(calls, registry, replay,
                                                                redis_client, key_prefix):
    registry.register(connection("c1"))
    calls.lookup_call("c1", "m0")
    # Given the connection's key of the wrong type: HGETALL answers WRONGTYPE, GET after it
    redis_client.delete(f"{key_prefix}:conn:c1")
    redis_client.set(f"{key_prefix}:conn:c1", "not a hash")

    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        calls.lookup_call("c1", "m1")

    redis_client.delete(f"{key_prefix}:conn:c1")
    registry.register(connection("c1"))
    replay.put("CP1", "m2", '[3,"m2",{}]')
    assert calls.lookup_call("c1", "m2") == (connection("c1"), '[3,"m2",{}]')


def test_a_write_that_fails_mid_call_is_sent_again_on_a_new_connection(calls, registry, replay,
                                                                       monkeypatch):
    registry.register(connection("c1"))
    calls.lookup_call("c1", "m0")
    replay.put("CP1", "m1", '[3,"m1",{}]')
    # Given the socket fails as the next round trip is written (a fault injected in the
    # client: a reset that lands between the pool's check and the write)
    real = redis_connection.AbstractConnection.send_packed_command
    failures = []

    def fails_once(connection, *args, **kwargs):
        if not failures:
            failures.append(connection)
            raise redis.ConnectionError("Connection reset by peer")
        return real(connection, *args, **kwargs)

    monkeypatch.setattr(redis_connection.AbstractConnection, "send_packed_command", fails_once)

    assert calls.lookup_call("c1", "m1") == (connection("c1"), '[3,"m1",{}]')
    assert failures


def test_replies_to_message_ids_with_lone_surrogates_are_found_again(calls, registry, replay):
    registry.register(connection("c1"))
    calls.lookup_call("c1", "m0")
    message_id = "m\udc80\ud800"

    replay.put("CP1", message_id, '[3,"m",{}]')

    assert calls.lookup_call("c1", message_id) == (connection("c1"), '[3,"m",{}]')
    assert calls.lookup_call("c1", "m\udc80") == (connection("c1"), None)


def test_a_call_lookup_on_a_connection_redis_forgot_finds_nothing(calls, registry, replay,
                                                                  redis_client, key_prefix):
    registry.register(connection("c1"))
    replay.put("CP1", "m1", '[3,"m1",{}]')
    calls.lookup_call("c1", "m0")
    # Given Redis lost its data (seed 16): the remembered charge point must not stand in
    redis_client.delete(f"{key_prefix}:conn:c1")

    assert calls.lookup_call("c1", "m1") == (None, None)


def test_a_call_lookup_reads_the_reply_of_the_charge_point_redis_names(calls, registry, replay,
                                                                       redis_client, key_prefix):
    registry.register(connection("c1", cp="CP1"))
    calls.lookup_call("c1", "m0")  # remembers c1 -> CP1
    # Given the connection id now names another charge point (an id reused)
    redis_client.hset(f"{key_prefix}:conn:c1", "cp", "CP2")
    replay.put("CP1", "m1", '[3,"m1",{"from":"CP1"}]')
    replay.put("CP2", "m1", '[3,"m1",{"from":"CP2"}]')

    found, replied = calls.lookup_call("c1", "m1")

    assert found is not None and found.charge_point_id == "CP2"
    assert replied == '[3,"m1",{"from":"CP2"}]'
