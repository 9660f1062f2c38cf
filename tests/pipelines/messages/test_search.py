"""Search through the whole path (sent, drained, stored with its words): stemming in the text's language,
the last word as a prefix, every word required, across the caller's conversations with history's rules."""
from __future__ import annotations

import pytest

from pipelines.messages.drain import drain_inbox
from pipelines.messages.search import do_backfill_words, search_conversation, search_everywhere
from pipelines.messages.submit import submit_change, submit_message
from schemas.common import new_id, utcnow
from schemas.documents import Message, SenderInfo
from schemas.payloads import GlobalSearchQuery, MessageSend, SearchQuery
from tests.conftest import make_conversation, make_user


@pytest.fixture
def chat(store, inbox, notifier):
    alice, bob = make_user(store, "alice"), make_user(store, "bob", language="fr")
    conv = make_conversation(store, [alice, bob])

    def say(*contents: str, who=alice, where=conv) -> None:
        for text in contents:
            submit_message(store, inbox, lambda c: None, who, MessageSend(convId=where.id, clientId=new_id(),
                                                                         content=text))
        drain_inbox(where.id, store=store, inbox=inbox, notifier=notifier, enqueue_drain=lambda c: None)

    def change(seq: int, content: str | None = None, where=conv) -> None:
        mid = store.db.messages.find_one({"convId": where.id, "seq": seq})["_id"]
        submit_change(store, inbox, lambda c: None, alice, mid, content=content)
        drain_inbox(where.id, store=store, inbox=inbox, notifier=notifier, enqueue_drain=lambda c: None)

    return alice, bob, conv, say, change


def found(store, user, conv, text: str, before=None, limit=20) -> list[str]:
    page = search_conversation(store, user, conv.id, SearchQuery(text=text, before=before, limit=limit))
    return [m.content for m in page.messages]


def test_each_message_stores_the_language_of_its_text(store, chat):
    _, bob, conv, say, _ = chat
    say("we deployed the fix to staging", "Les élèves arrivent à 9h", "¿Dónde están las canciones?",
        "Die Häuser sind schön", "ok")
    stored = {d["content"]: d["language"] for d in store.db.messages.find({"convId": conv.id})}
    assert stored == {"we deployed the fix to staging": "english", "Les élèves arrivent à 9h": "french",
                      "¿Dónde están las canciones?": "spanish", "Die Häuser sind schön": "german",
                      "ok": "english"}  # too short to tell: alice's own language (the profile's default)
    say("ok", who=bob)
    assert store.db.messages.find_one({"convId": conv.id, "seq": 6})["language"] == "french"


def test_stemming_in_the_language_of_the_text(store, chat):
    alice, _, conv, say, _ = chat
    say("we deployed the fix to staging", "Les élèves arrivent à 9h", "Le niveau est très élevé",
        "Die Häuser in der Stadt sind alt", "¿Dónde están las canciones nuevas?", "deploying again tomorrow")
    assert found(store, alice, conv, "deploy ") == ["deploying again tomorrow", "we deployed the fix to staging"]
    assert found(store, alice, conv, "deployed ") == ["deploying again tomorrow", "we deployed the fix to staging"]
    assert found(store, alice, conv, "eleve ") == ["Le niveau est très élevé", "Les élèves arrivent à 9h"]
    assert found(store, alice, conv, "ÉLÈVES ") == ["Le niveau est très élevé", "Les élèves arrivent à 9h"]
    assert found(store, alice, conv, "Haus ") == ["Die Häuser in der Stadt sind alt"]
    assert found(store, alice, conv, "cancion ") == ["¿Dónde están las canciones nuevas?"]


def test_the_last_word_typed_is_also_a_prefix(store, chat):
    alice, _, conv, say, _ = chat
    say("the checkout is broken", "check the logs", "a cheque arrived", "Réunion demain")
    assert found(store, alice, conv, "check") == ["check the logs", "the checkout is broken"]
    assert found(store, alice, conv, "check ") == ["check the logs"]          # a complete word: no prefix
    assert found(store, alice, conv, "che") == ["a cheque arrived", "check the logs", "the checkout is broken"]
    assert found(store, alice, conv, "c") == []                               # under 2 characters: whole word
    assert found(store, alice, conv, "reu") == ["Réunion demain"]             # accents and case folded
    assert found(store, alice, conv, "ch.*") == found(store, alice, conv, "ch")  # punctuation cuts words


def test_every_word_is_required_and_stop_words_and_exclusions(store, chat):
    alice, _, conv, say, _ = chat
    say("deploy failed on staging", "deploy worked", "staging is down")
    assert found(store, alice, conv, "deploy stag") == ["deploy failed on staging"]
    assert found(store, alice, conv, "the deploy") == ["deploy worked", "deploy failed on staging"]
    assert found(store, alice, conv, "deploy -failed") == ["deploy worked"]
    assert found(store, alice, conv, '"deploy" fail') == ["deploy failed on staging"]
    assert found(store, alice, conv, "-deploy") == []   # nothing to look for
    assert found(store, alice, conv, "!!!") == []


def test_edits_and_deletions(store, chat):
    alice, bob, conv, say, change = chat
    say("le code secret est banane", "banane flambée", "rien")
    change(2)
    change(3, "the checkout moved")
    assert found(store, bob, conv, "banane") == ["le code secret est banane"]
    assert found(store, bob, conv, "rien") == []
    assert found(store, bob, conv, "checko") == ["the checkout moved"]
    assert store.db.messages.find_one({"convId": conv.id, "seq": 3})["language"] == "english"


def test_paging_in_one_conversation(store, chat):
    alice, _, conv, say, _ = chat
    say(*[f"réunion numéro {i}" if i % 2 else f"autre sujet {i}" for i in range(1, 8)])
    assert found(store, alice, conv, "reunions", limit=2) == ["réunion numéro 7", "réunion numéro 5"]
    assert found(store, alice, conv, "reunions", before=5, limit=2) == ["réunion numéro 3", "réunion numéro 1"]


def search_all(store, user, text, before=None, limit=20):
    return search_everywhere(store, user, GlobalSearchQuery(text=text, before=before, limit=limit)).public()


def test_across_my_conversations_grouped_newest_first(store, chat):
    alice, bob, conv, say, _ = chat
    other = make_conversation(store, [alice, bob], title="ops")
    say("deploy one")
    say("deployed two", where=other)
    say("deploying three")
    out = search_all(store, bob, "deploy")
    assert [(r["conversation"]["title"], [m["content"] for m in r["messages"]]) for r in out["results"]] == \
        [("general", ["deploying three", "deploy one"]), ("ops", ["deployed two"])]
    assert out["results"][0]["conversation"] == {"id": conv.id, "groupId": conv.groupId, "title": "general"}
    assert out["hasMore"] is False and "words" not in out["results"][0]["messages"][0]
    first = search_all(store, bob, "deploy", limit=2)
    assert first["hasMore"] is True and sum(len(r["messages"]) for r in first["results"]) == 2
    rest = search_all(store, bob, "deploy", before=first["next"], limit=2)
    assert [m["content"] for r in rest["results"] for m in r["messages"]] == ["deploy one"]
    assert rest["hasMore"] is False and rest["next"] is None


def test_a_conversation_i_left_or_was_never_in_is_not_searched(store, chat):
    alice, bob, conv, say, _ = chat
    carol = make_user(store, "carol")
    private = make_conversation(store, [alice, carol], title="private")
    say("deploy secret", where=private)
    say("deploy public")
    assert [r["conversation"]["title"] for r in search_all(store, bob, "deploy")["results"]] == ["general"]
    assert store.conversations.remove_conversation_member(conv.id, bob.id)
    assert search_all(store, bob, "deploy")["results"] == []
    assert [r["conversation"]["title"] for r in search_all(store, carol, "deploy")["results"]] == ["private"]


def test_deleted_and_system_messages_are_never_found(store, chat):
    alice, bob, conv, say, change = chat
    say("deploy now", "deploy later")
    change(1)
    now = utcnow()
    store.messages.insert_message(Message(id=new_id(), convId=conv.id, seq=3, clientId="sys", senderId=alice.id,
                                          senderInfo=SenderInfo.of(alice), type="system", content="deploy bot joined",
                                          words=["deploy", "bot", "joined"], createdAt=now, updatedAt=now))
    assert [m["content"] for r in search_all(store, bob, "deploy")["results"] for m in r["messages"]] == \
        ["deploy later"]


def test_the_backfill_gives_older_messages_their_words(store, chat):
    alice, bob, conv, say, _ = chat
    now = utcnow()
    for seq, text in enumerate(["the checkout is down", "Les élèves sont là", "merci"], 1):
        store.db.messages.insert_one({**Message(id=new_id(), convId=conv.id, seq=seq, clientId=f"old{seq}",
                                                senderId=bob.id, senderInfo=SenderInfo.of(bob), content=text,
                                                createdAt=now, updatedAt=now).to_mongo()})
        store.db.messages.update_one({"seq": seq, "convId": conv.id}, {"$unset": {"words": 1}})
    assert found(store, alice, conv, "check") == []
    first = do_backfill_words(store, None, batch=2)
    assert (first.read, first.updated) == (2, 2) and first.last_id is not None
    last = do_backfill_words(store, first.last_id, batch=2)
    assert (last.read, last.updated, last.last_id) == (1, 1, None)
    assert found(store, alice, conv, "check") == ["the checkout is down"]
    assert found(store, alice, conv, "eleve ") == ["Les élèves sont là"]
    languages = [d.get("language") for d in store.db.messages.find({"convId": conv.id}).sort("seq", 1)]
    assert languages == ["english", "french", "french"]  # "merci": bob's own language
    assert do_backfill_words(store, None).updated == 0   # a second walk changes nothing
