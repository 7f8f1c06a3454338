"""Request body of PUT /v1/tariff, /v1/sites/{site_id}/tariff and
/v1/charge-points/{charge_point_id}/tariff (pydantic: validated, and documented in
OpenAPI)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from csms.entrypoints.tenant_api.models import Strict

# A price in the tariff's currency; floats are read as written (0.3 is 0.3, not its
# binary expansion), and a million per unit is far beyond any real tariff.
Price = Annotated[float, Field(ge=0, le=1_000_000, allow_inf_nan=False)]


class TariffPut(Strict):
    currency: Annotated[str, Field(
        pattern=r"^[A-Z]{3}$",
        description="ISO 4217 code; costs are rounded to its minor unit (EUR: cents, "
        "JPY: yen, KWD: fils)",
    )]
    energy_per_kwh: Annotated[Price, Field(description="price per kWh delivered")] = 0
    time_per_hour: Annotated[Price, Field(
        description="price per hour: of charging, or of the whole transaction "
        "(time_basis)")] = 0
    session_fee: Annotated[Price, Field(description="flat fee per transaction")] = 0
    time_basis: Annotated[Literal["charging", "session"], Field(
        description="charging: time_per_hour counts only while the charger reports the "
        "EV charging (2.0.1 chargingState Charging; a charger that never reports it is "
        "priced by the whole session); session: from the transaction's start to its end"
    )] = "charging"
