"""Shared connection state in Redis (ElastiCache on AWS).

Keys (all under a configurable prefix):
  {prefix}:conn:{connectionId}        hash  cp, tenant, subprotocol, connected_at
  {prefix}:cp:{chargePointId}         str   current connectionId
  {prefix}:pending:{chargePointId}    hash  message id -> serialized Call (TTL on the hash)
  {prefix}:inflight:{chargePointId}   hash  id, conn, deadline: who owns the pending Call
  {prefix}:replay:{chargePointId}:{messageId}  str  reply frame sent for that Call
  {prefix}:cred:{chargePointId}       str   keyed hash of the last verified login
  {prefix}:cmdq:{chargePointId}       list  queued commands, "<commandId> <frame>", oldest first
  {prefix}:cmddone:{commandId}        list  a token pushed when the command is final
  {prefix}:rate:{tenantId}:{minute}   str   API requests counted in that minute
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import redis
from redis._parsers import Encoder
from redis.connection import PythonRespSerializer

from csms.domain.commands import Taken
from csms.domain.model import ConnectionInfo

# Delete the charge point's pointer only if it still names this connection, atomically:
# a reconnect may have replaced it between our read and our delete.
_UNREGISTER = """
local owned = 0
if redis.call('GET', KEYS[2]) == ARGV[1] then
  redis.call('DEL', KEYS[2])
  owned = 1
end
redis.call('DEL', KEYS[1])
return owned
"""


# Move the oldest queued command into the pending hash, but only when nothing is pending:
# OCPP-J allows one outstanding Call per charger, and several Lambdas may try at once.
# A pending Call past its deadline is taken over in the same step (its id is returned
# so the caller can time it out): a charger that never answers cannot block its queue.
# Returns false (busy), or {overdue id or '', '<commandId> <frame>' or ''}.
_TAKE_NEXT = """
local overdue = ''
if redis.call('EXISTS', KEYS[1]) == 1 then
  local deadline = tonumber(redis.call('HGET', KEYS[2], 'deadline'))
  if deadline == nil or deadline > tonumber(ARGV[1]) then
    return false
  end
  overdue = redis.call('HGET', KEYS[2], 'id') or ''
  redis.call('DEL', KEYS[1], KEYS[2])
end
local item = redis.call('LPOP', KEYS[3])
if not item then
  return {overdue, ''}
end
local space = string.find(item, ' ', 1, true)
local command_id = string.sub(item, 1, space - 1)
redis.call('HSET', KEYS[1], command_id, string.sub(item, space + 1))
redis.call('HSET', KEYS[2], 'id', command_id, 'conn', ARGV[2], 'deadline', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return {overdue, item}
"""

# The charger answered: remove its pending Call and, if it was the outstanding command,
# the owner record. Whoever removes the entry owns the outcome.
_TAKE = """
local request = redis.call('HGET', KEYS[1], ARGV[1])
if not request then
  return false
end
redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('HGET', KEYS[2], 'id') == ARGV[1] then
  redis.call('DEL', KEYS[2])
end
return request
"""

# A connection closed or was replaced: the Call outstanding on it can no longer be
# answered. Removes it only when it was sent on that connection; returns its id.
_RELEASE_CONNECTION = """
if redis.call('HGET', KEYS[2], 'conn') ~= ARGV[1] then
  return false
end
local command_id = redis.call('HGET', KEYS[2], 'id')
redis.call('HDEL', KEYS[1], command_id)
redis.call('DEL', KEYS[2])
return command_id
"""

# The sweep: remove a pending Call whose deadline has passed (or whose owner record is
# gone), only if it is still the one named; 1 when this call removed it.
_EXPIRE = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then
  return 0
end
local owner = redis.call('HGET', KEYS[2], 'id')
if owner == ARGV[1] then
  local deadline = tonumber(redis.call('HGET', KEYS[2], 'deadline'))
  if deadline ~= nil and deadline > tonumber(ARGV[2]) then
    return 0
  end
  redis.call('DEL', KEYS[2])
end
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
"""

# Keys of a pending Call live this much longer than its deadline: long enough for the
# sweep to see them, short enough that nothing is left behind if the sweep never runs.
_PENDING_KEY_GRACE_SECONDS = 300


class _Owned:
    """A thread's connection, kept in its thread-local storage: when the thread ends,
    this object goes with it and the connection returns to the pool."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.pid = os.getpid()


class _ThreadConnectionPool(redis.ConnectionPool):
    """Each thread keeps one connection of its own, taken from the pool the first time
    and handed back only when the thread ends. redis-py's pool, on every command, locks,
    counts connections for its metrics and hands a connection over between threads:
    about a third of a command's CPU in the client (measured: 115 -> 78 us per GET), and
    its lock is one more thing the local gateway's 64 handler threads queue on. A Lambda
    has one thread, so one connection either way."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._own = threading.local()

    def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        owned: _Owned | None = getattr(self._own, "owned", None)
        if owned is None or owned.pid != os.getpid():  # first use, or a forked child
            connection = super().get_connection()
            owned = self._own.owned = _Owned(connection)
            weakref.finalize(owned, self._hand_back, connection)
            return connection
        connection = owned.connection
        if connection.should_reconnect():  # a server maintenance notice (RESP3)
            connection.disconnect()
        # As redis-py's own pool does: a connection the server closed (a Redis restart,
        # say) or left with a stray reply is started afresh before it is used.
        try:
            connection.connect()  # a no-op unless an error closed it
            if connection.can_read():
                raise redis.ConnectionError("Connection has data")
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            connection.disconnect()
            connection.connect()
            if connection.can_read():
                raise redis.ConnectionError("Connection not ready") from None
        return connection

    def release(self, connection: Any) -> None:
        owned: _Owned | None = getattr(self._own, "owned", None)
        if owned is None or owned.connection is not connection:
            super().release(connection)

    def _hand_back(self, connection: Any) -> None:
        super().release(connection)


# Message ids are charger input and may hold lone surrogates; keys and values round-trip
# them instead of failing the charger's message.
_ENCODING_ERRORS = "surrogatepass"


def _command_packer() -> PythonRespSerializer:
    """redis-py's own command packer: with hiredis installed (for its faster reply parser)
    redis-py packs commands with hiredis, which refuses lone surrogates whatever the
    client's encoding errors say."""
    encoder = Encoder("utf-8", _ENCODING_ERRORS, decode_responses=True)
    return PythonRespSerializer(6000, encoder.encode)  # redis-py's default buffer cutoff


def connect(url: str) -> redis.Redis:
    pool = _ThreadConnectionPool.from_url(
        url,
        # One connection per thread that ever used Redis (the local gateway runs about
        # 140; a Lambda one), while redis-py's pool refuses a 101st by default.
        max_connections=1024,
        decode_responses=True,
        encoding_errors=_ENCODING_ERRORS,
        command_packer=_command_packer(),
        socket_connect_timeout=2,
        socket_timeout=2,
        health_check_interval=30,
    )
    client = redis.Redis(connection_pool=pool)
    client.auto_close_connection_pool = True  # as Redis.from_url: closing the client closes it
    return client


def _direct(client: redis.Redis, *commands: tuple[Any, ...]) -> list[Any] | None:
    """The replies to `commands`, sent in one round trip on the calling thread's own
    connection, past redis-py's command machinery (its retry wrapper, option checks,
    reply callbacks and metrics hooks: about half of a command's client CPU, and a Call
    sends two round trips). Replies come raw: a hash as RESP2's flat list.

    None when the connection failed: the caller then sends the commands the ordinary
    way, which reconnects and retries as redis-py does. Only for commands that may be
    sent twice with the same effect."""
    pool = client.connection_pool
    if not isinstance(pool, _ThreadConnectionPool):
        return None
    try:
        connection = pool.get_connection()
    except (redis.ConnectionError, redis.TimeoutError, OSError):
        return None
    try:
        connection.send_packed_command([b"".join(_pack(*command) for command in commands)])
        return [connection.read_response() for _ in commands]
    except (redis.ConnectionError, redis.TimeoutError, OSError):
        connection.disconnect()
        return None
    except BaseException:
        # An error reply may leave later replies unread: start the connection afresh.
        connection.disconnect()
        raise
    finally:
        pool.release(connection)


def _pack(*args: str | int) -> bytes:
    """One command in RESP, as redis-py's packer writes it, for strings and integers."""
    pieces = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = str(arg).encode("utf-8", _ENCODING_ERRORS)
        pieces.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(pieces)


def _as_hash(reply: Any) -> dict[str, str]:
    if isinstance(reply, dict):  # RESP3
        return reply
    return dict(zip(reply[::2], reply[1::2], strict=True))


class RedisConnectionRegistry:
    def __init__(self, client: redis.Redis, prefix: str, ttl_seconds: int) -> None:
        self._r = client
        self._prefix = prefix
        # Entries outlive API Gateway's 2 h connection limit only if $disconnect was lost.
        self._ttl = ttl_seconds
        self._unregister = client.register_script(_UNREGISTER)

    def _conn_key(self, connection_id: str) -> str:
        return f"{self._prefix}:conn:{connection_id}"

    def _cp_key(self, charge_point_id: str) -> str:
        return f"{self._prefix}:cp:{charge_point_id}"

    def register(self, connection: ConnectionInfo) -> str | None:
        key = self._conn_key(connection.connection_id)
        pipe = self._r.pipeline(transaction=True)
        pipe.hset(
            key,
            mapping={
                "cp": connection.charge_point_id,
                "tenant": connection.tenant_id,
                "subprotocol": connection.subprotocol,
                "connected_at": connection.connected_at.isoformat(),
            },
        )
        pipe.expire(key, self._ttl)
        pipe.set(
            self._cp_key(connection.charge_point_id),
            connection.connection_id,
            ex=self._ttl,
            get=True,
        )
        previous: str | None = pipe.execute()[-1]
        return previous

    def lookup(self, connection_id: str) -> ConnectionInfo | None:
        fields: dict[str, str] = self._r.hgetall(self._conn_key(connection_id))  # type: ignore[assignment]
        return _connection_info(connection_id, fields)

    def connection_of(self, charge_point_id: str) -> str | None:
        value: str | None = self._r.get(self._cp_key(charge_point_id))  # type: ignore[assignment]
        return value

    def connections_of(self, charge_point_ids: Sequence[str]) -> dict[str, str | None]:
        if not charge_point_ids:
            return {}
        values = self._r.mget([self._cp_key(cp) for cp in charge_point_ids])
        return dict(zip(charge_point_ids, values, strict=True))  # type: ignore[arg-type]

    def unregister(self, connection: ConnectionInfo) -> bool:
        owned = self._unregister(
            keys=[
                self._conn_key(connection.connection_id),
                self._cp_key(connection.charge_point_id),
            ],
            args=[connection.connection_id],
        )
        return bool(owned)


def _connection_info(connection_id: str, fields: dict[str, str]) -> ConnectionInfo | None:
    if not fields:
        return None
    return ConnectionInfo(
        connection_id=connection_id,
        charge_point_id=fields["cp"],
        tenant_id=fields["tenant"],
        subprotocol=fields["subprotocol"],
        connected_at=datetime.fromisoformat(fields["connected_at"]),
    )


class RedisCallLookup:
    """A Call's two reads, who sent it and the reply already sent for its message id, in
    one round trip instead of two: the second key needs the charge point the first one
    names, so it is taken from the last lookup of the same connection in this process
    (a connection belongs to one charge point for life) and checked against the answer.
    The first Call of a connection here, or a wrong guess, costs the second round trip.
    A connection Redis forgot is still not found: the registry is read every time."""

    # Entries are ~200 bytes; when full, the memo starts over (a round trip more each).
    _MAX_REMEMBERED = 50_000

    def __init__(self, registry: RedisConnectionRegistry, replay: RedisReplayCache) -> None:
        self._registry = registry
        self._replay = replay
        self._charge_point_of: dict[str, str] = {}

    def lookup_call(
        self, connection_id: str, message_id: str
    ) -> tuple[ConnectionInfo | None, str | None]:
        guess = self._charge_point_of.get(connection_id)
        if guess is None:
            connection = self._registry.lookup(connection_id)
            if connection is None:
                return None, None
            self._remember(connection)
            return connection, self._replay.get(connection.charge_point_id, message_id)
        conn_key = self._registry._conn_key(connection_id)
        replay_key = self._replay._key(guess, message_id)
        replies = _direct(self._registry._r, ("HGETALL", conn_key), ("GET", replay_key))
        if replies is None:
            pipe = self._registry._r.pipeline(transaction=False)
            pipe.hgetall(conn_key)
            pipe.get(replay_key)
            replies = pipe.execute()
        fields, replied = _as_hash(replies[0]), replies[1]
        connection = _connection_info(connection_id, fields)
        if connection is None:
            self._charge_point_of.pop(connection_id, None)
            return None, None
        if connection.charge_point_id != guess:
            self._remember(connection)
            replied = self._replay.get(connection.charge_point_id, message_id)
        return connection, replied

    def _remember(self, connection: ConnectionInfo) -> None:
        if len(self._charge_point_of) >= self._MAX_REMEMBERED:
            self._charge_point_of.clear()
        self._charge_point_of[connection.connection_id] = connection.charge_point_id


class RedisPendingCalls:
    """Same layout as the team's earlier Go store: one hash per charge point, message
    id -> serialized request. Beside it, `inflight` names the outstanding command's
    connection and deadline, so a closed connection or a silent charger releases it."""

    def __init__(self, client: redis.Redis, prefix: str, ttl_seconds: int = 30) -> None:
        self._r = client
        self._prefix = prefix
        self._ttl = ttl_seconds
        self._take = client.register_script(_TAKE)
        self._release = client.register_script(_RELEASE_CONNECTION)
        self._expire = client.register_script(_EXPIRE)

    def _keys(self, charge_point_id: str) -> list[str]:
        return [
            f"{self._prefix}:pending:{charge_point_id}",
            f"{self._prefix}:inflight:{charge_point_id}",
        ]

    def add(self, charge_point_id: str, message_id: str, request: str) -> None:
        key = self._keys(charge_point_id)[0]
        pipe = self._r.pipeline(transaction=True)
        pipe.hset(key, message_id, request)
        pipe.expire(key, self._ttl)
        pipe.execute()

    def get(self, charge_point_id: str, message_id: str) -> str | None:
        value: str | None = self._r.hget(self._keys(charge_point_id)[0], message_id)  # type: ignore[assignment]
        return value

    def has(self, charge_point_id: str, message_id: str) -> bool:
        return bool(self._r.hexists(self._keys(charge_point_id)[0], message_id))

    def delete(self, charge_point_id: str, message_id: str) -> bool:
        return self._take(keys=self._keys(charge_point_id), args=[message_id]) is not None

    def take(self, charge_point_id: str, message_id: str) -> str | None:
        value = self._take(keys=self._keys(charge_point_id), args=[message_id])
        return None if value is None else str(value)

    def release_connection(self, charge_point_id: str, connection_id: str) -> str | None:
        value = self._release(keys=self._keys(charge_point_id), args=[connection_id])
        return None if value is None else str(value)

    def expire(self, charge_point_id: str, message_id: str, now: datetime) -> bool:
        removed = self._expire(
            keys=self._keys(charge_point_id), args=[message_id, now.timestamp()]
        )
        return bool(removed)

    def clear(self, charge_point_id: str) -> None:
        self._r.delete(*self._keys(charge_point_id))


class RedisVerifiedCredentials:
    """{prefix}:cred:{chargePointId} -> the keyed hash of its last verified login."""

    def __init__(self, client: redis.Redis, prefix: str, ttl_seconds: int) -> None:
        self._r = client
        self._prefix = prefix
        self._ttl = ttl_seconds

    def get(self, charge_point_id: str) -> str | None:
        value: str | None = self._r.get(f"{self._prefix}:cred:{charge_point_id}")  # type: ignore[assignment]
        return value

    def put(self, charge_point_id: str, tag: str) -> None:
        self._r.set(f"{self._prefix}:cred:{charge_point_id}", tag, ex=self._ttl)


class RedisReplayCache:
    def __init__(self, client: redis.Redis, prefix: str, ttl_seconds: int) -> None:
        self._r = client
        self._prefix = prefix
        self._ttl = ttl_seconds

    def _key(self, charge_point_id: str, message_id: str) -> str:
        return f"{self._prefix}:replay:{charge_point_id}:{message_id}"

    def get(self, charge_point_id: str, message_id: str) -> str | None:
        value: str | None = self._r.get(self._key(charge_point_id, message_id))  # type: ignore[assignment]
        return value

    def put(self, charge_point_id: str, message_id: str, response: str) -> None:
        # Sent directly: this runs once for every Call a charger sends.
        command = ("SET", self._key(charge_point_id, message_id), response, "EX", self._ttl)
        if _direct(self._r, command) is None:
            self._r.execute_command(*command)


class RedisCommandQueue:
    def __init__(
        self,
        client: redis.Redis,
        prefix: str,
        pending_ttl_seconds: int,
        queue_ttl_seconds: int,
    ) -> None:
        self._r = client
        self._prefix = prefix
        self._pending_ttl = pending_ttl_seconds
        self._queue_ttl = queue_ttl_seconds
        self._take_next = client.register_script(_TAKE_NEXT)

    def _queue_key(self, charge_point_id: str) -> str:
        return f"{self._prefix}:cmdq:{charge_point_id}"

    def _done_key(self, command_id: str) -> str:
        return f"{self._prefix}:cmddone:{command_id}"

    def push(self, charge_point_id: str, command_id: str, frame: str) -> None:
        if " " in command_id:
            raise ValueError("command ids must not contain spaces")
        key = self._queue_key(charge_point_id)
        pipe = self._r.pipeline(transaction=True)
        pipe.rpush(key, f"{command_id} {frame}")
        pipe.expire(key, self._queue_ttl)
        pipe.execute()

    def take_next(
        self, charge_point_id: str, connection_id: str, now: datetime, answer_by: datetime
    ) -> Taken | None:
        result = self._take_next(
            keys=[
                f"{self._prefix}:pending:{charge_point_id}",
                f"{self._prefix}:inflight:{charge_point_id}",
                self._queue_key(charge_point_id),
            ],
            args=[
                now.timestamp(),
                connection_id,
                answer_by.timestamp(),
                self._pending_ttl + _PENDING_KEY_GRACE_SECONDS,
            ],
        )
        if not result:
            return None
        overdue, item = (str(part) for part in result)
        command_id, _, frame = item.partition(" ")
        return Taken(command_id or None, frame, overdue or None)

    def queued(self, charge_point_id: str) -> int:
        return int(self._r.llen(self._queue_key(charge_point_id)))

    def signal_done(self, command_id: str) -> None:
        key = self._done_key(command_id)
        pipe = self._r.pipeline(transaction=True)
        pipe.rpush(key, "1")
        pipe.expire(key, 60)
        pipe.execute()

    def wait_done(self, command_id: str, seconds: float) -> bool:
        return self._r.blpop([self._done_key(command_id)], timeout=seconds) is not None


class RedisRateLimiter:
    """Fixed one-minute windows per tenant, shared by every Lambda through Redis."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self._r = client
        self._prefix = prefix

    def hit(self, tenant_id: str, limit_per_minute: int, now: float) -> int | None:
        """None when the request may go ahead, else seconds until the next window."""
        minute = int(now // 60)
        key = f"{self._prefix}:rate:{tenant_id}:{minute}"
        pipe = self._r.pipeline(transaction=True)
        pipe.incr(key)
        pipe.expire(key, 120)
        count = int(pipe.execute()[0])
        if count <= limit_per_minute:
            return None
        return max(1, (minute + 1) * 60 - int(now))
