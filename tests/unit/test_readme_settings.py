"""README keeps one table of every METERLINE_* variable the settings classes read."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

SETTINGS_MODULES = (
    "producers.config",
    "producers.integrations.config",
    "stream.config",
    "sinks.config",
    "reports.config",
)
README = Path(__file__).resolve().parents[2] / "README.md"


def variables() -> list[str]:
    names = set()
    for module_name in SETTINGS_MODULES:
        module = importlib.import_module(module_name)
        for obj in vars(module).values():
            if (
                isinstance(obj, type)
                and issubclass(obj, BaseSettings)
                and obj.__module__ == module_name
            ):
                prefix = obj.model_config.get("env_prefix", "")
                names.update(f"{prefix}{field}".upper() for field in obj.model_fields)
    return sorted(names)


@pytest.mark.parametrize("variable", variables())
def test_every_variable_is_documented(variable: str) -> None:
    assert f"`{variable}`" in README.read_text(), f"{variable} is missing from README's table"
