"""Client payloads get a specific error code for each kind of bad input."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from schemas.errors import Code, from_validation_error
from schemas.payloads import MessageSend, ProfileUpdate, parse_history_query, parse_search_query

CONV = "a" * 24


def code_of(data) -> Code:
    with pytest.raises(ValidationError) as err:
        MessageSend.model_validate(data)
    return from_validation_error(err.value).code


@pytest.mark.parametrize("data, code", [
    ({"clientId": "c1", "content": "hi"}, Code.INVALID_PAYLOAD),                        # convId missing
    ({"convId": CONV, "content": "hi"}, Code.INVALID_PAYLOAD),                          # clientId missing
    ({"convId": 42, "clientId": "c1", "content": "hi"}, Code.INVALID_PAYLOAD),          # wrong type
    ({"convId": "not-an-id", "clientId": "c1", "content": "hi"}, Code.INVALID_PAYLOAD),
    ({"convId": CONV, "clientId": "c1", "content": ["hi"]}, Code.INVALID_PAYLOAD),
    ({"convId": CONV, "clientId": "c1", "content": "hi", "admin": True}, Code.INVALID_PAYLOAD),  # unknown field
    ({"convId": CONV, "clientId": "c1"}, Code.CONTENT_REQUIRED),
    ({"convId": CONV, "clientId": "c1", "content": "   "}, Code.CONTENT_REQUIRED),
    ({"convId": CONV, "clientId": "c1", "content": "x" * 10_001}, Code.CONTENT_TOO_LONG),
    ({"convId": CONV, "clientId": "c1", "content": "hi", "type": "image"}, Code.UNSUPPORTED_TYPE),
    ({"convId": CONV, "clientId": "c" * 65, "content": "hi"}, Code.INVALID_PAYLOAD),
])
def test_bad_send_payloads_have_specific_codes(data, code):
    assert code_of(data) == code


def test_good_send_at_the_limit():
    send = MessageSend.model_validate({"convId": CONV, "clientId": "c-1:x", "content": "é" * 10_000})
    assert send.type == "text" and len(send.content) == 10_000


@pytest.mark.parametrize("args, code", [
    ({"before": "abc"}, Code.INVALID_CURSOR),
    ({"after": "-1"}, Code.INVALID_CURSOR),
    ({"before": "3", "after": "1"}, Code.INVALID_CURSOR),
    ({"limit": "0"}, Code.INVALID_LIMIT),
    ({"limit": "201"}, Code.INVALID_LIMIT),
    ({"limit": "ten"}, Code.INVALID_LIMIT),
    ({"page": "2"}, Code.INVALID_PAYLOAD),
    ({"view": "all"}, Code.INVALID_PAYLOAD),
])
def test_bad_history_queries(args, code):
    with pytest.raises(Exception) as err:
        parse_history_query(args, max_limit=200, default_limit=50)
    assert err.value.code == code


def test_history_query_defaults_and_values():
    assert parse_history_query({}, 200, 50).limit == 50
    w = parse_history_query({"after": "7", "limit": "200"}, 200, 50)
    assert (w.before, w.after, w.limit) == (None, 7, 200)
    assert parse_history_query({"view": "moderation", "before": "9"}, 200, 50).view == "moderation"
    assert parse_history_query({}, 200, 50).view == "member"


@pytest.mark.parametrize("args, code", [
    ({}, Code.INVALID_QUERY),
    ({"q": "   "}, Code.INVALID_QUERY),
    ({"q": "x" * 201}, Code.INVALID_QUERY),
    ({"q": "ok", "limit": "51"}, Code.INVALID_LIMIT),
    ({"q": "ok", "limit": "0"}, Code.INVALID_LIMIT),
    ({"q": "ok", "before": "x"}, Code.INVALID_CURSOR),
    ({"q": "ok", "after": "3"}, Code.INVALID_PAYLOAD),  # search pages backwards only
])
def test_bad_search_queries(args, code):
    with pytest.raises(Exception) as err:
        parse_search_query(args)
    assert err.value.code == code


def test_search_query_defaults_and_values():
    q = parse_search_query({"q": "  réunion  "})
    assert (q.text, q.before, q.limit) == ("réunion", None, 20)
    q = parse_search_query({"q": "x" * 200, "before": "12", "limit": "50"})
    assert (len(q.text), q.before, q.limit) == (200, 12, 50)


@pytest.mark.parametrize("data", [
    {"username": "new_name"},                     # not changeable: mentions are parsed by username
    {"fname": None},
    {"fname": "x" * 65},
    {"avatarUrl": "javascript:alert(1)"},
    {"avatarUrl": "https://" + "x" * 510},
])
def test_bad_profile_updates_are_invalid_payloads(data):
    with pytest.raises(Exception) as err:
        ProfileUpdate.model_validate(data)
    assert from_validation_error(err.value).code == Code.INVALID_PAYLOAD


def test_a_profile_update_keeps_what_is_not_given():
    update = ProfileUpdate.model_validate({"fname": " Zoé ", "avatarUrl": None})
    assert update.model_dump(exclude_unset=True) == {"fname": "Zoé", "avatarUrl": None}
