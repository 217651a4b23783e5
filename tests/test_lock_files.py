"""The lock files say what is installed: every dependency of pyproject.toml, pinned and hashed.

A deploy installs requirements.txt, `make run` and `make test` requirements-dev.txt; a range added
to pyproject.toml without `make lock` would be missing from both, and this says which.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent


def _locked(name: str) -> dict[str, str]:
    text = (ROOT / name).read_text()
    pins = dict(re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+) \\$", text, flags=re.MULTILINE))
    assert pins, f"{name} pins nothing"
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
    assert all("--hash=sha256:" in block for block in blocks if "==" in block), (
        f"{name}: a pin without its hash"
    )
    return {canonicalize_name(package): version for package, version in pins.items()}


def _wanted(*extras: str) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = [
        *project["dependencies"],
        *(line for extra in extras for line in project["optional-dependencies"][extra]),
    ]
    return [Requirement(line) for line in lines]


def test_the_deploy_lock_pins_every_dependency_within_its_range_and_not_the_embedded_database() -> None:
    locked = _locked("requirements.txt")
    for requirement in _wanted():
        version = locked.get(canonicalize_name(requirement.name))
        assert version is not None, f"{requirement.name} is not in requirements.txt: run `make lock`"
        assert requirement.specifier.contains(version, prereleases=True), (requirement, version)
    assert "pgserver" not in locked  # production names its database (DATABASE_URL)


def test_the_development_lock_adds_the_tests_and_the_embedded_database() -> None:
    locked, deployed = _locked("requirements-dev.txt"), _locked("requirements.txt")
    for requirement in _wanted("test", "embedded"):
        version = locked.get(canonicalize_name(requirement.name))
        assert version is not None, f"{requirement.name} is not in requirements-dev.txt: run `make lock`"
        assert requirement.specifier.contains(version, prereleases=True), (requirement, version)
    shared = set(locked) & set(deployed)
    assert {name for name in shared if locked[name] != deployed[name]} == set()  # one version each
