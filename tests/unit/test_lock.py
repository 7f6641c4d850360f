"""The lock files in requirements/ pin every dependency pyproject.toml declares, within its bounds.

`make test` and `make demo` install from the locks and then the project with ``--no-deps``, so a
dependency added to pyproject.toml without `make lock` would be missing at run time.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)

# lock file -> the pyproject groups it must cover
LOCKS = {
    "run.lock": ("dependencies",),
    "local.lock": ("dependencies", "local"),
    "dev.lock": ("dependencies", "local", "dev"),
}


def _declared(group: str) -> list[str]:
    if group == "dependencies":
        return PROJECT["dependencies"]
    return PROJECT["optional-dependencies"][group]


def _pins(lock: str) -> dict[str, set[str]]:
    pins: dict[str, set[str]] = {}
    for name, pinned in _PIN.findall((ROOT / "requirements" / lock).read_text()):
        pins.setdefault(canonicalize_name(name), set()).add(pinned)
    return pins


CASES = [
    (lock, requirement)
    for lock, groups in LOCKS.items()
    for group in groups
    for requirement in _declared(group)
]


@pytest.mark.parametrize(("lock", "requirement"), CASES)
def test_lock_pins_every_declared_dependency_within_bounds(lock: str, requirement: str) -> None:
    req = Requirement(requirement)
    pinned = _pins(lock).get(canonicalize_name(req.name))
    assert pinned, f"{req.name} is not in requirements/{lock}: run `make lock`"
    outside = [v for v in pinned if not req.specifier.contains(v, prereleases=True)]
    assert not outside, f"requirements/{lock} pins {req.name} {outside}, outside {req}: make lock"


def test_smaller_locks_use_the_versions_of_the_dev_lock() -> None:
    dev = _pins("dev.lock")
    for lock in ("run.lock", "local.lock"):
        for name, versions in _pins(lock).items():
            assert versions <= dev.get(name, set()), f"{lock}: {name} {versions} not as in dev.lock"


def test_the_image_installs_dependencies_only_from_the_runtime_lock() -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert "-r requirements/run.lock" in dockerfile
    assert "pip wheel --no-cache-dir --no-deps --wheel-dir /wheels ." in dockerfile
    assert "pip install --no-cache-dir --no-index --no-deps /wheels/*.whl" in dockerfile
