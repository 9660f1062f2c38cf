"""The embedded default is entered only from the composition root (infra/runtime.py): no other module of
app/, workers/, pipelines/, infra/ or schemas/ imports infra.embedded, so a pipeline never learns which
runtime it is in. The one other entry is infra/embedded_mongo.py, the name the speed anchor
(../shared/tools/bare_chat.py) imports the embedded store by; nothing in the project imports it."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
LAYERS = ("app", "workers", "pipelines", "infra", "schemas")


def imports_embedded(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [f"{node.module}.{a.name}" for a in node.names] if isinstance(node, ast.ImportFrom) and node.module else []
        if any(n == "infra.embedded" or n.startswith("infra.embedded.") for n in names):
            return True
    return False


def test_only_the_composition_root_imports_the_embedded_default():
    found = sorted(str(p.relative_to(ROOT)) for layer in LAYERS for p in (ROOT / layer).rglob("*.py")
                   if "embedded" not in p.relative_to(ROOT).parts[:2] and imports_embedded(p))
    assert found == ["infra/embedded_mongo.py", "infra/runtime.py"]
    assert not any("embedded_mongo" in p.read_text(encoding="utf-8") for layer in LAYERS
                   for p in (ROOT / layer).rglob("*.py") if p.name != "embedded_mongo.py")


def test_the_check_sees_both_import_forms(tmp_path):
    (tmp_path / "a.py").write_text("from infra.embedded.cpu import run_cpu\n")
    (tmp_path / "b.py").write_text("import infra.embedded.priority\n")
    (tmp_path / "c.py").write_text("from infra import executor\n")
    assert [imports_embedded(tmp_path / f) for f in ("a.py", "b.py", "c.py")] == [True, True, False]
