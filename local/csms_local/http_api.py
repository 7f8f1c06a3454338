"""The local HTTP API: requests turned into API Gateway HTTP API (payload 2.0) events for
the tenant_api handler, and its results turned back into HTTP responses."""

from __future__ import annotations

import base64
import json
import os
import select
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import IO, Any
from urllib.parse import parse_qsl, urlsplit

ROUTE_KEY = "ANY /v1/{proxy+}"


def http_api_event(
    method: str,
    target: str,
    headers: list[tuple[str, str]],
    body: bytes,
    source_ip: str,
    port: int,
) -> dict[str, Any]:
    """The event API Gateway sends for `method target` on the $default stage."""
    url = urlsplit(target)
    merged: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()  # HTTP APIs deliver header names in lower case
        if key == "cookie":
            cookies.append(value)
            continue
        merged[key] = f"{merged[key]},{value}" if key in merged else value
    query: dict[str, str] = {}
    for name, value in parse_qsl(url.query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    now = datetime.now(UTC)
    text_body = _is_text(merged.get("content-type", "")) and _is_utf8(body)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": ROUTE_KEY,
        "rawPath": url.path,
        "rawQueryString": url.query,
        "headers": merged,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": f"127.0.0.1:{port}",
            "domainPrefix": "127",
            "http": {
                "method": method,
                "path": url.path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": merged.get("user-agent", ""),
            },
            "requestId": uuid.uuid4().hex,
            "routeKey": ROUTE_KEY,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(time.time() * 1000),
        },
        "pathParameters": {"proxy": url.path.removeprefix("/v1/")},
        "isBase64Encoded": bool(body) and not text_body,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if body:
        event["body"] = body.decode("utf-8") if text_body else base64.b64encode(body).decode()
    return event


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _is_text(content_type: str) -> bool:
    kind = content_type.split(";", 1)[0].strip().lower()
    return not kind or kind.startswith("text/") or kind.endswith(("json", "xml", "urlencoded"))


def http_response(result: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body from a handler's payload-2.0 result."""
    body = result.get("body") or ""
    data = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    headers = {k: str(v) for k, v in (result.get("headers") or {}).items()}
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers[name] = ",".join(str(v) for v in values)
    return int(result.get("statusCode", 200)), headers, data


class FunctionError(Exception):
    """The function failed (raised, crashed or ran out of time), as Lambda reports it."""


class _Container:
    def __init__(self, function: str, env: dict[str, str], log: IO[str] | None) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "csms_local.lambda_worker", function],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            env=env,
            text=True,
            bufsize=1,
        )

    def invoke(self, event: dict[str, Any], timeout: float) -> dict[str, Any]:
        process = self._process
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(json.dumps(event) + "\n")
        process.stdin.flush()
        ready, _, _ = select.select([process.stdout], [], [], timeout)
        if not ready:
            self.stop()
            raise FunctionError(f"timed out after {timeout:.0f} s")
        line = process.stdout.readline()
        if not line:
            raise FunctionError(f"the function process exited ({process.poll()})")
        answer: dict[str, Any] = json.loads(line)
        if "result" not in answer:
            raise FunctionError(f"{answer.get('errorType')}: {answer.get('errorMessage')}")
        result: dict[str, Any] = answer["result"]
        return result

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        for pipe in (self._process.stdin, self._process.stdout):
            if pipe is not None:
                pipe.close()


class HandlerPool:
    """Warm "containers" of one function, each its own process as on Lambda: a request
    takes an idle one or starts a new one (a cold start), up to `size` at once. The
    environment is the one at the pool's creation, as a deployment fixes it."""

    def __init__(
        self,
        function: str,
        size: int = 4,
        timeout: float = 30.0,
        log: IO[str] | None = None,
    ) -> None:
        self.function = function
        self._env = dict(os.environ)
        self._timeout = timeout
        self._log = log
        self._idle: list[_Container] = []
        self._all: list[_Container] = []
        self._slots = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()

    def set_environment(self, name: str, value: str) -> None:
        """Before the first request: containers started later see the new value."""
        self._env[name] = value

    def _take(self) -> _Container:
        with self._lock:
            while self._idle:
                container = self._idle.pop()
                if container.alive:
                    return container
            container = _Container(self.function, self._env, self._log)
            self._all.append(container)
            return container

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        with self._slots:
            container = self._take()
            try:
                return container.invoke(event, self._timeout)
            finally:
                with self._lock:
                    if container.alive:
                        self._idle.append(container)

    def close(self) -> None:
        with self._lock:
            for container in self._all:
                container.stop()
            self._all.clear()
            self._idle.clear()
