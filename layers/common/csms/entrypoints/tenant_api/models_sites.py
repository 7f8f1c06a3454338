"""Request bodies of /v1/sites (pydantic: validated, and documented in OpenAPI)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from csms.entrypoints.tenant_api.models import ChargePointId, Strict

SiteId = Annotated[str, Field(pattern=r"^[A-Za-z0-9._~:-]{1,64}$")]
SiteName = Annotated[str, Field(min_length=1, max_length=200)]
UnitName = Literal["A", "W"]
# Per phase in amperes, or watts: up to a 100 MW grid connection.
SiteLimit = Annotated[
    float,
    Field(gt=0, le=100_000_000, description="the site's maximum: amperes per phase, or watts"),
]
SessionMinimum = Annotated[
    float,
    Field(
        ge=0,
        le=100_000_000,
        description="the least a session is given, in the site's unit; sessions the limit "
        "cannot serve at this get 0. Unset: 6 A, or 1380 W (6 A on one 230 V phase)",
    ),
]


class SiteCreate(Strict):
    site_id: SiteId
    name: SiteName
    limit: SiteLimit
    unit: UnitName = "A"
    min_session_limit: SessionMinimum | None = None
    charge_point_ids: Annotated[list[ChargePointId], Field(max_length=1000)] = []

    @model_validator(mode="after")
    def _minimum_fits(self) -> SiteCreate:
        if self.min_session_limit is not None and self.min_session_limit > self.limit:
            raise ValueError("min_session_limit is above the limit: no session could charge")
        return self


class SiteUpdate(Strict):
    name: SiteName | None = None
    limit: SiteLimit | None = None
    unit: UnitName | None = None
    min_session_limit: SessionMinimum | None = None


class SiteChargePoints(Strict):
    charge_point_ids: Annotated[list[ChargePointId], Field(min_length=1, max_length=1000)]
