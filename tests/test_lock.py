"""The lock file (constraints.txt) pins every dependency pyproject.toml names, within its range, and is what the
README, CI and the image install from."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PYTHONS = ("3.11", "3.12", "3.13")  # requires-python >=3.11,<3.14
REGENERATE = "uv pip compile pyproject.toml --all-extras --universal --python-version 3.11 -o constraints.txt"


def _pins() -> dict[str, list[tuple[Version, Marker | None]]]:
    pins: dict[str, list[tuple[Version, Marker | None]]] = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9._-]+)==([^\s;]+)\s*(?:;\s*(.+))?", line)
        assert match, f"not an exact pin: {line!r}"
        name, version, marker = match.groups()
        pins.setdefault(canonicalize_name(name), []).append((Version(version), Marker(marker) if marker else None))
    return pins


def _requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    listed = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        listed += extra
    return [Requirement(text) for text in listed]


def test_every_dependency_of_pyproject_is_pinned_in_the_lock_within_its_range() -> None:
    """Fails when someone adds or narrows a dependency without regenerating the lock (README: Reproducible installs)."""
    pins = _pins()
    for requirement in _requirements():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is in pyproject.toml but not in constraints.txt: run `{REGENERATE}`"
        for python in PYTHONS:
            environment = {"python_version": python, "python_full_version": f"{python}.0", "sys_platform": "linux"}
            chosen = [v for v, marker in pins[name] if marker is None or marker.evaluate(environment)]
            assert len(chosen) == 1, f"{name}: {len(chosen)} pins apply on Python {python}"
            assert requirement.specifier.contains(chosen[0], prereleases=True), (
                f"constraints.txt pins {name}=={chosen[0]} outside pyproject's {requirement.specifier}: "
                f"run `{REGENERATE}`"
            )


def test_the_readme_commands_ci_and_the_image_install_from_the_lock() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = [line for line in readme.splitlines()[:12] if line.startswith("    python3 -m venv .venv")]
    assert len(commands) == 2 and all("pip install -q -c constraints.txt -e " in c for c in commands)
    assert REGENERATE in readme, "the README says how to regenerate the lock"
    assert "pip install -c constraints.txt -r" in (ROOT / "Dockerfile").read_text(encoding="utf-8")
