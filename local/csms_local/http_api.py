"""The local HTTP API: requests turned into API Gateway HTTP API (payload 2.0) events for
the tenant_api handler, and its results turned back into HTTP responses."""

from __future__ import annotations

import base64
import queue
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from csms_local.lambdas import LambdaContext, LambdaHandler, load_handler

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
    text_body = _is_text(merged.get("content-type", ""))
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


class HandlerPool:
    """Several warm "containers" of one function, as Lambda runs concurrent requests:
    each copy of the handler module (and its resolver) serves one request at a time."""

    def __init__(
        self,
        function: str,
        size: int = 4,
        loader: Callable[[str], LambdaHandler] = load_handler,
    ) -> None:
        self.function = function
        self._idle: queue.Queue[LambdaHandler] = queue.Queue()
        for _ in range(size):
            self._idle.put(loader(function))

    @contextmanager
    def _container(self) -> Iterator[LambdaHandler]:
        handler = self._idle.get()
        try:
            yield handler
        finally:
            self._idle.put(handler)

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        with self._container() as handler:
            context = LambdaContext(self.function, event["requestContext"]["requestId"])
            return handler(event, context)
