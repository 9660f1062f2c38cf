"""pipelines/exports/picker.py: the conversations an exporter may pick, the same rule as the request (who
sees what), search by title and group name, paging, and bad query strings refused with a code of their own."""
from __future__ import annotations

import dataclasses

import pytest

from pipelines.exports.picker import list_exportable
from pipelines.exports.requests import check_may_export
from schemas.common import new_id, utcnow
from schemas.documents import Conversation, ConversationMember, Group, GroupMember
from schemas.errors import ApiError, Code
from schemas.payloads import parse_exportable_query
from tests.conftest import make_user
from tests.pipelines.exports.world import SETTINGS

MEMBERS_TOO = dataclasses.replace(SETTINGS, for_members=True)


def group(store, name, admin, members=()):
    now = utcnow()
    grp = Group(id=new_id(), name=name, createdBy=admin.id, createdAt=now)
    store.groups.insert_group(grp, GroupMember(id=new_id(), groupId=grp.id, userId=admin.id, role="GROUP_ADMIN",
                                               joinedAt=now))
    for user in members:
        store.groups.insert_group_member(GroupMember(id=new_id(), groupId=grp.id, userId=user.id, role="MEMBER",
                                                     joinedAt=now))
    return grp


def conversation(store, grp, title, members=()):
    now = utcnow()
    conv = Conversation(id=new_id(), groupId=grp.id, title=title, createdBy=grp.createdBy, createdAt=now)
    store.conversations.insert_conversation(conv, [ConversationMember(id=new_id(), convId=conv.id, userId=u.id,
                                                                      groupId=grp.id, joinedAt=now) for u in members])
    return conv


@pytest.fixture
def world(store):
    w = type("W", (), {})()
    w.root = make_user(store, "root", role="ADMIN")
    w.alice, w.bob, w.carol = make_user(store, "alice"), make_user(store, "bob"), make_user(store, "carol")
    w.sales = group(store, "Sales team", w.alice, [w.bob])
    w.ops = group(store, "Ops", w.carol, [w.bob])
    w.q3 = conversation(store, w.sales, "Quarterly review", [w.alice, w.bob])
    w.leads = conversation(store, w.sales, "Leads", [w.alice])
    w.deploys = conversation(store, w.ops, "Deploys (prod)", [w.carol, w.bob])
    return w


def ids(store, user, q="", settings=SETTINGS, **args):
    query = parse_exportable_query({**({"q": q} if q else {}), **{k: str(v) for k, v in args.items()}})
    return {c["id"] for c in list_exportable(store, user, settings, query)["conversations"]}


def allowed_by_the_request(store, user, settings, convs):
    out = set()
    for conv in convs:
        try:
            out.add(check_may_export(store, user, conv.id, settings).id)
        except ApiError:
            pass
    return out


@pytest.mark.parametrize("settings", [SETTINGS, MEMBERS_TOO])
def test_the_list_is_exactly_what_a_request_would_accept(world, store, settings):
    everything = [world.q3, world.leads, world.deploys]
    for user in (world.root, world.alice, world.bob, world.carol):
        assert ids(store, user, settings=settings) == allowed_by_the_request(store, user, settings, everything)
    assert ids(store, world.root) == {world.q3.id, world.leads.id, world.deploys.id}   # in no conversation
    assert ids(store, world.alice) == {world.q3.id, world.leads.id}                    # her group's
    assert ids(store, world.bob) == set()                                              # a member
    assert ids(store, world.bob, settings=MEMBERS_TOO) == {world.q3.id, world.deploys.id}


def test_each_item_names_its_group(world, store):
    query = parse_exportable_query({})
    listed = {c["id"]: c for c in list_exportable(store, world.root, SETTINGS, query)["conversations"]}
    assert listed[world.deploys.id] == {"id": world.deploys.id, "groupId": world.ops.id, "groupName": "Ops",
                                        "title": "Deploys (prod)", "lastSeq": 0, "kind": "group"}


def test_search_matches_titles_and_group_names_in_any_case_and_literally(world, store):
    assert ids(store, world.root, "QUARTER") == {world.q3.id}
    assert ids(store, world.root, "sales") == {world.q3.id, world.leads.id}          # by its group's name
    assert ids(store, world.root, "(prod)") == {world.deploys.id}                    # not a regex
    assert ids(store, world.root, ".*") == set()
    assert ids(store, world.alice, "ops") == set()                                   # the search stays in scope
    assert ids(store, world.carol, "deploy") == {world.deploys.id}


def test_pages_follow_a_stable_cursor(world, store):
    seen, before = [], None
    while True:
        args = {"limit": "1", **({"before": before} if before else {})}
        page = list_exportable(store, world.root, SETTINGS, parse_exportable_query(args))
        seen += [c["id"] for c in page["conversations"]]
        if not page["hasMore"]:
            break
        before = seen[-1]
        conversation(store, world.ops, "made meanwhile")   # newer: before the first page, never in later ones
    assert seen == sorted([world.q3.id, world.leads.id, world.deploys.id], reverse=True)


@pytest.mark.parametrize("args, code", [
    ({"limit": "0"}, Code.INVALID_LIMIT), ({"limit": "101"}, Code.INVALID_LIMIT), ({"limit": "x"}, Code.INVALID_LIMIT),
    ({"before": "nope"}, Code.INVALID_CURSOR), ({"q": "x" * 101}, Code.INVALID_QUERY),
    ({"sort": "title"}, Code.INVALID_PAYLOAD),
])
def test_bad_query_strings_have_a_code_of_their_own(args, code):
    with pytest.raises(ApiError) as refused:
        parse_exportable_query(args)
    assert refused.value.code == code and refused.value.status == 400
