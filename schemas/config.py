"""The compacted configuration topics: one registry of what is configuration and how it is keyed.

Every configuration family (key bindings, budget policies, …) is a compacted topic whose record
key is the ``id_field`` of its pydantic ``model``; a null value deletes that id. The sink keeps
an append-only history of every such topic in ClickHouse, and the tools that restore, export
and import configuration iterate over ``CONFIG_TOPICS``: adding a family is one line below.

Who made a change travels in record headers (``CHANGE_ID_HEADER``, ``ACTOR_HEADER``,
``ORIGIN_HEADER``); a record without them (any other Kafka client) is still recorded, with an
empty actor and a change id derived from the record itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from schemas.budgets import BudgetPolicy
from schemas.keys import KeyBinding
from schemas.limits import LimitPolicy
from schemas.topics import BUDGET_POLICIES, KEYS, LIMITS, TopicSpec

__all__ = [
    "ACTOR_HEADER",
    "CHANGE_ID_HEADER",
    "CONFIG_TOPICS",
    "ORIGIN_HEADER",
    "ConfigTopic",
    "config_topic",
]

CHANGE_ID_HEADER = "meterline-change-id"
ACTOR_HEADER = "meterline-actor"
ORIGIN_HEADER = "meterline-origin"
"""``cli``, ``import``, ``restore`` or ``api``: how the change was made."""


@dataclass(frozen=True)
class ConfigTopic:
    kind: str
    """Short name used in the history table, export files and commands (``keys``)."""
    spec: TopicSpec
    model: type[BaseModel]
    id_field: str
    """The field (or property) of ``model`` whose value is the record key."""

    def entity_id(self, value: BaseModel) -> str:
        return str(getattr(value, self.id_field))

    def parse(self, data: bytes | str | dict[str, Any]) -> BaseModel:
        """Validate one value; raises ``pydantic.ValidationError``."""
        if isinstance(data, dict):
            return self.model.model_validate(data)
        return self.model.model_validate_json(data)


CONFIG_TOPICS: tuple[ConfigTopic, ...] = (
    ConfigTopic("keys", KEYS, KeyBinding, "api_key_id"),
    ConfigTopic("budgets", BUDGET_POLICIES, BudgetPolicy, "policy_id"),
    ConfigTopic("limits", LIMITS, LimitPolicy, "limit_id"),
)


def config_topic(kind: str) -> ConfigTopic:
    """The registered family called ``kind``; ``KeyError`` when there is none."""
    for entry in CONFIG_TOPICS:
        if entry.kind == kind:
            return entry
    raise KeyError(kind)
