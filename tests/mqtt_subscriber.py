"""A subscriber on the real broker, collecting what arrives (for event tests)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt


class Subscriber:
    def __init__(self, url: str, topic: str = "#") -> None:
        parts = urlsplit(url)
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self._arrived = threading.Condition()
        subscribed = threading.Event()
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        client.on_subscribe = lambda *_: subscribed.set()
        client.on_message = self._on_message
        client.connect(parts.hostname or "127.0.0.1", parts.port or 1883)
        client.loop_start()
        if not subscribed.wait(10):
            raise TimeoutError("the broker did not confirm the subscription")
        self._client = client

    def _on_message(self, _client: Any, _userdata: Any, message: Any) -> None:
        with self._arrived:
            self.messages.append((message.topic, json.loads(message.payload)))
            self._arrived.notify_all()

    def wait_for(self, predicate, timeout: float = 15.0) -> list[tuple[str, dict[str, Any]]]:
        """The messages so far, once `predicate(messages)` holds (or the time is up)."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while not predicate(self.messages):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._arrived.wait(remaining)
            return list(self.messages)

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()
