"""pipelines/exports/requests.py: who may export, the download's URL and name, bad input, listing, cancelling."""
from __future__ import annotations

from urllib.parse import parse_qs, quote, urlsplit

import pytest

from pipelines.exports.files import ExportSettings
from pipelines.exports.requests import do_cancel_export, do_request_export, download_url, get_export, list_exports
from schemas.errors import ApiError, Code
from schemas.payloads import ExportCreate, IdPage
from tests.conftest import make_user
from tests.pipelines.exports.world import SETTINGS, w  # noqa: F401 - w: the fixture


def test_members_are_refused_unless_allowed_and_never_get_a_url(w, store):
    with pytest.raises(ApiError) as refused:
        w.request(who=w.bob)
    assert refused.value.code == Code.FORBIDDEN and w.queued == []
    with pytest.raises(ApiError) as other_group:
        w.request(who=w.carol)  # admin of another group
    assert other_group.value.code == Code.FORBIDDEN and w.queued == []
    job = w.request()
    w.run(job.id)
    for who in (w.bob, w.carol):
        with pytest.raises(ApiError) as no_url:
            download_url(store, w.blobs, SETTINGS, who, job.id)
        assert no_url.value.code == Code.FORBIDDEN
        with pytest.raises(ApiError):
            get_export(store, who, job.id)
    members = ExportSettings(**{**SETTINGS.__dict__, "for_members": True})
    allowed = do_request_export(store, w.queued.append, members, w.bob, w.conv.id,
                                        ExportCreate.model_validate({"format": "csv"}))
    assert allowed.status == "queued"
    # An admin who loses the role loses the download too.
    store.groups.set_group_role(w.conv.groupId, w.alice.id, "MEMBER")
    with pytest.raises(ApiError) as demoted:
        download_url(store, w.blobs, SETTINGS, w.alice, job.id)
    assert demoted.value.code == Code.FORBIDDEN


def test_the_download_is_named_after_the_title_without_a_path_or_a_header_of_its_own(w, store):
    store.db.conversations.update_one({"_id": w.conv.id}, {"$set": {"title": '../Q3 "plan"\r\nX-Evil: 1\u202e'}})
    job = w.request(format="csv")
    w.run(job.id)
    url = download_url(store, w.blobs, SETTINGS, w.alice, job.id)
    disposition = parse_qs(urlsplit(url).query)["response-content-disposition"][0]
    saved = f"_Q3 _plan_ X-Evil_ 1 export {store.exports.get_export(job.id).createdAt:%Y-%m-%d}.csv"
    assert disposition == f"attachment; filename=\"{saved}\"; filename*=UTF-8''{quote(saved, safe='')}"


@pytest.mark.parametrize("body, code", [
    ({"format": "xml"}, Code.INVALID_FORMAT),
    ({"format": None}, Code.INVALID_FORMAT),
    ({"from": 9, "to": 3}, Code.INVALID_RANGE),
    ({"from": "2025-03-02T00:00:00Z", "to": "2025-03-01T00:00:00Z"}, Code.INVALID_RANGE),
    ({"from": 3, "to": "2025-03-01T00:00:00Z"}, Code.INVALID_RANGE),
    ({"from": "yesterday"}, Code.INVALID_RANGE),
    ({"from": "2025-03-01T00:00:00"}, Code.INVALID_RANGE),
    ({"from": 0}, Code.INVALID_RANGE),
    ({"from": True}, Code.INVALID_RANGE),
    ({"timezone": "Mars/Olympus"}, Code.INVALID_TIMEZONE),
    ({"timezone": "../../etc/passwd"}, Code.INVALID_TIMEZONE),
    ({"language": "it"}, Code.INVALID_LANGUAGE),
    ({"includeDeleted": "yes"}, Code.INVALID_PAYLOAD),
])
def test_bad_input_gets_its_own_error_and_queues_nothing(w, store, body, code):
    with pytest.raises(ApiError) as refused:
        w.request(**{"format": "json", **body})
    assert refused.value.code == code and refused.value.status == 400
    assert w.queued == [] and store.db.exports.count_documents({}) == 0


def test_unknown_fields_are_refused():
    from pydantic import ValidationError
    with pytest.raises(ValidationError):
        ExportCreate.model_validate({"format": "json", "pages": 3})


def test_cancel_of_a_done_export_deletes_its_file(w, store):
    job = w.request(format="csv")
    w.run(job.id)
    do_cancel_export(store, w.blobs, w.alice, job.id)
    assert list(w.blobs.keys("exports/")) == []
    with pytest.raises(ApiError) as gone:
        download_url(store, w.blobs, SETTINGS, w.alice, job.id)
    assert gone.value.code == Code.NOT_READY


def test_the_requester_lists_their_exports_newest_first(w, store):
    ids = [w.request(format=f).id for f in ("json", "csv", "pdf")]
    page = list_exports(store, w.alice, IdPage(before=None, limit=2))
    assert [e["id"] for e in page["exports"]] == ids[::-1][:2] and page["hasMore"]
    assert list_exports(store, w.bob, IdPage(before=None, limit=10))["exports"] == []


def test_system_admins_export_any_conversation(w, store):
    root = make_user(store, "root", role="ADMIN")
    assert do_request_export(store, w.queued.append, SETTINGS, root, w.conv.id,
                                     ExportCreate.model_validate({"format": "json"})).status == "queued"
