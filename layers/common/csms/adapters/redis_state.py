"""Shared connection state in Redis (ElastiCache on AWS).

Keys (all under a configurable prefix):
  {prefix}:conn:{connectionId}        hash  cp, tenant, subprotocol, connected_at
  {prefix}:cp:{chargePointId}         str   current connectionId
  {prefix}:pending:{chargePointId}    hash  message id -> serialized Call (TTL on the hash)
  {prefix}:replay:{chargePointId}:{messageId}  str  reply frame sent for that Call
"""

from __future__ import annotations

from datetime import datetime

import redis

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


def connect(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        decode_responses=True,
        socket_connect_timeout=2,
        socket_timeout=2,
        health_check_interval=30,
    )


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
        if not fields:
            return None
        return ConnectionInfo(
            connection_id=connection_id,
            charge_point_id=fields["cp"],
            tenant_id=fields["tenant"],
            subprotocol=fields["subprotocol"],
            connected_at=datetime.fromisoformat(fields["connected_at"]),
        )

    def connection_of(self, charge_point_id: str) -> str | None:
        value: str | None = self._r.get(self._cp_key(charge_point_id))  # type: ignore[assignment]
        return value

    def unregister(self, connection: ConnectionInfo) -> bool:
        owned = self._unregister(
            keys=[
                self._conn_key(connection.connection_id),
                self._cp_key(connection.charge_point_id),
            ],
            args=[connection.connection_id],
        )
        return bool(owned)


class RedisPendingCalls:
    """Same layout and semantics as the team's earlier Go store: one hash per charge
    point, message id -> serialized request, the TTL renewed on every add."""

    def __init__(self, client: redis.Redis, prefix: str, ttl_seconds: int = 30) -> None:
        self._r = client
        self._prefix = prefix
        self._ttl = ttl_seconds

    def _key(self, charge_point_id: str) -> str:
        return f"{self._prefix}:pending:{charge_point_id}"

    def add(self, charge_point_id: str, message_id: str, request: str) -> None:
        key = self._key(charge_point_id)
        pipe = self._r.pipeline(transaction=True)
        pipe.hset(key, message_id, request)
        pipe.expire(key, self._ttl)
        pipe.execute()

    def get(self, charge_point_id: str, message_id: str) -> str | None:
        value: str | None = self._r.hget(self._key(charge_point_id), message_id)  # type: ignore[assignment]
        return value

    def has(self, charge_point_id: str, message_id: str) -> bool:
        return bool(self._r.hexists(self._key(charge_point_id), message_id))

    def delete(self, charge_point_id: str, message_id: str) -> bool:
        return bool(self._r.hdel(self._key(charge_point_id), message_id))

    def clear(self, charge_point_id: str) -> None:
        self._r.delete(self._key(charge_point_id))


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
        self._r.set(self._key(charge_point_id, message_id), response, ex=self._ttl)
