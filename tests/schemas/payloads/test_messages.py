"""Message payloads and queries get a specific error code for each kind of bad input."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from schemas.errors import ApiError, Code, from_validation_error
from schemas.payloads import (CONTENT_LIMIT, MessageEdit, MessageSend, ScheduledMessageCreate,
                              ScheduledMessageUpdate, parse_global_search_query, parse_history_query,
                              parse_search_query)

CONV = "a" * 24
LIMIT = {CONTENT_LIMIT: 10_000}  # what app/ passes: MAX_MESSAGE_CHARS


def code_of(data) -> Code:
    with pytest.raises(ValidationError) as err:
        MessageSend.model_validate(data, context=LIMIT)
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
    send = MessageSend.model_validate({"convId": CONV, "clientId": "c-1:x", "content": "é" * 10_000}, context=LIMIT)
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
    q = parse_search_query({"q": "  réunion  "})  # a trailing space says the last word is complete
    assert (q.text, q.before, q.limit) == ("réunion ", None, 20)
    q = parse_search_query({"q": "x" * 200, "before": "12", "limit": "50"})
    assert (len(q.text), q.before, q.limit) == (200, 12, 50)
    assert parse_search_query({"q": "check"}).text == "check"


def test_global_search_query():
    q = parse_global_search_query({"q": "deploy", "before": "a" * 24, "limit": "5"})
    assert (q.text, q.before, q.limit) == ("deploy", "a" * 24, 5)
    assert parse_global_search_query({"q": "deploy"}).before is None
    for args, code in (({"q": "x", "before": "12"}, "invalid_cursor"), ({"q": " "}, "invalid_query"),
                       ({"q": "x" * 201}, "invalid_query"), ({"q": " ".join("abcdefghijk")}, "invalid_query"),
                       ({"q": "x", "limit": "51"}, "invalid_limit"), ({"q": "x", "scope": "all"}, "invalid_payload")):
        with pytest.raises(ApiError) as err:
            parse_global_search_query(args)
        assert err.value.code == code, args


@pytest.mark.parametrize("model, data", [
    (MessageSend, {"convId": CONV, "clientId": "c1"}),
    (MessageSend, {"convId": CONV, "clientId": "c1", "attachments": [CONV]}),
    (MessageEdit, {"messageId": CONV}),
    (ScheduledMessageCreate, {"clientId": "c1", "sendAt": "2030-01-01T00:00:00Z"}),
    (ScheduledMessageUpdate, {}),
])
def test_every_path_takes_its_content_limit_from_the_context(model, data):
    """socket, REST, scheduled and edit: the same code and message, with the limit app/ holds."""
    with pytest.raises(ValidationError) as err:
        model.model_validate({**data, "content": "x" * 101}, context={CONTENT_LIMIT: 100})
    error = from_validation_error(err.value)
    assert error.code == Code.CONTENT_TOO_LONG
    assert error.message.endswith("content is 101 characters; the limit is 100")
    assert model.model_validate({**data, "content": "x" * 100}, context={CONTENT_LIMIT: 100}).content == "x" * 100


def test_without_a_context_content_is_not_measured_again():
    """A pipeline rebuilds a send from content checked when it came in (a scheduled message being sent)."""
    assert len(MessageSend(convId=CONV, clientId="c1", content="x" * 10_001).content) == 10_001
    with pytest.raises(ValidationError):
        MessageSend(convId=CONV, clientId="c1", content="  ")   # still needs content
