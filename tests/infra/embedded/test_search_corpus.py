"""One fixed French corpus and the answers to a set of $text searches: the embedded store must give them, and
so must a real MongoDB (tests marked ``mongo``, run with MONGO_URL), through the very same query. (The
product's search reads stored words instead, pipelines.messages.search; this holds the embedded store's
$text to MongoDB's, for whatever uses it.)

Some queries are there to tell stemmer versions apart ("bijou"/"bijoux", "albanais"/"Albanaise" stem
differently in Snowball 3, "ambiguïté" in Snowball 2): if the server's stemmer is not the one the
embedded store emulates, the MongoDB test says so.
"""
from __future__ import annotations

import os
import uuid
from datetime import timedelta

import pytest
from pymongo import DESCENDING, IndexModel, TEXT, monitoring

from infra.embedded.mongo import embedded_client
from infra.storage import Store
from pipelines.events import Notifier
from pipelines.people.profiles import sync_sender_info
from schemas.common import utcnow
from schemas.documents import Message, SenderInfo, User
from tests.fakes import RecordingEmitter

CONV, OTHER_CONV, SENDER = "c" * 24, "d" * 24, "e" * 24

CORPUS = [  # seq is the position + 1
    "Salut tout le monde ! 👋",
    "Le niveau est très élevé cette année",
    "Les élèves arrivent à 9h",
    "Réunion demain à 10h, salle B",
    "Les réunions du lundi sont annulées",
    "J'ai préparé un gâteau au chocolat",
    "Du chocolat au gâteau ? Non merci",
    "Gâteaux aux fraises pour l'anniversaire de Zoé",
    "c'est l'été, on part en vacances",
    "ÉTÉ INDIEN prévu cette semaine",
    "Un message important pour l'équipe",
    "Plusieurs messages non lus",
    "La messagerie est en panne",
    "pre-market open: les marchés ouvrent",
    "Où est passé le café ?",
    "cafe noir, sans sucre",
    "Le rendez-vous est confirmé",
    "Rendez vous confirmés pour jeudi",
    "Mon adresse: arthur_dev@exemple.fr",
    "« Bonjour », dit-elle — puis s'en alla…",
    "Une ambiguïté naïve",
    "Noël approche, les cadeaux aussi",
    "Les bijoux et les choux",
    "Une Albanaise à Calais",
    "le code secret est banane",   # 25: deleted
    "bienvenue à Zoé",             # 26: a system message
]
DELETED, SYSTEM = 25, 26

ANSWERS = {  # query -> seqs, newest first
    "eleve": [3, 2], "élevés": [3, 2], "ELEVE": [3, 2],
    "messages": [12, 11], "messagerie": [13],
    "reunion": [5, 4], "réunions annulées": [5, 4],
    "gateau": [8, 7, 6], '"gâteau au chocolat"': [6], "gâteau -chocolat": [8], "-chocolat": [],
    'chocolat -"au gâteau"': [6],
    "le la les": [], "ete": [], "été": [], "l'été vacances": [9],
    "cafe": [16, 15], "rendez-vous": [18, 17], '"rendez-vous"': [17], "confirmés jeudi": [18, 17],
    '"vous confirmés"': [18],
    "arthur_dev": [19], "exemple": [19], "dit-elle": [20], "👋": [1], "9h": [3], "B": [4],
    "ambiguite": [21], "ambiguïté": [21], "naive": [21], "noel": [22],
    "bijou": [], "choux": [23], "albanais": [], "calais": [24],
    "pre-market": [14], "-foo-bar market": [14], '""': [],
    "banane": [], "bienvenue": [],  # deleted, system
}


def fill(store: Store) -> None:
    start = utcnow() - timedelta(hours=1)
    info = SenderInfo(username="arthur_dev", fname="Arthur")
    docs = []
    for conv in (CONV, OTHER_CONV):  # the other conversation holds the same texts: it must never answer
        for seq, text in enumerate(CORPUS, 1):
            at = start + timedelta(seconds=seq)
            docs.append(Message(id=uuid.uuid4().hex[:24], convId=conv, seq=seq, clientId=f"c{seq}", senderId=SENDER,
                                senderInfo=info, type="system" if seq == SYSTEM else "text", content=text,
                                isDeleted=seq == DELETED, createdAt=at, updatedAt=at).to_mongo())
    store.db.messages.insert_many(docs)


TEXT_INDEX = IndexModel([("convId", 1), ("content", TEXT)], name="corpus_text", default_language="french")


def answers(store: Store, query: str, before: int | None = None, limit: int = 50) -> list[int]:
    """Newest first: the conversation's messages matching ``query`` with seq below ``before``, never deleted
    or system ones (the search this corpus was written for)."""
    find = {"convId": CONV, "$text": {"$search": query}, "isDeleted": False, "type": {"$ne": "system"}}
    if before is not None:
        find["seq"] = {"$lt": before}
    return [d["seq"] for d in store.db.messages.find(find, {"seq": 1}).sort("seq", DESCENDING).limit(limit)]


@pytest.fixture(scope="module")
def embedded() -> Store:
    store = Store(embedded_client()["corpus"])
    store.ensure_indexes()
    store.db.messages.create_indexes([TEXT_INDEX])
    fill(store)
    return store


def test_the_embedded_store_answers(embedded):
    assert {query: answers(embedded, query) for query in ANSWERS} == ANSWERS


# -- a real MongoDB ---------------------------------------------------------------------------------
needs_mongo = pytest.mark.skipif(not os.environ.get("MONGO_URL"), reason="needs a real MongoDB: set MONGO_URL")


class FindCommands(monitoring.CommandListener):
    """Keeps every find command the client sends, to ask the server how it ran them."""

    def __init__(self) -> None:
        self.finds: list[dict] = []

    def started(self, event) -> None:
        if event.command_name == "find":
            self.finds.append(dict(event.command))

    def succeeded(self, event) -> None:
        pass

    def failed(self, event) -> None:
        pass


@pytest.fixture(scope="module")
def mongodb():
    import pymongo

    listener = FindCommands()
    client = pymongo.MongoClient(os.environ["MONGO_URL"], tz_aware=True, event_listeners=[listener])
    name = f"chat_test_{uuid.uuid4().hex[:8]}"
    store = Store(client[name])
    store.ensure_indexes()
    store.db.messages.create_indexes([TEXT_INDEX])
    fill(store)
    try:
        yield store, listener
    finally:
        client.drop_database(name)


@pytest.mark.mongo
@needs_mongo
def test_mongodb_gives_the_same_answers(mongodb, embedded):
    store, _ = mongodb
    assert {query: answers(store, query) for query in ANSWERS} == ANSWERS
    for before, limit in ((None, 1), (20, 2), (8, 50)):  # and the same pages
        assert {q: answers(store, q, before, limit) for q in ANSWERS} == \
            {q: answers(embedded, q, before, limit) for q in ANSWERS}


def _plan(explained: dict) -> tuple[set[str], set[str]]:
    """The stages and index names anywhere in a query plan (their nesting differs between versions)."""
    stages, indexes = set(), set()

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("stage"), str):
                stages.add(node["stage"])
            if isinstance(node.get("indexName"), str):
                indexes.add(node["indexName"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(explained["queryPlanner"]["winningPlan"])
    return stages, indexes


@pytest.mark.mongo
@needs_mongo
def test_search_and_profile_sync_run_on_their_indexes(mongodb):
    store, listener = mongodb
    store.db.users.insert_one(User(id=SENDER, username="arthur_dev", fname="Arthur J.", createdAt=utcnow(),
                                updatedAt=utcnow()).to_mongo())
    listener.finds.clear()
    answers(store, "gateau -chocolat", 20, 5)
    result = sync_sender_info(SENDER, store=store, notifier=Notifier(RecordingEmitter()),
                              enqueue_sync=lambda u: None, batch=10)
    assert result.updated == 2 * len(CORPUS) and max(result.batches) == 10
    plans = {}
    for find in listener.finds:
        command = {k: v for k, v in find.items() if k in ("find", "filter", "sort", "projection", "limit")}
        if find["find"] == "messages":
            plans["search" if "$text" in find["filter"] else "walk"] = _plan(
                store.db.command("explain", command, verbosity="queryPlanner"))
    assert "corpus_text" in plans["search"][1] and "COLLSCAN" not in plans["search"][0]
    # The walk reads the index in order: no collection scan, no skip, no in-memory sort.
    assert plans["walk"][1] == {"senderId_createdAt"} and not {"COLLSCAN", "SKIP", "SORT"} & plans["walk"][0]
