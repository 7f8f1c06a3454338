"""A small AWS JSON-protocol client (SigV4-signed HTTPS POST) for the hot path.

$default sends one SQS message per invocation. boto3 would add about 300 ms to every
cold start (botocore's import and client creation) for that one call, so the message
functions use this instead; the event worker keeps boto3.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit


class AwsError(Exception):
    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(f"{status} {error_type}: {message}")
        self.status = status
        self.error_type = error_type


_KEEP_ALIVE = {"connection": "keep-alive"}


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def sigv4_headers(
    *,
    service: str,
    region: str,
    host: str,
    target: str,
    body: bytes,
    access_key: str,
    secret_key: str,
    session_token: str | None,
    now: datetime,
    content_type: str = "application/x-amz-json-1.0",
) -> dict[str, str]:
    """The headers of a signed `POST /` (AWS Signature Version 4)."""
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    headers = {
        "content-type": content_type,
        "host": host,
        "x-amz-date": amz_date,
        "x-amz-target": target,
    }
    if session_token:
        headers["x-amz-security-token"] = session_token
    signed = ";".join(sorted(headers))
    canonical = "\n".join(
        [
            "POST",
            "/",
            "",
            "".join(f"{name}:{headers[name].strip()}\n" for name in sorted(headers)),
            signed,
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = _hmac(("AWS4" + secret_key).encode(), day)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
        f"SignedHeaders={signed}, Signature={signature}"
    )
    return headers


class AwsJsonClient:
    """One AWS service over its JSON protocol, with a kept-alive connection per thread
    (the local gateway runs handlers in threads; on Lambda there is one)."""

    def __init__(
        self,
        service: str,
        target_prefix: str,
        region: str,
        endpoint_url: str | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 5.0,
    ) -> None:
        env = os.environ if env is None else env
        url = (
            endpoint_url
            or env.get(f"AWS_ENDPOINT_URL_{service.upper()}")
            or env.get("AWS_ENDPOINT_URL")
            or f"https://{service}.{region}.amazonaws.com"
        )
        parts = urlsplit(url)
        self._https = parts.scheme == "https"
        self._host = parts.netloc
        self._service = service
        self._target_prefix = target_prefix
        self._region = region
        self._timeout = timeout
        self._env = env
        self._local = threading.local()
        # Every thread's connection, so close() reaches those of threads gone or idle.
        self._connections: set[http.client.HTTPConnection] = set()
        self._connections_lock = threading.Lock()

    def _connection(self) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            factory = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            connection = factory(self._host, timeout=self._timeout)
            self._local.connection = connection
            with self._connections_lock:
                self._connections.add(connection)
        return connection

    def _drop(self, connection: http.client.HTTPConnection) -> None:
        connection.close()
        self._local.connection = None
        with self._connections_lock:
            self._connections.discard(connection)

    def close(self) -> None:
        """Closes every thread's connection (a thread calling again opens a new one)."""
        with self._connections_lock:
            connections, self._connections = self._connections, set()
        for connection in connections:
            connection.close()

    def call(self, action: str, params: Mapping[str, Any]) -> dict[str, Any]:
        body = json.dumps(params, separators=(",", ":")).encode()
        # Read per call: Lambda may hand a container refreshed credentials.
        headers = sigv4_headers(
            service=self._service,
            region=self._region,
            host=self._host,
            target=f"{self._target_prefix}.{action}",
            body=body,
            access_key=self._env["AWS_ACCESS_KEY_ID"],
            secret_key=self._env["AWS_SECRET_ACCESS_KEY"],
            session_token=self._env.get("AWS_SESSION_TOKEN"),
            now=datetime.now(UTC),
        )
        for attempt in (1, 2):
            connection = self._connection()
            try:
                # Asked for explicitly: some servers (hypercorn behind LocalStack) close
                # the connection after each answer to a client that does not ask.
                connection.request("POST", "/", body, headers | _KEEP_ALIVE)
                response = connection.getresponse()
                data = response.read()
                break
            except (http.client.HTTPException, OSError):
                # A kept-alive connection the server closed meanwhile: one fresh try.
                self._drop(connection)
                if attempt == 2:
                    raise
        answer: dict[str, Any] = json.loads(data) if data else {}
        if response.status != 200:
            error_type = str(answer.get("__type", "")).rsplit("#", 1)[-1] or "Unknown"
            raise AwsError(response.status, error_type, str(answer.get("message", "")))
        return answer
