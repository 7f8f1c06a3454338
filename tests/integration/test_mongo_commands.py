"""The command log's sweep queries against a real MongoDB-wire server (SecantusDB)."""

from datetime import UTC, datetime, timedelta

import pytest
from csms.adapters.mongo import MongoTenantStore
from csms.domain.commands import Command, CommandStatus

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


@pytest.fixture
def commands(mongo_client, tenant_id):
    tenant = MongoTenantStore(mongo_client).for_tenant(tenant_id)
    tenant.ensure_indexes()
    yield tenant.commands
    mongo_client.drop_database(tenant.db.name)


def command(command_id: str, cp: str, status: CommandStatus, expires_in: float) -> Command:
    return Command(command_id, cp, "Reset", {"type": "Soft"}, status, T0,
                   T0 + timedelta(seconds=expires_in))


def test_overdue_finds_waiting_commands_past_their_deadline_oldest_first(commands):
    commands.insert(command("late-sent", "CP1", CommandStatus.SENT, 30))
    commands.insert(command("later-queued", "CP2", CommandStatus.QUEUED, 60))
    commands.insert(command("in-time", "CP1", CommandStatus.SENT, 300))
    commands.insert(command("done", "CP1", CommandStatus.COMPLETED, 10))

    overdue = commands.overdue(T0 + timedelta(seconds=120), limit=10)

    assert [c.command_id for c in overdue] == ["late-sent", "later-queued"]


def test_overdue_is_bounded_by_its_limit(commands):
    for n in range(5):
        commands.insert(command(f"c{n}", "CP1", CommandStatus.QUEUED, n))

    assert len(commands.overdue(T0 + timedelta(hours=1), limit=3)) == 3


def test_queued_charge_points_lists_each_charger_with_waiting_commands_once(commands):
    commands.insert(command("a", "CP2", CommandStatus.QUEUED, 60))
    commands.insert(command("b", "CP2", CommandStatus.QUEUED, 60))
    commands.insert(command("c", "CP1", CommandStatus.QUEUED, 60))
    commands.insert(command("d", "CP3", CommandStatus.SENT, 60))

    assert commands.queued_charge_points(limit=10) == ["CP1", "CP2"]
