"""The group's members, searched by name for the member picker: prefix of username, first or last name
(case and accents ignored), in pages along the (groupId, userId) index."""
from __future__ import annotations

import pytest

from pipelines.people import directory
from pipelines.people.directory import list_group_members
from schemas.errors import ApiError, Code
from schemas.payloads import MemberQuery, parse_member_query
from tests.conftest import make_conversation, make_user


@pytest.fixture
def team(store):
    alice = make_user(store, "alice", fname="Alice", lname="Martin")
    others = [make_user(store, "bob", fname="Robert", lname="Builder"),
              make_user(store, "zoe", fname="Zoë", lname="Durand"),
              make_user(store, "bobby.t", fname="Bobby", lname="Tables")]
    conv = make_conversation(store, [alice, *others])
    stranger = make_user(store, "bobcat")   # in no group of theirs: never listed
    make_conversation(store, [stranger])
    return alice, conv.groupId


def names(page) -> list[str]:
    return sorted(m["user"]["username"] for m in page["members"])


def test_a_prefix_of_any_name_finds_the_member_case_and_accents_ignored(store, team):
    alice, group_id = team
    assert names(list_group_members(store, alice, group_id, MemberQuery("BOB", None, 20))) == ["bob", "bobby.t"]
    assert names(list_group_members(store, alice, group_id, MemberQuery("rob", None, 20))) == ["bob"]
    assert names(list_group_members(store, alice, group_id, MemberQuery("zoe", None, 20))) == ["zoe"]
    assert names(list_group_members(store, alice, group_id, MemberQuery("Durand", None, 20))) == ["zoe"]
    assert names(list_group_members(store, alice, group_id, MemberQuery("@ali", None, 20))) == ["alice"]
    assert names(list_group_members(store, alice, group_id, MemberQuery("robert bu", None, 20))) == ["bob"]
    assert list_group_members(store, alice, group_id, MemberQuery("nobody", None, 20)) == {
        "groupId": group_id, "members": [], "hasMore": False, "next": None}


def test_pages_follow_one_another_without_repeats(store, team):
    alice, group_id = team
    seen, after = [], None
    for _ in range(4):
        page = list_group_members(store, alice, group_id, MemberQuery("", after, 1))
        assert len(page["members"]) == 1 and "role" in page["members"][0]
        seen += names(page)
        if not page["hasMore"]:
            break
        after = page["next"]
    assert sorted(seen) == ["alice", "bob", "bobby.t", "zoe"] and not page["hasMore"]


def test_a_search_reads_a_bounded_range_of_memberships_per_page(store, team, monkeypatch):
    """Past the scan bound a page ends short, says there is more, and the next page resumes after it."""
    alice, group_id = team
    monkeypatch.setattr(directory, "MEMBERS_SCAN_LIMIT", 2)
    monkeypatch.setattr(directory, "MEMBERS_SCAN_BATCH", 2)
    found, after, pages = [], None, 0
    while True:
        page = list_group_members(store, alice, group_id, MemberQuery("bob", after, 20))
        found += names(page)
        pages += 1
        if not page["hasMore"]:
            break
        after = page["next"]
    assert sorted(found) == ["bob", "bobby.t"] and pages == 2


def test_without_a_query_the_whole_list_comes_in_joining_order(store, team):
    alice, group_id = team
    page = list_group_members(store, alice, group_id, parse_member_query({}))
    assert [m["user"]["username"] for m in page["members"]] == ["alice", "bob", "zoe", "bobby.t"]


def test_only_members_may_search(store, team):
    _, group_id = team
    outsider = make_user(store, "mallory")
    with pytest.raises(ApiError):
        list_group_members(store, outsider, group_id, MemberQuery("bob", None, 20))


@pytest.mark.parametrize("args, code", [({"after": "nope"}, Code.INVALID_CURSOR), ({"limit": "0"}, Code.INVALID_LIMIT),
                                        ({"q": "x" * 65}, Code.INVALID_PAYLOAD), ({"sort": "name"}, Code.INVALID_PAYLOAD)])
def test_a_bad_query_is_refused_with_what_is_wrong(args, code):
    with pytest.raises(ApiError) as caught:
        parse_member_query(args)
    assert caught.value.code == code


def test_a_query_is_read_from_the_address():
    assert parse_member_query({"q": " bo ", "limit": "5"}) == MemberQuery("bo", None, 5)
