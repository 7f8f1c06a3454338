"""Collections `sites`, `site_members` and `ev_charging_needs` of a tenant's database.

A site document holds the limit, the shares last sent and the controller's lease and
dirty mark. Membership is a document per charger keyed by its id, so a charger belongs to
at most one site by the unique `_id` alone (no multikey unique index, which not every
MongoDB-wire server has)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from csms.domain.charging_profiles import RateUnit
from csms.services.site_limit import Need, Share, Site

Doc = dict[str, Any]


class SiteExists(Exception):
    pass


class ChargePointInAnotherSite(Exception):
    def __init__(self, charge_point_id: str, site_id: str) -> None:
        super().__init__(f"{charge_point_id} belongs to site {site_id}")
        self.charge_point_id = charge_point_id
        self.site_id = site_id


def sites_database(client: Any, tenant_id: str) -> Database[Doc]:
    from csms.adapters.mongo import tenant_database_name

    db: Database[Doc] = client[tenant_database_name(tenant_id)]
    return db


class MongoSites:
    def __init__(self, db: Database[Doc]) -> None:
        self._sites: Collection[Doc] = db["sites"]
        self._members: Collection[Doc] = db["site_members"]
        self._needs: Collection[Doc] = db["ev_charging_needs"]

    def ensure_indexes(self) -> None:
        self._members.create_index([("site_id", ASCENDING)])

    # The tenant API's side

    def create(self, site: Site) -> Site:
        try:
            self._sites.insert_one(
                {
                    "_id": site.site_id,
                    "name": site.name,
                    "limit": site.limit,
                    "unit": site.unit.value,
                    "min_session_limit": site.min_session_limit,
                    "created_at": site.created_at,
                    "updated_at": site.updated_at,
                    "shares": [],
                    "dirty": False,
                }
            )
        except DuplicateKeyError:
            raise SiteExists(site.site_id) from None
        try:
            self.assign(site.site_id, site.charge_point_ids)
        except ChargePointInAnotherSite:
            self._sites.delete_one({"_id": site.site_id})  # all or nothing
            raise
        return self.get(site.site_id) or site

    def get(self, site_id: str) -> Site | None:
        doc = self._sites.find_one({"_id": site_id})
        return None if doc is None else self._site(doc)

    def all(self, limit: int, offset: int) -> list[Site]:
        docs = self._sites.find().sort("_id", ASCENDING).skip(offset).limit(limit)
        return [self._site(doc) for doc in docs]

    def update(self, site_id: str, changes: dict[str, Any], at: datetime) -> Site | None:
        fields = dict(changes)
        if "unit" in fields and isinstance(fields["unit"], RateUnit):
            fields["unit"] = fields["unit"].value
        found = self._sites.find_one_and_update(
            {"_id": site_id},
            {"$set": fields | {"updated_at": at}},
            return_document=ReturnDocument.AFTER,
        )
        return None if found is None else self._site(found)

    def delete(self, site_id: str) -> bool:
        deleted = self._sites.delete_one({"_id": site_id}).deleted_count > 0
        self._members.delete_many({"site_id": site_id})
        return deleted

    def assign(self, site_id: str, charge_point_ids: Sequence[str]) -> None:
        """Add chargers to the site; one in another site refuses them all."""
        for cp in charge_point_ids:
            member = self._members.find_one({"_id": cp})
            if member is not None and member["site_id"] != site_id:
                raise ChargePointInAnotherSite(cp, member["site_id"])
        for cp in charge_point_ids:
            try:
                self._members.update_one(
                    {"_id": cp, "site_id": site_id}, {"$set": {"site_id": site_id}},
                    upsert=True,
                )
            except DuplicateKeyError:
                # Another site took it between the check and now.
                other = self._members.find_one({"_id": cp}) or {"site_id": "?"}
                raise ChargePointInAnotherSite(cp, other["site_id"]) from None

    def unassign(self, site_id: str, charge_point_id: str) -> bool:
        return self._members.delete_one(
            {"_id": charge_point_id, "site_id": site_id}
        ).deleted_count > 0

    def _site(self, doc: Doc) -> Site:
        members = self._members.find({"site_id": doc["_id"]}).sort("_id", ASCENDING)
        return Site(
            site_id=doc["_id"],
            name=doc["name"],
            limit=float(doc["limit"]),
            unit=RateUnit(doc["unit"]),
            charge_point_ids=tuple(m["_id"] for m in members),
            min_session_limit=doc.get("min_session_limit"),
            created_at=doc.get("created_at"),
            updated_at=doc.get("updated_at"),
        )

    # The controller's side (services.site_limit.SiteStore)

    def site_of(self, charge_point_id: str) -> Site | None:
        member = self._members.find_one({"_id": charge_point_id})
        return None if member is None else self.get(member["site_id"])

    def shares(self, site_id: str) -> list[Share]:
        doc = self._sites.find_one({"_id": site_id}, {"shares": 1}) or {}
        return [Share(**entry) for entry in doc.get("shares") or []]

    def save_shares(self, site_id: str, shares: Sequence[Share]) -> None:
        entries = [
            {
                "charge_point_id": s.charge_point_id,
                "evse_id": s.evse_id,
                "transaction_id": s.transaction_id,
                "limit": s.limit,
                "at": s.at,
                "command_id": s.command_id,
            }
            for s in shares
        ]
        self._sites.update_one({"_id": site_id}, {"$set": {"shares": entries}})

    def record_need(self, need: Need) -> None:
        self._needs.replace_one(
            {"_id": f"{need.charge_point_id}|{need.evse_id}"},
            {
                "charge_point_id": need.charge_point_id,
                "evse_id": need.evse_id,
                "at": need.at,
                "max_current_a": need.max_current_a,
                "max_power_w": need.max_power_w,
            },
            upsert=True,
        )

    def needs(self, charge_point_ids: Sequence[str]) -> list[Need]:
        found = self._needs.find({"charge_point_id": {"$in": list(charge_point_ids)}})
        return [
            Need(d["charge_point_id"], d["evse_id"], d["at"], d.get("max_current_a"),
                 d.get("max_power_w"))
            for d in found
        ]

    def mark_dirty(self, site_id: str) -> None:
        self._sites.update_one({"_id": site_id}, {"$set": {"dirty": True}})

    def lease(self, site_id: str, owner: str, until: datetime, now: datetime) -> bool:
        taken = self._sites.find_one_and_update(
            {
                "_id": site_id,
                "$or": [
                    {"lease_until": None},
                    {"lease_until": {"$lte": now}},
                    {"lease_owner": owner},
                ],
            },
            {"$set": {"lease_owner": owner, "lease_until": until}},
            return_document=ReturnDocument.AFTER,
        )
        return taken is not None

    def take_dirty(self, site_id: str, owner: str) -> bool:
        taken = self._sites.find_one_and_update(
            {"_id": site_id, "lease_owner": owner, "dirty": True},
            {"$set": {"dirty": False}},
        )
        return taken is not None

    def is_dirty(self, site_id: str) -> bool:
        doc = self._sites.find_one({"_id": site_id}, {"dirty": 1})
        return bool(doc and doc.get("dirty"))

    def release(self, site_id: str, owner: str) -> None:
        self._sites.update_one(
            {"_id": site_id, "lease_owner": owner},
            {"$set": {"lease_owner": None, "lease_until": None}},
        )

