"""The upload routes that cost the event loop most give way to chat first (the runtime's executor)."""
from __future__ import annotations

import pytest

from app.web import create_app
from infra.config import Settings, get_settings, use_settings
from infra.executor import DirectExecutor
from infra.runtime import get_runtime


@pytest.fixture
def client(monkeypatch):
    turns = []

    class Counting(DirectExecutor):
        def give_way(self) -> None:
            turns.append(1)

    before = get_settings()
    try:
        c = create_app(Settings(redis_url="redis://127.0.0.1:1/0")).test_client()  # never connected here
        monkeypatch.setattr(get_runtime(), "executor", Counting())
        c.turns = turns
        yield c
    finally:
        use_settings(before)


@pytest.mark.parametrize("method, path, gated", [
    ("POST", "/api/uploads", True), ("POST", "/api/uploads/x/part-urls", True),
    ("POST", "/api/uploads/x/complete", True), ("GET", "/api/uploads/x", True),
    ("DELETE", "/api/uploads/x", True), ("GET", "/api/media/x", False), ("GET", "/api/conversations/x/media", False)])
def test_the_upload_control_routes_give_way_before_anything_else(client, method, path, gated):
    r = client.open(path, method=method)
    assert r.status_code == 401  # no token: refused, after the wait where there is one
    assert len(client.turns) == (1 if gated else 0)
