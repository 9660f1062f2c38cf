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


def test_search_across_conversations_over_http(system):
    alice, bob, carol = Api(system), Api(system), Api(system)
    _, first = make_conversation(alice, bob, title="first")
    _, second = make_conversation(alice, bob, title="second")
    _, private = make_conversation(alice, carol, title="private")
    for conv, texts in ((first, ["we deployed the checkout", "lunch?"]), (private, ["deploy the secret"]),
                        (second, ["deploying again", "Die Häuser sind alt"])):
        for n, text in enumerate(texts):
            alice.ok("POST", f"/api/conversations/{conv['id']}/messages", json={"clientId": f"x{n}", "content": text})
    wait_until(lambda: len(bob.chat(second["id"])) == 2 and len(bob.chat(first["id"])) == 2
               and len(carol.chat(private["id"])) == 1, what="stored")

    found = bob.ok("GET", "/api/search", params={"q": "deploy"})
    assert [(r["conversation"]["title"], [m["content"] for m in r["messages"]]) for r in found["results"]] == \
        [("second", ["deploying again"]), ("first", ["we deployed the checkout"])]
    assert found["results"][0]["conversation"] == {"id": second["id"], "groupId": second["groupId"],
                                                   "title": "second"}
    assert found["hasMore"] is False
    assert [m["content"] for r in bob.ok("GET", "/api/search", params={"q": "haus"})["results"]
            for m in r["messages"]] == ["Die Häuser sind alt"]
    page = bob.ok("GET", "/api/search", params={"q": "deploy", "limit": 1})
    assert page["hasMore"] is True and page["next"] == page["results"][0]["messages"][0]["id"]
    rest = bob.ok("GET", "/api/search", params={"q": "deploy", "limit": 1, "before": page["next"]})
    assert [r["conversation"]["title"] for r in rest["results"]] == ["first"]
    # carol's private conversation answers carol only; bob's prefix finds the checkout.
    assert [r["conversation"]["title"] for r in carol.ok("GET", "/api/search", params={"q": "deploy"})["results"]] \
        == ["private"]
    assert bob.ok("GET", "/api/search", params={"q": "check"})["results"][0]["conversation"]["title"] == "first"

    for params, code in (({"q": " "}, "invalid_query"), ({"q": "x" * 201}, "invalid_query"),
                         ({"q": "x", "before": "7"}, "invalid_cursor"), ({"q": "x", "limit": "0"}, "invalid_limit")):
        bad = bob.call("GET", "/api/search", params=params)
        assert bad.status_code == 400 and bad.json()["error"]["code"] == code, params
    assert Api(system).call("GET", "/api/search", params={"q": "x"}, headers={"Authorization": ""}).status_code == 401
