""""Is this yours?" answered once (check_owner): the owner passes unlogged; anyone else is refused and logged,
with 404 where the thing is private to its owner and 403 where it is visible to them."""
from __future__ import annotations

import pytest

from pipelines.policy.access import check_owner
from schemas.errors import ApiError, Code
from tests.conftest import make_user


def _denials(store, user):
    return list(store.db.activity_logs.find({"userId": user.id, "action": "denied"}))


def test_the_owner_passes_and_nothing_is_logged(store):
    alice = make_user(store, "alice")
    check_owner(store, alice, "export", "x1", alice.id, "only the requester")
    check_owner(store, alice, "scheduled", "s1", alice.id, "no such", hidden=True)
    assert _denials(store, alice) == []


@pytest.mark.parametrize("hidden, code", [(False, Code.FORBIDDEN), (True, Code.NOT_FOUND)])
def test_anyone_else_is_refused_and_the_refusal_is_logged(store, hidden, code):
    alice, bob = make_user(store, "alice"), make_user(store, "bob")
    with pytest.raises(ApiError) as err:
        check_owner(store, bob, "thing", "t1", alice.id, "not yours", hidden=hidden, reason="edit of another's thing")
    assert err.value.code == code and err.value.message == "not yours"
    [entry] = _denials(store, bob)
    assert (entry["resource"], entry["resourceId"], entry["metadata"]["reason"]) == ("thing", "t1",
                                                                                       "edit of another's thing")


def test_a_thing_without_an_owner_is_nobodys(store):
    alice = make_user(store, "alice")
    with pytest.raises(ApiError) as err:
        check_owner(store, alice, "thing", "t1", None, "not yours")
    assert err.value.code == Code.FORBIDDEN and len(_denials(store, alice)) == 1
