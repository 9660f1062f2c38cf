"""People payloads: a profile update refuses what it must not change and keeps what is not given."""
from __future__ import annotations

import pytest

from schemas.errors import Code, from_validation_error
from schemas.payloads import ProfileUpdate


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
