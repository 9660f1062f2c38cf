"""Presence on a real redis-server: several tabs, several web processes, a web process that dies.

Each ``PresenceTracker`` here plays one web process: they share nothing but Redis, as in production.
"""
from __future__ import annotations

import threading
import time

import pytest
import redis

from infra.presence import Change, PresenceRegistry
from pipelines.people.presence import PresenceTracker, PresenceWriter, group_presence
from schemas.common import new_id
from schemas.errors import ApiError
from tests.conftest import make_conversation, make_user


@pytest.fixture
def client(redis_server):
    r = redis.Redis.from_url(redis_server.url)
    r.flushdb()
    return r


@pytest.fixture
def team(store):
    alice, bob = make_user(store, "alice"), make_user(store, "bob")
    conv = make_conversation(store, [alice, bob])
    return alice, bob, conv.groupId


def web_process(client, store, notifier, ttl=60.0, clock=time.time) -> PresenceTracker:
    return PresenceTracker(PresenceRegistry(client, ttl_seconds=ttl, clock=clock), store, notifier)


class Clock:
    """The time the web processes of a test agree on, moved by the test (no sleeping, no timing luck)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def two_web_processes(client, store, notifier) -> tuple[Clock, PresenceTracker, PresenceTracker]:
    """Two web processes agreeing on a clock the test moves (their sockets live 60 s unrefreshed)."""
    clock = Clock()
    return clock, *(web_process(client, store, notifier, ttl=60, clock=clock) for _ in range(2))


def updates(emitter):
    """Every presence change announced, one by one or in a batch, as (room, userId, status)."""
    out = []
    for event, data, room in emitter.events:
        if event == "presence:update":
            out.append((room, data["userId"], data["status"]))
        elif event == "presence:batch":
            assert room == f"group:{data['groupId']}"
            out += [(room, change["userId"], change["status"]) for change in data["changes"]]
    return out


def test_changes_written_together_reach_each_group_as_one_event(client, store, notifier, emitter, team):
    """A storm of connects: every socket of a group gets one frame for the batch, not one per member."""
    alice, bob, group_id = team
    carol = make_user(store, "carol")    # in no group of theirs: her change goes nowhere
    web = web_process(client, store, notifier)
    assert web.do_changes([Change(alice.id, "a1", True), Change(bob.id, "b1", True), Change(bob.id, "b2", True),
                           Change(carol.id, "c1", True)]) == 3
    events = [(e, room) for e, _, room in emitter.events if e.startswith("presence:")]
    assert events == [("presence:batch", f"group:{group_id}")]
    assert updates(emitter) == [(f"group:{group_id}", alice.id, "online"), (f"group:{group_id}", bob.id, "online")]
    assert web.do_disconnect(alice.id, "a1") is True       # one change alone keeps presence:update
    assert emitter.events[-1][0] == "presence:update"


def test_online_at_the_first_tab_offline_after_the_last(client, store, notifier, emitter, team):
    alice, bob, group_id = team
    web = web_process(client, store, notifier)
    assert web.do_connect(bob.id, "tab-1") is True
    assert web.do_connect(bob.id, "tab-2") is False          # already online: nothing announced
    assert web.do_disconnect(bob.id, "tab-1") is False       # one tab still open
    assert updates(emitter) == [(f"group:{group_id}", bob.id, "online")]
    assert web.do_disconnect(bob.id, "tab-2") is True
    assert updates(emitter)[-1] == (f"group:{group_id}", bob.id, "offline")
    assert web.do_disconnect(bob.id, "tab-2") is False       # a repeated close announces nothing more
    assert len(updates(emitter)) == 2


def test_tabs_on_different_web_processes_share_one_state(client, store, notifier, emitter, team):
    alice, bob, _ = team
    web1, web2 = web_process(client, store, notifier), web_process(client, store, notifier)
    web1.do_connect(bob.id, "a")
    web2.do_connect(bob.id, "b")
    web1.do_disconnect(bob.id, "a")
    assert [s for _, _, s in updates(emitter)] == ["online"]  # bob is still online through web2
    web2.do_disconnect(bob.id, "b")
    assert [s for _, _, s in updates(emitter)] == ["online", "offline"]


def test_tabs_opening_and_closing_at_once_announce_each_transition_once(client, store, notifier, emitter, team):
    _, bob, _ = team
    webs = [web_process(client, store, notifier) for _ in range(8)]
    barrier = threading.Barrier(len(webs))

    def tab(i):
        barrier.wait()
        webs[i].do_connect(bob.id, f"tab-{i}")
        barrier.wait()
        webs[i].do_disconnect(bob.id, f"tab-{i}")

    threads = [threading.Thread(target=tab, args=(i,)) for i in range(len(webs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [s for _, _, s in updates(emitter)] == ["online", "offline"]


def test_the_users_of_a_dead_web_process_go_offline_by_the_sweep(client, store, notifier, emitter, team):
    alice, bob, _ = team
    clock, dead, alive = two_web_processes(client, store, notifier)
    dead.do_connect(bob.id, "on-dead")
    alive.do_connect(alice.id, "on-alive")
    assert alive.do_sweep() == 0
    for later, bob_online in ((25, True), (50, True), (75, False)):  # only the living process refreshes
        clock.now += 25
        alive.do_heartbeat([(alice.id, "on-alive")])
        assert alive.registry.status([bob.id])[bob.id].online is bob_online, later
    assert alive.do_sweep() == 1                              # bob's socket expired 15 s ago; alice's lives
    assert updates(emitter)[-1][1:] == (bob.id, "offline")
    status = alive.registry.status([alice.id, bob.id])
    assert status[alice.id].online and not status[bob.id].online and status[bob.id].last_seen
    assert alive.do_sweep() == 0                              # announced once


def test_group_presence_answers_members_only(client, store, notifier, team):
    alice, bob, group_id = team
    registry = PresenceRegistry(client)
    PresenceTracker(registry, store, notifier).do_connect(bob.id, "x")
    got = {p["userId"]: p for p in group_presence(store, registry, alice, group_id)["presence"]}
    assert got[bob.id]["status"] == "online" and got[alice.id] == {"userId": alice.id, "status": "offline",
                                                                      "lastSeen": None}
    outsider = make_user(store, "mallory")
    with pytest.raises(ApiError) as refused:
        group_presence(store, registry, outsider, group_id)
    assert refused.value.code == "forbidden"
    with pytest.raises(ApiError) as missing:
        group_presence(store, registry, alice, new_id())
    assert missing.value.code == "not_found"


def test_presence_reaches_only_the_users_groups(client, store, notifier, emitter, team):
    alice, bob, group_id = team
    loner = make_user(store, "loner")  # in no group: nobody to tell
    web = web_process(client, store, notifier)
    web.do_connect(loner.id, "l")
    web.do_connect(bob.id, "b")
    assert updates(emitter) == [(f"group:{group_id}", bob.id, "online")]


def test_a_heartbeat_registers_again_the_sockets_redis_lost_and_announces_who_came_back(
        client, store, notifier, emitter, team):
    alice, bob, _ = team
    clock, web, other = two_web_processes(client, store, notifier)
    web.do_connect(alice.id, "a1")
    web.do_connect(bob.id, "b1")
    clock.now += 90                                            # Redis away longer than the TTL...
    assert other.do_sweep() == 2                               # ...so another web process swept them
    assert [s for _, _, s in updates(emitter)] == ["online", "online", "offline", "offline"]
    client.delete("presence:all")                              # and even the index is gone
    assert web.do_heartbeat([(alice.id, "a1"), (bob.id, "b1")]) == 2
    assert [s for _, _, s in updates(emitter)][-2:] == ["online", "online"]
    assert {u: s.online for u, s in web.registry.status([alice.id, bob.id]).items()} == {alice.id: True, bob.id: True}
    assert client.zcard("presence:all") == 2
    assert web.do_heartbeat([(alice.id, "a1"), (bob.id, "b1")]) == 0   # nothing lost: nothing announced
    assert len(updates(emitter)) == 6


def test_one_batch_of_changes_announces_each_users_transitions_in_order(client, store, notifier, emitter, team):
    alice, bob, _ = team
    registry = PresenceRegistry(client)
    changes = [Change(bob.id, "t1", True), Change(bob.id, "t2", True), Change(alice.id, "a", True),
               Change(bob.id, "t1", False), Change(bob.id, "t2", False), Change(bob.id, "t2", False)]
    assert registry.apply(changes, "2026-12-07T00:00:00Z") == [True, False, True, False, True, False]
    assert PresenceTracker(registry, store, notifier).do_changes([Change(alice.id, "a", False)]) == 1
    assert client.hget("presence:last_seen", bob.id) == b"2026-12-07T00:00:00Z"
    assert not client.exists(f"presence:sockets:{bob.id}") and client.zcard("presence:all") == 0


def writer_with_queued_tabs(client, store, notifier, user, tabs: int, batch: int) -> tuple[PresenceWriter, list]:
    """A writer whose green threads the test runs (``spawned.pop()()``), with ``tabs`` connects queued."""
    spawned: list = []
    writer = PresenceWriter(web_process(client, store, notifier), spawned.append, batch=batch)
    for i in range(tabs):
        writer.submit(user.id, f"tab-{i}", True)
    return writer, spawned


def test_the_writer_writes_a_storm_in_batches_and_survives_a_failing_one(client, store, notifier, emitter, team):
    alice, bob, group_id = team
    writer, spawned = writer_with_queued_tabs(client, store, notifier, bob, tabs=5, batch=3)
    tracker = writer.tracker
    assert len(spawned) == 1 and updates(emitter) == []       # one green thread, not yet run
    spawned.pop()()
    assert updates(emitter) == [(f"group:{group_id}", bob.id, "online")]
    assert len(client.zrange(f"presence:sockets:{bob.id}", 0, -1)) == 5
    for i in range(5):
        writer.submit(bob.id, f"tab-{i}", False)
    writer.submit(alice.id, "a", True)
    tracker.registry.apply = lambda *_: (_ for _ in ()).throw(redis.ConnectionError("Redis away"))
    spawned.pop()()                                            # both batches fail: logged, not raised
    assert writer._pending == [] and not writer._running
    del tracker.registry.apply
    writer.submit(alice.id, "a", True)
    spawned.pop()()
    assert updates(emitter)[-1] == (f"group:{group_id}", alice.id, "online")


def test_a_heartbeat_waits_for_the_connects_queued_before_it(client, store, notifier, emitter, team, caplog):
    alice, bob, group_id = team
    writer, spawned = writer_with_queued_tabs(client, store, notifier, bob, tabs=3, batch=2)
    writer.heartbeat([(bob.id, f"tab-{i}") for i in range(3)])  # the loop's list: queued connects included
    writer.submit(alice.id, "a", True)
    spawned.pop()()
    assert "missing from Redis" not in caplog.text             # not taken for sockets Redis lost
    assert [(u, s) for _, u, s in updates(emitter)] == [(bob.id, "online"), (alice.id, "online")]
    writer.heartbeat([(alice.id, "a"), (alice.id, "lost")])     # one the registry never had
    spawned.pop()()
    assert "1 live sockets were missing from Redis" in caplog.text
    assert client.zscore(f"presence:sockets:{alice.id}", "lost") is not None
