"""docs/configuration.md documents every METERLINE_* variable the settings classes read.

The page is generated (meterline/docs_config.py); these tests fail when a settings field was
added, renamed or documented differently without regenerating it, and say how to regenerate.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from meterline.docs_config import (
    PACKAGES,
    REFERENCE,
    REGENERATE,
    render,
    settings,
    settings_classes,
)

ROOT = Path(__file__).resolve().parents[2]


def _settings_classes_in_source() -> set[str]:
    """``module.Class`` of every class whose base is named ``*Settings``, found without imports."""
    found = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ClassDef) and any(
                    (isinstance(b, ast.Name) and b.id.endswith("Settings"))
                    or (isinstance(b, ast.Attribute) and b.attr.endswith("Settings"))
                    for b in node.bases
                ):
                    found.add(f"{module.removesuffix('.__init__')}.{node.name}")
    return found


def test_the_generator_finds_every_settings_class() -> None:
    generated = {f"{c.__module__}.{c.__qualname__}" for c in settings_classes()}
    missing = _settings_classes_in_source() - generated
    assert not missing, (
        f"{sorted(missing)} are not in a config/settings module, so the reference misses them"
    )


@pytest.mark.parametrize("variable", [s.variable for s in settings()])
def test_every_variable_is_in_the_reference(variable: str) -> None:
    assert f"`{variable}`" in REFERENCE.read_text(), (
        f"{variable} is missing from docs/configuration.md; regenerate it: {REGENERATE}"
    )


def test_the_reference_is_up_to_date() -> None:
    assert REFERENCE.read_text() == render(), (
        f"docs/configuration.md is out of date; regenerate it: {REGENERATE}"
    )


def test_every_setting_says_what_it_means() -> None:
    undocumented = [s.variable for s in settings() if not s.meaning]
    assert not undocumented, (
        f"{undocumented} have no meaning: put a docstring under the field in its settings class"
    )
