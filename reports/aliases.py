"""Provider and model names as the bill and the meter both mean them. Pure.

A provider bill and the metered events name the same thing differently: ``OpenAI`` vs
``openai``, ``gpt-4o-2024-08-06`` vs ``gpt-4o``. Reconciliation compares canonical names, so both
sides go through the same ``Aliases.provider`` / ``Aliases.model``:

1. the aliases file's explicit entries (matched case-insensitively) win;
2. otherwise a name is trimmed and lower-cased, and a model loses a trailing release date
   (``-2024-08-06`` or ``-20241022``): a dated snapshot is billed as its model.

Output shows the metered name where the meter has one, else the bill's (``*_shown``).

The aliases file is YAML::

    providers: {"Azure OpenAI": openai}
    models: {"gpt-4o-latest": gpt-4o, "claude-3-5-sonnet-v2": claude-3-5-sonnet}
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import yaml

from reports.errors import InputFileError

__all__ = ["Aliases", "parse_aliases"]

_DATED = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{8})$")


def _lowered(mapping: Mapping[str, str]) -> dict[str, str]:
    return {k.strip().lower(): v.strip().lower() for k, v in mapping.items()}


@dataclass(frozen=True)
class Aliases:
    """Canonical provider and model names (see the module docstring)."""

    providers: Mapping[str, str] = field(default_factory=dict)
    models: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "providers", _lowered(self.providers))
        object.__setattr__(self, "models", _lowered(self.models))

    def provider(self, name: str) -> str:
        key = name.strip().lower()
        return self.providers.get(key, key)

    def model(self, name: str) -> str:
        key = name.strip().lower()
        if key in self.models:
            return self.models[key]
        undated = _DATED.sub("", key)
        return self.models.get(undated, undated)

    def provider_shown(self, name: str) -> str:
        """How to print ``name``'s provider: the alias target, else ``name`` as written."""
        return self.providers.get(name.strip().lower(), name.strip())

    def model_shown(self, name: str) -> str:
        """How to print ``name``: the alias target, else ``name`` without its release date,
        capitalisation kept (comparison ignores it; output shows what someone wrote)."""
        key = name.strip().lower()
        if key in self.models:
            return self.models[key]
        return _DATED.sub("", name.strip())


def parse_aliases(text: str) -> Aliases:
    """The aliases YAML (``providers:`` and ``models:`` maps of name → canonical name)."""
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise InputFileError(f"aliases file is not valid YAML: {exc}") from None
    if not isinstance(data, dict) or set(data) - {"providers", "models"}:
        raise InputFileError("aliases file must be a map with only 'providers' and 'models'")
    maps: dict[str, dict[str, str]] = {}
    for section in ("providers", "models"):
        entries = data.get(section) or {}
        if not isinstance(entries, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and k.strip() and v.strip()
            for k, v in entries.items()
        ):
            raise InputFileError(f"aliases file: '{section}' must map names to names")
        maps[section] = entries
    return Aliases(providers=maps["providers"], models=maps["models"])
