"""A group's moderation settings: whether masks open review items (``reviewMasks``), its validation, and
the log entry each change leaves."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from pipelines.moderation import reviews, rules, screening
from pipelines.moderation.log import list_log
from schemas.errors import ApiError, Code
from schemas.payloads import FilterTest, IdPage, ModerationSettingsUpdate, ReviewQuery
from tests.pipelines.moderation.test_moderation import _stored

PENDING = ReviewQuery(statuses=("pending",), kind=None, page=IdPage(None, 50))


def _pending(store, mod):
    return reviews.list_reviews(store, mod.carol, mod.group, PENDING)["reviews"]


def _set(store, notifier, mod, **changes):
    return rules.do_update_moderation_settings(store, notifier, mod.carol, mod.group,
                                               ModerationSettingsUpdate(**changes))


def test_masks_open_no_review_item_by_default_and_the_message_is_still_masked(store, emitter, mod):
    assert rules.get_moderation_settings(store, mod.carol, mod.group)["reviewMasks"] is False
    mod.rule("word", "con*", "mask")
    mod.send(mod.bob, "m1", "Quel connard !")
    mod.drain()
    [stored] = _stored(store, mod.conv)
    assert stored["content"] == "Quel ••••••• !"
    assert _pending(store, mod) == [] and mod.queue.reviews == [] and emitter.of("moderation:flagged") == []


def test_a_group_that_reviews_masks_gets_an_item_per_masked_message_and_can_turn_it_off(store, notifier, mod):
    mod.rule("word", "con*", "mask")
    assert _set(store, notifier, mod, reviewMasks=True)["reviewMasks"] is True
    mod.send(mod.bob, "m1", "Quel connard !")
    mod.drain()     # the compiled rules follow the setting at the next batch (it moves the rules version)
    [item] = _pending(store, mod)
    assert item["kind"] == "filter" and item["message"]["content"] == "Quel connard !"

    assert _set(store, notifier, mod, reviewMasks=False)["reviewMasks"] is False
    mod.send(mod.bob, "m2", "connard encore")
    mod.drain()
    assert [m["content"] for m in _stored(store, mod.conv)] == ["Quel ••••••• !", "••••••• encore"]
    assert len(_pending(store, mod)) == 1


def test_a_flag_beside_a_mask_is_reviewed_whatever_the_setting(store, mod):
    mod.rule("word", "con*", "mask")
    mod.rule("word", "arnaque", "flag")
    mod.send(mod.bob, "f1", "connard, arnaque")
    mod.drain()
    [item] = _pending(store, mod)
    assert {r["action"] for r in item["reasons"]} == {"mask", "flag"}


def test_the_filter_tester_says_whether_a_text_would_be_reviewed(store, notifier, mod):
    mod.rule("word", "zut", "mask")
    out = screening.do_test_filter(store, mod.carol, mod.group, FilterTest(text="zut alors"))
    assert (out["action"], out["masked"], out["review"]) == ("mask", "••• alors", False)
    _set(store, notifier, mod, reviewMasks=True)
    assert screening.do_test_filter(store, mod.carol, mod.group, FilterTest(text="zut alors"))["review"] is True


@pytest.mark.parametrize("value", ["yes", 1, None, "true"])
def test_the_setting_is_a_boolean(value):
    if value is None:   # absent: nothing to change
        assert ModerationSettingsUpdate.model_validate({"reviewMasks": None}).reviewMasks is None
        return
    with pytest.raises(ValidationError):
        ModerationSettingsUpdate.model_validate({"reviewMasks": value})


def test_a_change_is_logged_from_what_to_what_and_a_member_cannot_make_it(store, notifier, mod):
    _set(store, notifier, mod, reviewMasks=True, allowlist=["contact"])
    _set(store, notifier, mod, reviewMasks=True)     # nothing changed: nothing logged
    [entry] = list_log(store, mod.carol, mod.group, IdPage(None, 50))["entries"]
    assert entry["action"] == "settings_updated" and entry["actorName"] == mod.carol.username
    assert entry["changes"] == {"reviewMasks": {"from": False, "to": True}, "allowlist": {"from": [], "to": ["contact"]}}
    with pytest.raises(ApiError) as err:
        rules.do_update_moderation_settings(store, notifier, mod.bob, mod.group,
                                            ModerationSettingsUpdate(reviewMasks=False))
    assert err.value.code == Code.FORBIDDEN
    with pytest.raises(ApiError) as err:
        rules.do_update_moderation_settings(store, notifier, mod.carol, mod.group, ModerationSettingsUpdate())
    assert err.value.code == Code.INVALID_PAYLOAD
    assert rules.get_moderation_settings(store, mod.carol, mod.group)["reviewMasks"] is True
