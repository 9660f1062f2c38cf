"""Search on a store with many messages: one conversation, and across a user's conversations.

Builds ``--convs`` conversations of ``--messages`` messages each (English, French, Spanish and German
chat lines, their words computed as the drain computes them), the user a member of all of them, then
times each search ``--rounds`` times: common and rare words, a prefix, two words. The embedded store by
default; a real MongoDB with MONGO_URL (a fresh database, dropped at the end). In process, no server.
Results: bench/results/search.json.

Usage: .venv/bin/python bench/search.py [--convs 200] [--messages 500] [--rounds 5]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from infra.embedded.mongo import embedded_client  # noqa: E402
from infra.storage import Store  # noqa: E402
from pipelines.messages.search import search_conversation, search_everywhere, search_fields  # noqa: E402
from schemas.common import new_id, utcnow  # noqa: E402
from schemas.documents import Conversation, ConversationMember, Message, SenderInfo, User  # noqa: E402
from schemas.payloads import GlobalSearchQuery, SearchQuery  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
LINES = ["we deployed the fix to staging", "the checkout page is broken again", "can you review my pull request",
         "Les élèves arrivent à neuf heures", "Réunion demain à dix heures, salle B", "le déploiement a échoué",
         "¿Dónde están las canciones nuevas?", "mañana tenemos reunión con el cliente",
         "Die Häuser in der Stadt sind alt", "Wir haben das Update gestern installiert", "ok", "merci !", "lol"]
QUERIES = ["deploy", "checkout", "eleve", "cancion", "haus", "che", "deploy stag", "zebra"]


def build(store: Store, convs: int, per_conv: int) -> User:
    rnd = random.Random(1)
    now = utcnow()
    user = User(id=new_id(), username="reader", createdAt=now, updatedAt=now)
    store.db.users.insert_one(user.to_mongo())
    for c in range(convs):
        conv = Conversation(id=new_id(), groupId="g" * 24, title=f"conv {c}", createdBy=user.id, createdAt=now,
                            lastMessageAt=now)
        store.conversations.insert_conversation(conv, [ConversationMember(
            id=new_id(), convId=conv.id, userId=user.id, groupId=conv.groupId, joinedAt=now)])
        docs = []
        for seq in range(1, per_conv + 1):
            text = f"{rnd.choice(LINES)} {rnd.randrange(10_000)}"
            docs.append(Message(id=new_id(), convId=conv.id, seq=seq, clientId=uuid.uuid4().hex, senderId=user.id,
                                senderInfo=SenderInfo(username="reader"), content=text, createdAt=now, updatedAt=now,
                                **search_fields(text, "text", user)).to_mongo())
        store.db.messages.insert_many(docs)
    return user


def timed(fn, rounds: int) -> dict:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        found = fn()
        times.append((time.perf_counter() - start) * 1000)
    return {"median_ms": round(statistics.median(times), 2), "max_ms": round(max(times), 2), "found": found}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--convs", type=int, default=200)
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if os.environ.get("MONGO_URL"):
        import pymongo
        client, kind = pymongo.MongoClient(os.environ["MONGO_URL"], tz_aware=True), "mongodb"
    else:
        client, kind = embedded_client(), "embedded"
    name = f"bench_search_{uuid.uuid4().hex[:8]}"
    store = Store(client[name])
    store.ensure_indexes()
    start = time.perf_counter()
    user = build(store, args.convs, args.messages)
    built_s = time.perf_counter() - start
    conv_id = store.conversations.conversations_of_user(user.id)[0][0].id
    rows = {}
    for q in QUERIES:
        one = timed(lambda: len(search_conversation(store, user, conv_id, SearchQuery(q, None, 20)).messages),
                    args.rounds)
        every = timed(lambda: sum(len(g.messages) for g in search_everywhere(
            store, user, GlobalSearchQuery(q, None, 20)).groups), args.rounds)
        rows[q] = {"conversation": one, "everywhere": every}
        print(f"{q!r:16} one conversation {one['median_ms']:8.2f} ms ({one['found']:2} found)   "
              f"everywhere {every['median_ms']:8.2f} ms ({every['found']:2} found)")
    if kind == "mongodb":
        client.drop_database(name)
    result = {"store": kind, "conversations": args.convs, "messages": args.convs * args.messages,
              "build_s": round(built_s, 1), "queries": rows}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "search.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
