"""Events to an MQTT broker (the local stack's mosquitto or amqtt), QoS 1."""

from __future__ import annotations

import json
import threading
from typing import Any
from urllib.parse import urlsplit


class MqttPublisher:
    def __init__(self, url: str, timeout: float = 5.0) -> None:
        import paho.mqtt.client as mqtt  # a local-stack dependency; AWS uses IotDataPublisher

        parts = urlsplit(url)
        self._client: Any = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 1883
        self._timeout = timeout
        self._lock = threading.Lock()
        self._connected = False

    def _ensure_connected(self) -> None:
        if not self._connected:
            self._client.connect(self._host, self._port, keepalive=60)
            self._client.loop_start()
            self._connected = True

    def publish(self, topic: str, event: dict[str, Any]) -> None:
        payload = json.dumps(event, separators=(",", ":"))
        with self._lock:
            self._ensure_connected()
            info = self._client.publish(topic, payload, qos=1)
        info.wait_for_publish(self._timeout)  # QoS 1: until the broker's PUBACK
        if not info.is_published():
            raise ConnectionError(f"MQTT broker did not acknowledge {topic}")

    def close(self) -> None:
        if self._connected:
            self._client.loop_stop()
            self._client.disconnect()
            self._connected = False
