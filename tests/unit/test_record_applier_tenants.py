"""The event worker reads a tenant's settings once per TENANT_CACHE_SECONDS, not per batch."""

from csms.domain.model import Tenant
from csms.services.record_applier import TENANT_CACHE_SECONDS, RecordApplier

from tests.fakes.memory import MemoryDirectory, MemoryTenantStore


def test_a_tenants_settings_are_read_again_only_after_the_cache_period():
    directory = MemoryDirectory()
    directory.create_tenant(Tenant("t1", "T", message_retention_days=30))
    now = [0.0]
    applier = RecordApplier(MemoryTenantStore(), directory, monotonic=lambda: now[0])
    assert applier.tenant("t1").message_retention_days == 30

    directory.update_tenant("t1", {"message_retention_days": 7})
    assert applier.tenant("t1").message_retention_days == 30  # still cached
    now[0] += TENANT_CACHE_SECONDS

    assert applier.tenant("t1").message_retention_days == 7


def test_an_unknown_tenant_gets_the_default_settings():
    applier = RecordApplier(MemoryTenantStore(), MemoryDirectory())

    assert applier.tenant("gone") == Tenant("gone", "gone")
