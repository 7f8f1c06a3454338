"""API Gateway's @connections management API (ConnectionGateway port)."""

from __future__ import annotations

import contextlib
from typing import Any


class ApiGatewayConnections:
    def __init__(self, endpoint_url: str, region: str | None = None) -> None:
        import boto3  # imported here: only reconnects and CSMS-initiated calls need it

        self._client: Any = boto3.client(
            "apigatewaymanagementapi", endpoint_url=endpoint_url, region_name=region
        )
        self._gone = self._client.exceptions.GoneException

    def close(self, connection_id: str) -> None:
        with contextlib.suppress(self._gone):  # already closed: exactly what we wanted
            self._client.delete_connection(ConnectionId=connection_id)

    def post(self, connection_id: str, data: str) -> bool:
        try:
            self._client.post_to_connection(ConnectionId=connection_id, Data=data.encode())
        except self._gone:
            return False
        return True
