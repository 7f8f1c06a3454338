"""Settings, read from the environment once per Lambda container (the same names locally)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    mongodb_uri: str = "mongodb://127.0.0.1:27017"
    # On AWS the URI comes from Secrets Manager instead (see mongodb_uri_from_secret).
    mongodb_secret_arn: str | None = None
    mongodb_tls_ca_file: str = "/opt/python/global-bundle.pem"
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_key_prefix: str = "csms"
    pending_call_ttl_seconds: int = 30
    # How long a command queued for an offline charger waits for it to come back.
    command_queue_ttl_seconds: int = 3600
    replay_ttl_seconds: int = 600
    # API Gateway closes connections after 2 h; registry entries last a little longer.
    connection_ttl_seconds: int = 9000
    heartbeat_interval_seconds: int = 300
    # Where the @connections API is; on AWS derived from each event when unset.
    websocket_management_endpoint: str | None = None
    aws_region: str | None = None
    # Tenant API tokens: HS256 with JWT_SECRET (or the secret at JWT_SECRET_ARN), or RS256
    # with the keys at JWT_JWKS_URL. Issuer and audience are always checked.
    jwt_secret: str | None = None
    jwt_secret_arn: str | None = None
    jwt_jwks_url: str | None = None
    jwt_issuer: str = "csms"
    jwt_audience: str = "csms-tenant-api"
    # Runtime records go to this SQS queue for the event worker; unset: stored inline.
    events_queue_url: str | None = None
    events_dead_letter_queue_url: str | None = None
    # The worker's attempts at a record before it goes to the dead-letter queue.
    event_max_attempts: int = 5
    # FIFO message groups of the events queue: 0, one per charge point (its records stay
    # in order; the worker scales with the charge points that have records waiting); n,
    # a tenant's charge points spread over n groups, whose records sent together travel
    # as one SQS message. Worth it only where invocations share a process (make run).
    event_groups_per_tenant: int = 0
    # Events: a local MQTT broker (mqtt://host:port), else IoT Core (endpoint looked up
    # when IOT_DATA_ENDPOINT is unset).
    mqtt_url: str | None = None
    iot_data_endpoint: str | None = None
    # $connect skips the scrypt check for a login verified within this many seconds
    # (a keyed hash in Redis); needs CREDENTIAL_CACHE_KEY or the secret at
    # CREDENTIAL_CACHE_KEY_ARN, else every login is checked in full. 0 turns it off.
    credential_cache_seconds: int = 9000
    credential_cache_key: str | None = None
    credential_cache_key_arn: str | None = None
    # The tenants' CA for CertificateSigned: on AWS a Secrets Manager secret holding the
    # PEM key and certificate ("{tenant_id}" in the ARN: one secret per tenant); locally
    # a CA generated per tenant in LOCAL_CA_DIR, its key encrypted with the passphrase.
    tenant_ca_secret_arn: str | None = None
    # Or an ACM Private CA (its ARN) that signs for every tenant, the key never leaving
    # AWS; certificates valid this many days. It wins over TENANT_CA_SECRET_ARN when both
    # are set: an operator who moved to a Private CA should not sign with a key left
    # behind in a secret.
    tenant_ca_private_ca_arn: str | None = None
    tenant_ca_private_ca_validity_days: int = 365
    local_ca_dir: str | None = None
    local_ca_passphrase: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        defaults = cls()
        return cls(
            mongodb_uri=env.get("MONGODB_URI", defaults.mongodb_uri),
            mongodb_secret_arn=None if "MONGODB_URI" in env else env.get("MONGODB_SECRET_ARN"),
            mongodb_tls_ca_file=env.get("MONGODB_TLS_CA_FILE", defaults.mongodb_tls_ca_file),
            redis_url=env.get("REDIS_URL", defaults.redis_url),
            redis_key_prefix=env.get("REDIS_KEY_PREFIX", defaults.redis_key_prefix),
            pending_call_ttl_seconds=int(
                env.get("PENDING_CALL_TTL_SECONDS", defaults.pending_call_ttl_seconds)
            ),
            command_queue_ttl_seconds=int(
                env.get("COMMAND_QUEUE_TTL_SECONDS", defaults.command_queue_ttl_seconds)
            ),
            replay_ttl_seconds=int(env.get("REPLAY_TTL_SECONDS", defaults.replay_ttl_seconds)),
            connection_ttl_seconds=int(
                env.get("CONNECTION_TTL_SECONDS", defaults.connection_ttl_seconds)
            ),
            heartbeat_interval_seconds=int(
                env.get("HEARTBEAT_INTERVAL_SECONDS", defaults.heartbeat_interval_seconds)
            ),
            websocket_management_endpoint=env.get("WEBSOCKET_MANAGEMENT_ENDPOINT") or None,
            aws_region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,
            jwt_secret=env.get("JWT_SECRET") or None,
            jwt_secret_arn=env.get("JWT_SECRET_ARN") or None,
            jwt_jwks_url=env.get("JWT_JWKS_URL") or None,
            jwt_issuer=env.get("JWT_ISSUER", defaults.jwt_issuer),
            jwt_audience=env.get("JWT_AUDIENCE", defaults.jwt_audience),
            events_queue_url=env.get("EVENTS_QUEUE_URL") or None,
            events_dead_letter_queue_url=env.get("EVENTS_DLQ_URL") or None,
            event_max_attempts=int(env.get("EVENT_MAX_ATTEMPTS", defaults.event_max_attempts)),
            event_groups_per_tenant=int(
                env.get("EVENT_GROUPS_PER_TENANT", defaults.event_groups_per_tenant)
            ),
            mqtt_url=env.get("MQTT_URL") or None,
            iot_data_endpoint=env.get("IOT_DATA_ENDPOINT") or None,
            credential_cache_seconds=int(
                env.get("CREDENTIAL_CACHE_SECONDS", defaults.credential_cache_seconds)
            ),
            credential_cache_key=env.get("CREDENTIAL_CACHE_KEY") or None,
            credential_cache_key_arn=env.get("CREDENTIAL_CACHE_KEY_ARN") or None,
            tenant_ca_secret_arn=env.get("TENANT_CA_SECRET_ARN") or None,
            tenant_ca_private_ca_arn=env.get("TENANT_CA_PRIVATE_CA_ARN") or None,
            tenant_ca_private_ca_validity_days=int(
                env.get("TENANT_CA_PRIVATE_CA_VALIDITY_DAYS",
                        defaults.tenant_ca_private_ca_validity_days)
            ),
            local_ca_dir=env.get("LOCAL_CA_DIR") or None,
            local_ca_passphrase=env.get("LOCAL_CA_PASSPHRASE") or None,
        )


def mongodb_uri_from_secret(secret: Mapping[str, object], tls_ca_file: str) -> str:
    """A secret holding {"uri": ...}, or DocumentDB's attached {host, port, username,
    password}, turned into a connection string (TLS on, retryable writes off)."""
    from urllib.parse import quote_plus

    if "uri" in secret:
        return str(secret["uri"])
    user = quote_plus(str(secret["username"]))
    password = quote_plus(str(secret["password"]))
    return (
        f"mongodb://{user}:{password}@{secret['host']}:{secret.get('port', 27017)}/"
        f"?tls=true&tlsCAFile={tls_ca_file}&replicaSet=rs0"
        "&readPreference=secondaryPreferred&retryWrites=false"
    )
