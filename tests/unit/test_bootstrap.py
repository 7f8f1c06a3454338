"""The composition root: given parts are used as they are, nothing else is built until
asked for, and an installed Wiring is what the handlers reach."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from csms import bootstrap
from csms.config import Settings
from csms.domain.model import ConnectionInfo
from csms.entrypoints.websocket import on_message

from tests.fakes.wiring import memory_wiring

AT = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def test_a_handler_runs_on_the_installed_wiring():
    wiring = memory_wiring()
    wiring.connection_registry.register(ConnectionInfo("c1", "CP-1", "t1", "ocpp1.6", AT))

    with bootstrap.using(wiring):
        reply = on_message({"requestContext": {"connectionId": "c1"},
                            "body": json.dumps([2, "h1", "Heartbeat", {}])})

    [kind, message_id, payload] = json.loads(reply["body"])
    assert (kind, message_id) == (3, "h1") and "currentTime" in payload


def test_services_built_from_given_parts_open_no_client():
    wiring = memory_wiring()

    for service in ("message_service", "connect_service", "fleet_service", "command_sweeper",
                    "record_applier", "records"):
        getattr(wiring, service)

    # cached_property keeps what it built on the instance: no Redis or MongoDB client.
    assert "redis" not in vars(wiring) and "mongo" not in vars(wiring)


def test_a_given_record_queue_wins_over_the_configured_one():
    class Keep:
        def __init__(self) -> None:
            self.envelopes: list[dict] = []

        def send(self, envelopes) -> None:
            self.envelopes.extend(envelopes)

    queue = Keep()
    wiring = memory_wiring(Settings(events_queue_url="https://sqs.invalid/q.fifo"),
                           record_queue=queue)

    wiring.records.heartbeat("t1", "CP-1", AT)
    wiring.records.flush()

    assert len(queue.envelopes) == 1


def test_using_puts_back_what_was_installed_before():
    outer, inner = memory_wiring(), memory_wiring()
    with bootstrap.using(outer):
        with bootstrap.using(inner):
            assert bootstrap.current() is inner
        assert bootstrap.current() is outer


def test_reset_makes_the_next_call_read_the_environment(monkeypatch):
    with bootstrap.using(memory_wiring()):
        monkeypatch.setenv("REDIS_KEY_PREFIX", "from-env")
        bootstrap.reset()
        assert bootstrap.settings().redis_key_prefix == "from-env"
