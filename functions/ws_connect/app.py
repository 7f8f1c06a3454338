"""$connect route of the WebSocket API."""

from typing import Any

from csms.entrypoints import websocket


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return websocket.on_connect(event)
