"""No worker module imports another: producers go through workers.enqueue (by task name), options come from
workers.reliability, the app from workers.celery_app (parsed with ast, so imports inside functions count)."""
from __future__ import annotations

import ast
from pathlib import Path

WORKERS = Path(__file__).resolve().parents[2] / "workers"
SHARED = {"workers", "workers.celery_app", "workers.enqueue", "workers.reliability", "workers.beat",
          "workers.metrics", "workers.signals"}


def worker_modules_imported(path: Path) -> set[str]:
    """The modules of workers/ that ``path`` imports (``from workers import media`` names workers.media)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module == "workers":
            names |= {f"workers.{alias.name}" for alias in node.names if (WORKERS / f"{alias.name}.py").exists()}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return {n for n in names if n.startswith("workers.")}


def test_no_queue_module_imports_another_worker_module():
    queues = [p for p in WORKERS.glob("*.py") if f"workers.{p.stem}" not in SHARED and p.stem != "__init__"]
    assert {p.stem for p in queues} == {"messages", "moderation", "media", "exports", "notifications"}
    found = {p.stem: worker_modules_imported(p) - SHARED for p in queues}
    assert {module: names for module, names in found.items() if names} == {}


def test_the_shared_modules_import_only_the_celery_app():
    for name in ("enqueue", "reliability"):
        assert worker_modules_imported(WORKERS / f"{name}.py") == {"workers.celery_app"}
    assert worker_modules_imported(WORKERS / "celery_app.py") == {"workers.beat", "workers.metrics", "workers.signals"}
    assert worker_modules_imported(WORKERS / "beat.py") == worker_modules_imported(WORKERS / "metrics.py") == set()
    assert worker_modules_imported(WORKERS / "signals.py") == set()
