"""Plans: how each customer is billed, read from a YAML file.

```yaml
currency: USD
issuer: Example Corp          # optional: printed on invoices
invoice_prefix: INV           # optional: invoice numbers INV-202611-XXXXXXXX
payment_terms_days: 30        # optional: due date = issue date + 30 days
default_plan: payg            # optional; customers not listed get it (else they have no plan)
plans:
  payg:      {kind: markup, markup_percent: 30, minimum: 50}
  tokens:
    kind: resale
    prices_per_1m:            # resale price per 1M tokens, by model and token type
      gpt-4o: {input: 5, output: 15, cache_read: 2.5, cache_write: 6.25}
    unlisted_markup_percent: 20   # models without a price: cost + 20 %
  pro:       {kind: flat, monthly_fee: 500, included_cost: 300, overage_markup_percent: 20}
customers:
  acme: pro
```

Numbers are read as exact decimals (YAML floats never pass through binary floating point).
Every plan kind takes an optional ``minimum`` (monthly minimum charge).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from reports.errors import PlansError
from schemas.usage import UNATTRIBUTED

__all__ = [
    "FlatPlan",
    "MarkupPlan",
    "Plan",
    "PlansFile",
    "ResalePlan",
    "TokenPrices",
    "parse_plans",
]

Amount = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]


class _PlanBase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    minimum: Amount | None = None
    """Monthly minimum: an invoice below it gets a top-up line to reach it."""


class MarkupPlan(_PlanBase):
    """Usage at cost plus ``markup_percent`` of it."""

    kind: Literal["markup"]
    markup_percent: Amount


class TokenPrices(BaseModel):
    """Resale price per 1M tokens of each billed token type (reasoning is part of output)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    input: Amount = Decimal(0)
    output: Amount = Decimal(0)
    cache_read: Amount = Decimal(0)
    cache_write: Amount = Decimal(0)


class ResalePlan(_PlanBase):
    """Tokens resold at list prices per model; models without a price are billed at cost plus
    ``unlisted_markup_percent``."""

    kind: Literal["resale"]
    prices_per_1m: dict[str, TokenPrices] = Field(min_length=1)
    unlisted_markup_percent: Amount = Decimal(0)


class FlatPlan(_PlanBase):
    """A monthly fee that includes usage up to ``included_cost`` (at cost); usage beyond it is
    billed at cost plus ``overage_markup_percent``."""

    kind: Literal["flat"]
    monthly_fee: Amount
    included_cost: Amount = Decimal(0)
    overage_markup_percent: Amount = Decimal(0)


Plan = Annotated[MarkupPlan | ResalePlan | FlatPlan, Field(discriminator="kind")]


class PlansFile(BaseModel):
    """The whole plans file. ``plan_for`` is the single rule for which plan a customer has."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    issuer: str = Field(default="", max_length=200)
    """Who sends the invoices (printed on them)."""
    invoice_prefix: str = Field(default="INV", pattern=r"^[A-Z0-9]{1,10}$")
    payment_terms_days: int = Field(default=30, ge=0, le=365)
    """Due date = issue date + this many days."""
    default_plan: str | None = None
    plans: dict[str, Plan]
    customers: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _names_exist(self) -> PlansFile:
        unknown = sorted(
            {p for p in self.customers.values() if p not in self.plans}
            | ({self.default_plan} - set(self.plans) if self.default_plan else set())
        )
        if unknown:
            raise ValueError(f"unknown plan name(s): {', '.join(unknown)}")
        return self

    def plan_for(self, customer: str) -> tuple[str, Plan] | None:
        """The customer's ``(plan name, plan)``: its own, else the default, else ``None``.

        ``unattributed`` usage has nobody to bill: the default plan never applies to it (it is
        listed with a warning unless the plans file names it explicitly)."""
        default = None if customer == UNATTRIBUTED else self.default_plan
        name = self.customers.get(customer, default)
        return (name, self.plans[name]) if name is not None else None


class _DecimalLoader(yaml.SafeLoader):
    """SafeLoader that reads YAML floats as ``Decimal`` from their text, exactly."""


def _decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Decimal:
    return Decimal(loader.construct_scalar(node).replace("_", ""))


_DecimalLoader.add_constructor("tag:yaml.org,2002:float", _decimal)


def parse_plans(text: str) -> PlansFile:
    """Parse a plans YAML document; raises ``PlansError`` naming what is wrong."""
    try:
        data: Any = yaml.load(text, Loader=_DecimalLoader)  # a SafeLoader subclass
    except (yaml.YAMLError, ArithmeticError) as exc:
        raise PlansError(f"plans file is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise PlansError("plans file must be a mapping with at least 'plans:'")
    try:
        return PlansFile.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise PlansError(f"plans file is invalid: {problems}") from exc
