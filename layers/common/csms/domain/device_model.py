"""A charging station's device model (OCPP 2.0.1 part 1, section 4): components with
their variables, each variable with up to four attributes (Actual, Target, MinSet,
MaxSet)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

ACTUAL = "Actual"


@dataclass(frozen=True, slots=True)
class VariableKey:
    """Which variable: a component (with optional instance and EVSE/connector) and a
    variable (with optional instance), as OCPP 2.0.1's ComponentType/VariableType."""

    component: str
    variable: str
    component_instance: str | None = None
    evse_id: int | None = None
    connector_id: int | None = None
    variable_instance: str | None = None

    @property
    def path(self) -> str:
        """A stable text form, unique per variable: `Component[inst]@evse.conn/Var[inst]`."""
        component = self.component
        if self.component_instance:
            component += f"[{self.component_instance}]"
        if self.evse_id is not None:
            component += f"@{self.evse_id}"
            if self.connector_id is not None:
                component += f".{self.connector_id}"
        variable = self.variable
        if self.variable_instance:
            variable += f"[{self.variable_instance}]"
        return f"{component}/{variable}"


@dataclass(frozen=True, slots=True)
class VariableAttribute:
    """One attribute of one variable as the charger reported or accepted it."""

    key: VariableKey
    updated_at: datetime
    attribute_type: str = ACTUAL
    value: str | None = None
    mutability: str | None = None  # ReadOnly, WriteOnly, ReadWrite
    persistent: bool | None = None
    constant: bool | None = None
    # VariableCharacteristicsType: dataType, unit, minLimit, maxLimit, valuesList, ...
    characteristics: dict[str, Any] = field(default_factory=dict)
