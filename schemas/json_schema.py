"""Export of every model's JSON Schema to ``schemas/json/`` (``meterline schemas export``)."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from schemas.budgets import BudgetAlert, BudgetPolicy, BudgetState
from schemas.dead_letters import DeadLetter
from schemas.keys import KeyBinding
from schemas.limits import LimitPolicy
from schemas.usage import EnrichedUsage, UsageEvent

__all__ = ["EXPORTED_MODELS", "JSON_DIR", "export_all", "render"]

EXPORTED_MODELS: tuple[type[BaseModel], ...] = (
    UsageEvent,
    EnrichedUsage,
    KeyBinding,
    BudgetPolicy,
    BudgetState,
    BudgetAlert,
    LimitPolicy,
    DeadLetter,
)
JSON_DIR = Path(__file__).parent / "json"


def render(model: type[BaseModel]) -> str:
    return json.dumps(model.model_json_schema(mode="validation"), indent=2, sort_keys=True) + "\n"


def export_all(directory: Path = JSON_DIR) -> list[Path]:
    """Write ``<Model>.json`` for each exported model; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for model in EXPORTED_MODELS:
        path = directory / f"{model.__name__}.json"
        path.write_text(render(model))
        written.append(path)
    return written
