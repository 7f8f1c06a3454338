"""The one place that reads settings and wires adapters into services.

Each Lambda container builds what it needs once, on first use, and reuses the clients
(connection pools) across invocations.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from csms.config import Settings, mongodb_uri_from_secret
from csms.ports import ConnectionGateway, EventPublisher, RecordQueue
from csms.protocol.router import Router
from csms.services.charging import ChargingService
from csms.services.commands import CommandService
from csms.services.connect import ConnectService
from csms.services.messages import MessageService
from csms.services.record_applier import RecordApplier, StoreNow
from csms.services.records import BufferedRecords
from csms.versions import CentralSystemParts, VersionPlugin, by_subprotocol, v16, v201

if TYPE_CHECKING:  # adapters import their drivers; load them only when wired
    from csms.adapters.jwt_tokens import TokenVerifier
    from csms.adapters.mongo import MongoDirectory, MongoTenantStore
    from csms.adapters.mongo_queries import MongoTenantQueries
    from csms.adapters.redis_state import (
        RedisCommandQueue,
        RedisConnectionRegistry,
        RedisPendingCalls,
        RedisRateLimiter,
        RedisReplayCache,
        RedisVerifiedCredentials,
    )
    from csms.adapters.sqs import SqsDeadLetters
    from csms.ports import TenantStore
    from csms.services.command_sweep import CommandSweeper
    from csms.services.fleet import FleetService



def utc_now() -> datetime:
    return datetime.now(UTC)


@cache
def settings() -> Settings:
    return Settings.from_env()


@cache
def _redis() -> Any:
    from csms.adapters import redis_state

    return redis_state.connect(settings().redis_url)


@cache
def _mongo() -> Any:
    from csms.adapters import mongo

    return mongo.connect(_mongodb_uri())


def _mongodb_uri() -> str:
    s = settings()
    if not s.mongodb_secret_arn:
        return s.mongodb_uri
    import json

    secret = json.loads(_secret_string(s.mongodb_secret_arn))
    return mongodb_uri_from_secret(secret, s.mongodb_tls_ca_file)


def _secret_string(arn: str) -> str:
    import boto3  # only on AWS, once per container

    client = boto3.client("secretsmanager", region_name=settings().aws_region)
    value: str = client.get_secret_value(SecretId=arn)["SecretString"]
    return value


@cache
def token_verifier() -> TokenVerifier:
    from csms.adapters.jwt_tokens import TokenVerifier, jwks_key_resolver

    s = settings()
    if s.jwt_jwks_url:
        keys = jwks_key_resolver(s.jwt_jwks_url)
        return TokenVerifier("RS256", keys, s.jwt_issuer, s.jwt_audience)
    secret = s.jwt_secret or (_secret_string(s.jwt_secret_arn) if s.jwt_secret_arn else None)
    if not secret:
        raise RuntimeError("set JWT_SECRET, JWT_SECRET_ARN or JWT_JWKS_URL for the tenant API")
    return TokenVerifier("HS256", secret.strip(), s.jwt_issuer, s.jwt_audience)


@cache
def fleet_service() -> FleetService:
    from csms.services.fleet import FleetService

    return FleetService(
        directory=directory(),
        store=tenant_store(),
        registry=connection_registry(),
        gateway=_gateway_from_settings,
        clock=utc_now,
        records=records(),
    )


def tenant_queries(tenant_id: str) -> MongoTenantQueries:
    from csms.adapters.mongo import tenant_database_name
    from csms.adapters.mongo_queries import MongoTenantQueries

    return MongoTenantQueries(_mongo()[tenant_database_name(tenant_id)])


@cache
def directory() -> MongoDirectory:
    from csms.adapters.mongo import MongoDirectory

    return MongoDirectory(_mongo())


@cache
def tenant_store() -> MongoTenantStore:
    from csms.adapters.mongo import MongoTenantStore

    return MongoTenantStore(_mongo())


@cache
def connection_registry() -> RedisConnectionRegistry:
    from csms.adapters.redis_state import RedisConnectionRegistry

    s = settings()
    return RedisConnectionRegistry(_redis(), s.redis_key_prefix, s.connection_ttl_seconds)


@cache
def pending_calls() -> RedisPendingCalls:
    from csms.adapters.redis_state import RedisPendingCalls

    s = settings()
    return RedisPendingCalls(_redis(), s.redis_key_prefix, s.pending_call_ttl_seconds)


@cache
def command_queue() -> RedisCommandQueue:
    from csms.adapters.redis_state import RedisCommandQueue

    s = settings()
    return RedisCommandQueue(
        _redis(), s.redis_key_prefix, s.pending_call_ttl_seconds, s.command_queue_ttl_seconds
    )


@cache
def rate_limiter() -> RedisRateLimiter:
    from csms.adapters.redis_state import RedisRateLimiter

    return RedisRateLimiter(_redis(), settings().redis_key_prefix)


@cache
def replay_cache() -> RedisReplayCache:
    from csms.adapters.redis_state import RedisReplayCache

    s = settings()
    return RedisReplayCache(_redis(), s.redis_key_prefix, s.replay_ttl_seconds)


def connection_gateway(endpoint: str | None) -> ConnectionGateway:
    from csms.adapters.apigw import ApiGatewayConnections

    s = settings()
    url = s.websocket_management_endpoint or endpoint
    if not url:
        raise RuntimeError("no @connections endpoint known")
    return ApiGatewayConnections(url, s.aws_region)


@cache
def versions() -> dict[str, VersionPlugin]:
    """The OCPP versions this CSMS speaks, by subprotocol; the first is the default."""
    return by_subprotocol([v16.plugin(), v201.plugin()])


@cache
def command_service() -> CommandService:
    from csms.versions.password_push import command_vocabularies

    s = settings()
    return CommandService(
        registry=connection_registry(),
        queue=command_queue(),
        pending=pending_calls(),
        store=tenant_store(),
        # Built when first needed: only sending a command uses the @connections API.
        gateway=_gateway_from_settings,
        vocabularies=command_vocabularies(versions()),
        directory=directory(),
        clock=utc_now,
        answer_timeout=timedelta(seconds=s.pending_call_ttl_seconds),
        queue_timeout=timedelta(seconds=s.command_queue_ttl_seconds),
        records=records(),
    )


@cache
def _gateway_from_settings() -> ConnectionGateway:
    return connection_gateway(None)


@cache
def event_publisher() -> EventPublisher:
    s = settings()
    if s.mqtt_url:
        from csms.adapters.mqtt import MqttPublisher

        return MqttPublisher(s.mqtt_url)
    from csms.adapters.iot import IotDataPublisher

    return IotDataPublisher(s.iot_data_endpoint, s.aws_region)


@cache
def dead_letters() -> SqsDeadLetters:
    from csms.adapters.sqs import SqsDeadLetters

    s = settings()
    if not s.events_dead_letter_queue_url:
        raise RuntimeError("set EVENTS_DLQ_URL for the event worker")
    return SqsDeadLetters(s.events_dead_letter_queue_url, s.aws_region)


@cache
def record_applier() -> RecordApplier:
    return RecordApplier(tenant_store(), directory())


@cache
def records() -> BufferedRecords:
    """This container's runtime records: to SQS when a queue is configured, else stored
    (and published, when a broker is configured) in the same invocation."""
    s = settings()
    queue: RecordQueue
    if s.events_queue_url:
        from csms.adapters.sqs import SqsRecordQueue

        queue = SqsRecordQueue(s.events_queue_url, s.aws_region)
    else:
        queue = StoreNow(record_applier(), event_publisher() if s.mqtt_url else None)
    return BufferedRecords(queue)


def charging_service(store: TenantStore | None = None) -> ChargingService:
    return ChargingService(store or tenant_store(), records(), directory())


def routers(store: TenantStore, clock: Callable[[], datetime] = utc_now) -> dict[str, Router]:
    parts = CentralSystemParts(
        charging=charging_service(store),
        directory=directory(),
        clock=clock,
        heartbeat_interval=settings().heartbeat_interval_seconds,
        store=store,
        records=records(),
    )
    return {name: plugin.router(parts) for name, plugin in versions().items()}


@cache
def message_service() -> MessageService:
    store = tenant_store()
    return MessageService(
        registry=connection_registry(),
        replay=replay_cache(),
        pending=pending_calls(),
        routers=routers(store),
        default_version=next(iter(versions().values())).version,
        clock=utc_now,
        commands=command_service(),
        records=records(),
    )


@cache
def connect_service() -> ConnectService:
    return ConnectService(
        directory=directory(),
        registry=connection_registry(),
        store=tenant_store(),
        gateway=connection_gateway,
        supported_subprotocols=tuple(versions()),
        clock=utc_now,
        records=records(),
        commands=command_service(),
        verified=verified_credentials(),
        credential_key=_credential_key(),
    )


@cache
def verified_credentials() -> RedisVerifiedCredentials | None:
    from csms.adapters.redis_state import RedisVerifiedCredentials

    s = settings()
    if s.credential_cache_seconds <= 0:
        return None
    return RedisVerifiedCredentials(_redis(), s.redis_key_prefix, s.credential_cache_seconds)


@cache
def _credential_key() -> bytes | None:
    s = settings()
    if s.credential_cache_key_arn and not s.credential_cache_key:
        return _secret_string(s.credential_cache_key_arn).strip().encode()
    return s.credential_cache_key.encode() if s.credential_cache_key else None


@cache
def command_sweeper() -> CommandSweeper:
    from csms.services.command_sweep import CommandSweeper

    return CommandSweeper(
        directory=directory(), store=tenant_store(), commands=command_service(), clock=utc_now
    )


def reset() -> None:
    """Forget every wired object, so the next call re-reads the environment (tests)."""
    for factory in (settings, _redis, _mongo, directory, tenant_store, connection_registry,
                    pending_calls, replay_cache, message_service, connect_service,
                    command_queue, rate_limiter, versions, command_service,
                    _gateway_from_settings, token_verifier, fleet_service, event_publisher,
                    record_applier, records, dead_letters, command_sweeper,
                    verified_credentials, _credential_key):
        factory.cache_clear()
