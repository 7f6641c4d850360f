"""Configuration export files (YAML): render the current configuration, read one back. Pure.

A file holds one list per family of ``schemas.config.CONFIG_TOPICS``::

    meterline_config: 1
    keys:
      - {api_key_id: key_3f9a, team_id: enterprise, owner_customer: acme, updated_at: ...}
    budgets:
      - {policy_id: customer:acme:24h, scope: customer, subject: acme, limit: '50', ...}

Reading is bounded (``MAX_FILE_BYTES``, ``MAX_ENTRIES``), uses ``yaml.safe_load`` only and
validates every entry through its pydantic model; a file with any invalid entry is refused
as a whole, with every reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from schemas.config import CONFIG_TOPICS

__all__ = [
    "FORMAT_VERSION",
    "MAX_ENTRIES",
    "MAX_FILE_BYTES",
    "ConfigFileError",
    "parse_config_file",
    "render_config_file",
]

FORMAT_VERSION = 1
MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_ENTRIES = 100_000
"""Per family."""


class ConfigFileError(ValueError):
    """The file is not a configuration export Meterline can import; the message says why
    (every invalid entry, one per line)."""


def render_config_file(config: Mapping[str, Sequence[BaseModel]], exported_at: datetime) -> str:
    """YAML of ``config`` (family -> current values), every family present, ids sorted."""
    doc: dict[str, Any] = {
        "meterline_config": FORMAT_VERSION,
        "exported_at": exported_at.isoformat(),
    }
    for entry in CONFIG_TOPICS:
        values = sorted(config.get(entry.kind, ()), key=entry.entity_id)
        doc[entry.kind] = [v.model_dump(mode="json") for v in values]
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


def parse_config_file(data: bytes, now: datetime) -> dict[str, list[BaseModel]]:
    """Validated values per family; an entry without ``updated_at`` gets ``now``.

    Raises ``ConfigFileError`` for an oversized or malformed file, an unknown family, a
    duplicate id or any entry its model refuses.
    """
    if len(data) > MAX_FILE_BYTES:
        raise ConfigFileError(f"file is larger than {MAX_FILE_BYTES} bytes")
    try:
        doc = yaml.safe_load(data)
    except yaml.YAMLError as exc:
        raise ConfigFileError(f"not YAML: {exc}") from exc
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise ConfigFileError("the file must be a mapping of families (keys:, budgets:, …)")
    version = doc.get("meterline_config", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise ConfigFileError(f"meterline_config {version!r} is not a version this reads (1)")
    known = {entry.kind: entry for entry in CONFIG_TOPICS}
    unknown = sorted(str(k) for k in doc if k not in known and k not in _META)
    if unknown:
        raise ConfigFileError(f"unknown sections {unknown}; expected {sorted(known)}")
    errors: list[str] = []
    out: dict[str, list[BaseModel]] = {}
    for kind, entry in known.items():
        items = doc.get(kind) or []
        if not isinstance(items, list):
            errors.append(f"{kind}: must be a list")
            continue
        if len(items) > MAX_ENTRIES:
            errors.append(f"{kind}: more than {MAX_ENTRIES} entries")
            continue
        seen: set[str] = set()
        values: list[BaseModel] = []
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                errors.append(f"{kind}[{i}]: must be a mapping")
                continue
            try:
                value = entry.parse({"updated_at": now, **item})
            except ValidationError as exc:
                errors += [
                    f"{kind}[{i}].{'.'.join(str(p) for p in err['loc']) or '(entry)'}: {err['msg']}"
                    for err in exc.errors()
                ]
                continue
            entity = entry.entity_id(value)
            if entity in seen:
                errors.append(f"{kind}[{i}]: duplicate {entry.id_field} {entity!r}")
                continue
            seen.add(entity)
            values.append(value)
        out[kind] = values
    if errors:
        raise ConfigFileError("\n".join(errors[:50]))
    return out


_META = {"meterline_config", "exported_at"}
