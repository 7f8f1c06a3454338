"""Sites against a real MongoDB-wire server: a charger in one site at most, the shares the
controller keeps, EV needs, and the lease that keeps two runs of a site apart."""

from datetime import UTC, datetime, timedelta

import pytest
from csms.adapters.mongo import MongoTenantStore
from csms.adapters.mongo_sites import (
    ChargePointInAnotherSite,
    MongoSites,
    SiteExists,
    sites_database,
)
from csms.domain.charging_profiles import RateUnit
from csms.services.site_limit import Need, Share, Site

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.fixture
def sites(mongo_client, tenant_id):
    data = MongoTenantStore(mongo_client).for_tenant(tenant_id)
    store = MongoSites(sites_database(mongo_client, tenant_id))
    store.ensure_indexes()
    yield store
    mongo_client.drop_database(data.db.name)


def site(site_id="depot", cps=("CP1", "CP2"), limit=32.0) -> Site:
    return Site(site_id, "Depot", limit, RateUnit.AMPERES, tuple(cps), None, T0, T0)


def test_create_get_list_update_delete(sites):
    created = sites.create(site())
    assert created == site()
    assert sites.get("depot") == site()
    sites.create(site("yard", cps=("CP3",), limit=22000.0))
    assert [s.site_id for s in sites.all(10, 0)] == ["depot", "yard"]
    assert [s.site_id for s in sites.all(1, 1)] == ["yard"]

    updated = sites.update("depot", {"limit": 40.0, "unit": RateUnit.AMPERES}, T0 + timedelta(1))
    assert updated is not None and updated.limit == 40.0
    assert updated.updated_at == T0 + timedelta(1)
    assert sites.update("nowhere", {"limit": 1.0}, T0) is None

    assert sites.delete("depot")
    assert sites.get("depot") is None
    assert sites.site_of("CP1") is None  # its chargers are free again
    assert not sites.delete("depot")


def test_a_site_id_is_unique(sites):
    sites.create(site())
    with pytest.raises(SiteExists):
        sites.create(site(cps=()))


def test_a_charger_belongs_to_one_site_at_most(sites):
    sites.create(site())
    with pytest.raises(ChargePointInAnotherSite) as refused:
        sites.create(site("yard", cps=("CP9", "CP2")))
    assert refused.value.site_id == "depot"
    assert sites.get("yard") is None  # all or nothing
    assert sites.site_of("CP9") is None

    sites.create(site("yard", cps=()))
    with pytest.raises(ChargePointInAnotherSite):
        sites.assign("yard", ["CP1"])
    sites.assign("depot", ["CP1", "CP7"])  # again: nothing changes for CP1
    assert sites.get("depot").charge_point_ids == ("CP1", "CP2", "CP7")
    assert sites.unassign("depot", "CP1")
    assert not sites.unassign("yard", "CP2")
    sites.assign("yard", ["CP1"])
    assert sites.site_of("CP1").site_id == "yard"


def test_shares_are_replaced_whole(sites):
    sites.create(site())
    first = [Share("CP1", 1, "7", 16.0, T0, "c1"), Share("CP2", 1, "tx-a", 16.0, T0, None)]
    sites.save_shares("depot", first)
    assert sites.shares("depot") == first
    sites.save_shares("depot", [Share("CP1", 1, "7", 32.0, T0, "c2")])
    assert [(s.key, s.limit) for s in sites.shares("depot")] == [("CP1|1|7", 32.0)]


def test_the_latest_need_of_an_evse_counts(sites):
    sites.record_need(Need("CP1", 1, T0, 16.0, None))
    sites.record_need(Need("CP1", 1, T0 + timedelta(minutes=1), 10.0, 6900.0))
    sites.record_need(Need("CP2", 2, T0, 32.0, None))
    sites.record_need(Need("CP3", 1, T0, 32.0, None))
    found = sorted(sites.needs(["CP1", "CP2"]), key=lambda n: n.charge_point_id)
    assert [(n.charge_point_id, n.evse_id, n.max_current_a, n.max_power_w) for n in found] == [
        ("CP1", 1, 10.0, 6900.0), ("CP2", 2, 32.0, None)]


def test_one_lease_at_a_time_and_the_dirty_mark(sites):
    sites.create(site())
    assert not sites.is_dirty("depot")
    sites.mark_dirty("depot")
    assert sites.lease("depot", "a", T0 + timedelta(minutes=1), T0)
    assert not sites.lease("depot", "b", T0 + timedelta(minutes=1), T0)
    assert not sites.take_dirty("depot", "b")  # only the holder takes it
    assert sites.take_dirty("depot", "a")
    assert not sites.take_dirty("depot", "a")
    sites.release("depot", "a")
    assert sites.lease("depot", "b", T0 + timedelta(minutes=1), T0)
    # An expired lease is taken over (a worker that died while holding it).
    assert sites.lease("depot", "c", T0 + timedelta(minutes=3), T0 + timedelta(minutes=2))
    sites.release("depot", "b")  # not its lease any more: nothing happens
    assert not sites.lease("depot", "d", T0 + timedelta(minutes=4), T0 + timedelta(minutes=2))
