"""Events through AWS IoT Core (the iot-data Publish API), QoS 1."""

from __future__ import annotations

import json
from typing import Any


class IotDataPublisher:
    def __init__(self, endpoint: str | None, region: str | None = None) -> None:
        import boto3

        if not endpoint:
            # The account's ATS data endpoint, looked up once per container.
            iot = boto3.client("iot", region_name=region)
            endpoint = iot.describe_endpoint(endpointType="iot:Data-ATS")["endpointAddress"]
        url = endpoint if endpoint.startswith("http") else f"https://{endpoint}"
        self._client: Any = boto3.client("iot-data", endpoint_url=url, region_name=region)

    def publish(self, topic: str, event: dict[str, Any]) -> None:
        self._client.publish(
            topic=topic, qos=1, payload=json.dumps(event, separators=(",", ":")).encode()
        )
