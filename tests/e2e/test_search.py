"""Search over HTTP against the running system: members only, newest first, paginated, clear errors."""
from __future__ import annotations

import pytest

from tests.e2e.harness import Api, make_conversation, wait_until

pytestmark = pytest.mark.e2e


def test_search_over_http(system):
    alice, bob, carol = Api(system), Api(system), Api(system)
    _, conv = make_conversation(alice, bob)
    path = f"/api/conversations/{conv['id']}"
    for n, text in enumerate(["Le niveau est élevé", "pause café", "Les élèves arrivent", "Élevés au grain"]):
        alice.ok("POST", f"{path}/messages", json={"clientId": f"s{n}", "content": text})
    wait_until(lambda: len(bob.chat(conv["id"])) == 4, what="4 stored messages")

    first = bob.ok("GET", f"{path}/search", params={"q": "eleve", "limit": 2})
    assert [m["content"] for m in first["messages"]] == ["Élevés au grain", "Les élèves arrivent"]
    assert first["hasMore"] is True
    rest = bob.ok("GET", f"{path}/search", params={"q": "eleve", "before": first["messages"][-1]["seq"]})
    assert ([m["content"] for m in rest["messages"]], rest["hasMore"]) == (["Le niveau est élevé"], False)

    blank = bob.call("GET", f"{path}/search", params={"q": "  "})
    assert blank.status_code == 400 and blank.json()["error"]["code"] == "invalid_query"
    too_long = bob.call("GET", f"{path}/search", params={"q": "x" * 201})
    assert too_long.status_code == 400 and too_long.json()["error"]["code"] == "invalid_query"
    outsider = carol.call("GET", f"{path}/search", params={"q": "eleve"})
    assert outsider.status_code == 403 and outsider.json() == {"error": outsider.json()["error"]}
    assert outsider.json()["error"]["code"] == "forbidden"
