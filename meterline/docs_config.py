"""The configuration reference (``docs/configuration.md``), generated from the settings classes.

Every pydantic-settings class in a ``config`` (or ``settings``) module of the project's packages
is one section; a variable read by several classes (the Kafka address, the topic prefix) is
listed once, under "Shared". A field's meaning is its attribute docstring (the string literal
under it), so the reference cannot drift from the code.

    python -m meterline.docs_config          # rewrite docs/configuration.md (`make docs` does it)
    python -m meterline.docs_config --check  # exit 1 when the file is out of date
"""

from __future__ import annotations

import ast
import importlib
import inspect
import itertools
import pkgutil
import re
import sys
import textwrap
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings

__all__ = ["PACKAGES", "REFERENCE", "Setting", "render", "settings", "settings_classes"]

PACKAGES = ("schemas", "producers", "stream", "sinks", "reports", "meterline")
REFERENCE = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
REGENERATE = "make docs  (or: python -m meterline.docs_config)"
_SETTINGS_MODULE = re.compile(r"(^|\.)(_?config|_?settings)$")


@dataclass(frozen=True)
class Setting:
    variable: str
    default: str
    meaning: str
    values: str
    owners: tuple[str, ...]
    """``module.Class`` of every settings class that reads the variable."""


def settings_classes() -> list[type[BaseSettings]]:
    """Every BaseSettings subclass defined in a config/settings module of :data:`PACKAGES`."""
    found: dict[str, type[BaseSettings]] = {}
    for package_name in PACKAGES:
        package = importlib.import_module(package_name)
        names = [package_name]
        names += [
            info.name
            for info in pkgutil.walk_packages(package.__path__, prefix=f"{package_name}.")
            if _SETTINGS_MODULE.search(info.name)
        ]
        for name in names:
            if not _SETTINGS_MODULE.search(name):
                continue
            module = importlib.import_module(name)
            for obj in vars(module).values():
                if (
                    isinstance(obj, type)
                    and issubclass(obj, BaseSettings)
                    and obj is not BaseSettings
                    and obj.__module__ == name
                ):
                    found[f"{name}.{obj.__qualname__}"] = obj
    # Pipeline order (gateway, stream, sink, reports), then by name.
    return [found[key] for key in sorted(found, key=lambda k: (PACKAGES.index(k.split(".")[0]), k))]


def _attribute_docstrings(cls: type) -> dict[str, str]:
    """``field -> docstring`` of the string literals that follow annotated class attributes,
    over the class and its bases (the nearest class wins)."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if klass is object or klass.__module__.startswith(("pydantic", "pydantic_settings")):
            continue
        try:
            source = textwrap.dedent(inspect.getsource(klass))
        except (OSError, TypeError):
            continue
        [node] = ast.parse(source).body
        assert isinstance(node, ast.ClassDef)
        body = node.body
        for stmt, following in itertools.pairwise(body):
            if (
                isinstance(stmt, ast.AnnAssign)
                and isinstance(stmt.target, ast.Name)
                and isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)
            ):
                docs[stmt.target.id] = inspect.cleandoc(following.value.value)
    return docs


def _markdown(text: str) -> str:
    """A docstring as one table cell: reST literals to Markdown, one line, no bare pipes."""
    text = text.replace("``", "`")
    text = " ".join(text.split())
    return text.replace("|", "\\|")


def _default(field: FieldInfo) -> str:
    if field.default is PydanticUndefined:
        if field.default_factory is None:
            return "*(required)*"
        value: Any = field.default_factory()  # type: ignore[call-arg]  # our factories take no data
    else:
        value = field.default
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if value is None or value == "":
        return "*(unset)*"
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, Decimal | Path | int | float | str):
        return f"`{value}`"
    return f"`{value!r}`"


def _values(annotation: Any) -> str:
    """The allowed values of a ``Literal`` (also inside ``X | None``), else ''."""
    if get_origin(annotation) is Literal:
        return ", ".join(f"`{v}`" for v in get_args(annotation))
    for arg in get_args(annotation):
        if get_origin(arg) is Literal:
            return _values(arg)
    return ""


def _env_name(cls: type[BaseSettings], name: str, field: FieldInfo) -> str:
    if isinstance(field.validation_alias, str):
        return field.validation_alias.upper()
    prefix = cls.model_config.get("env_prefix", "")
    return f"{prefix}{name}".upper()


def settings() -> list[Setting]:
    """Every variable, sorted by name; meaning and default from the first class that has them."""
    merged: dict[str, dict[str, Any]] = {}
    for cls in settings_classes():
        docs = _attribute_docstrings(cls)
        owner = f"{cls.__module__}.{cls.__qualname__}"
        for name, field in cls.model_fields.items():
            variable = _env_name(cls, name, field)
            entry = merged.setdefault(
                variable, {"defaults": [], "meaning": "", "values": "", "owners": []}
            )
            default = _default(field)
            if default not in entry["defaults"]:
                entry["defaults"].append(default)
            meaning = field.description or docs.get(name, "")
            if meaning and not entry["meaning"]:
                entry["meaning"] = _markdown(meaning)
            entry["values"] = entry["values"] or _values(field.annotation)
            entry["owners"].append(owner)
    return [
        Setting(
            variable=variable,
            default=" / ".join(entry["defaults"]),
            meaning=entry["meaning"],
            values=entry["values"],
            owners=tuple(entry["owners"]),
        )
        for variable, entry in sorted(merged.items())
    ]


def _row(setting: Setting) -> str:
    meaning = setting.meaning or "*(undocumented)*"
    if setting.values:
        meaning += f" One of {setting.values}."
    return f"| `{setting.variable}` | {setting.default} | {meaning} |"


def _section_title(cls: type[BaseSettings]) -> str:
    return f"{cls.__qualname__} (`{cls.__module__}`)"


def render() -> str:
    """The whole Markdown page; deterministic for a given code base."""
    all_settings = settings()
    shared = [s for s in all_settings if len(s.owners) > 1]
    by_variable = {s.variable: s for s in all_settings}
    lines = [
        "# Configuration reference",
        "",
        "<!-- Generated from the settings classes by meterline/docs_config.py; do not edit.",
        f"     Regenerate: {REGENERATE} -->",
        "",
        "Every setting is an environment variable, read once by the entry point of the component",
        "that needs it (each has a pydantic-settings class in its `config.py`) and passed down.",
        "Without any, every command talks to the local stack (`meterline up`).",
        "",
        "This page is generated from those classes: a field's docstring is its meaning here.",
        "",
        "## Shared",
        "",
        "Read by several components; set them once for every process.",
        "",
        "| variable | default | meaning |",
        "|---|---|---|",
        *(_row(s) for s in shared),
    ]
    for cls in settings_classes():
        own = [
            by_variable[_env_name(cls, name, field)]
            for name, field in cls.model_fields.items()
            if len(by_variable[_env_name(cls, name, field)].owners) == 1
        ]
        if not own:
            continue
        lines += ["", f"## {_section_title(cls)}", ""]
        if cls.__doc__:
            lines += [_markdown(inspect.cleandoc(cls.__doc__).split("\n\n")[0]), ""]
        lines += ["| variable | default | meaning |", "|---|---|---|", *(_row(s) for s in own)]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = render()
    if args == ["--check"]:
        if REFERENCE.exists() and REFERENCE.read_text() == text:
            return 0
        print(f"{REFERENCE} is out of date; regenerate it: {REGENERATE}", file=sys.stderr)
        return 1
    if args:
        print("usage: python -m meterline.docs_config [--check]", file=sys.stderr)
        return 2
    REFERENCE.parent.mkdir(parents=True, exist_ok=True)
    REFERENCE.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
