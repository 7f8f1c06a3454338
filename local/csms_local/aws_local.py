"""boto3 clients of the local tools (queue setup, SQS poller, csms-local invoke, csms-admin,
test fixtures), made by localstack-client sessions with its endpoint conventions:

- AWS_ENDPOINT_URL, when set, is the endpoint: the variable the handlers read too, so a
  tool and the handlers it serves reach the same AWS;
- else LOCALSTACK_HOST (`host:port`), else localhost:4566, LocalStack's own default.

A caller that names its LocalStack (`target`, as `host:port` or an http URL) gets that one,
whatever the environment says. The handlers do not use this module: they stay as deployed
and read AWS_ENDPOINT_URL, which the local stack points at its LocalStack.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

from localstack_client import config
from localstack_client.session import Session

REGION = "us-east-1"


def localstack_host(target: str) -> str:
    """`http://127.0.0.1:4566` or `127.0.0.1:4566` -> `127.0.0.1:4566`."""
    if "://" in target:
        netloc = urlsplit(target).netloc
        return netloc if ":" in netloc else f"{netloc}:{config.DEFAULT_EDGE_PORT}"
    return target


class LocalSession(Session):
    """localstack-client's session; an explicit target wins over AWS_ENDPOINT_URL (which
    localstack-client would otherwise prefer), so a fixture's LocalStack is never swapped
    for whatever the shell points at."""

    def __init__(self, target: str | None = None, region_name: str = REGION) -> None:
        host = localstack_host(target) if target else None
        super().__init__(
            # LocalStack takes any credentials; a 12-digit key would pick its account.
            aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID") or "test",
            aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY") or "test",
            region_name=region_name,
            localstack_host=host,
        )
        if host is not None:
            hostname, port = config.parse_localstack_host(host)
            url = f"http://{hostname}:{port}"
            services: dict[str, str] = config.get_service_endpoints(host)
            self._service_endpoint_mapping = dict.fromkeys(services, url)


def session(target: str | None = None, region_name: str = REGION) -> LocalSession:
    return LocalSession(target, region_name)


def client(service: str, target: str | None = None, region_name: str = REGION) -> Any:
    """A boto3 client of `service` on the local AWS (see the module's conventions)."""
    return session(target, region_name).client(service)
