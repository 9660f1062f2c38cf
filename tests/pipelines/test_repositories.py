"""Each capability of pipelines/ uses only the repositories its package declares (``REPOSITORIES`` in its
``__init__.py``): a module reaching into another area's storage fails here until the package says so."""
from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from infra.storage import Store

ROOT = Path(__file__).resolve().parents[2] / "pipelines"
PACKAGES = sorted(p.name for p in ROOT.iterdir() if (p / "__init__.py").exists())


def repositories_used(path: Path, names: set[str]) -> set[str]:
    """Every ``<anything>.store.<repository>`` or ``store.<repository>`` the module reads."""
    used = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and node.attr in names:
            owner = node.value
            if (isinstance(owner, ast.Name) and owner.id == "store") or \
                    (isinstance(owner, ast.Attribute) and owner.attr == "store"):
                used.add(node.attr)
    return used


def store_areas(store: Store) -> set[str]:
    """The attribute names under which ``Store`` holds its repositories, and ``db``."""
    return {name for name, value in vars(store).items() if value in store.repositories()} | {"db"}


@pytest.mark.parametrize("package", PACKAGES)
def test_each_module_uses_only_the_repositories_its_package_declares(package, store):
    declared = importlib.import_module(f"pipelines.{package}").REPOSITORIES
    areas = store_areas(store)
    assert declared <= areas, f"pipelines/{package} declares repositories that do not exist: {declared - areas}"
    for path in sorted((ROOT / package).glob("*.py")):
        extra = repositories_used(path, areas) - declared
        assert not extra, f"{path.relative_to(ROOT.parent)} uses {sorted(extra)}, not in pipelines/{package}.REPOSITORIES"


def test_the_check_sees_a_repository_behind_any_store(tmp_path, store):
    path = tmp_path / "probe.py"
    path.write_text("def f(store, io):\n    store.media.get(1)\n    io.store.exports.get(2)\n    other.users.get(3)\n")
    assert repositories_used(path, store_areas(store)) == {"media", "exports"}
