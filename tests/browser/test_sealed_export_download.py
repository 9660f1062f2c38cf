"""An encrypted conversation's export downloaded from the exports page (ENCRYPT_ALL): the page follows the
download's link to this server's ``/file`` route (S3 holds only ciphertext) and the browser saves the file
decrypted, with its name."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from infra.crypto import LocalMasterKeys
from tests.browser.conftest import person, post
from tests.browser.test_exports import download, export_page, request, row
from tests.e2e.harness import make_conversation, own_system

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def sealed_system():
    with own_system(ENCRYPT_ALL="1", ENCRYPTION_MASTER_KEYS=LocalMasterKeys.generate("b1")) as system:
        yield system


def test_an_encrypted_export_downloads_decrypted_from_the_exports_page(sealed_system, open_chat):
    admin, member = person(sealed_system, "alice"), person(sealed_system, "bob")
    _, conv = make_conversation(admin, member, title="Sealed minutes")
    for i in range(5):
        post(member if i % 2 else admin, conv["id"], f"s{i}", f"albatross point {i}")
    chat = open_chat(base_url=sealed_system.url).sign_in(admin.username)
    export_page(chat)
    export_id = request(chat, conv["id"], "csv")
    expect(row(chat, export_id).locator(".status-pill")).to_have_text("Ready", timeout=30_000)
    with chat.page.expect_response(lambda r: "/download?redirect=0" in r.url) as link:
        data = download(chat, export_id)
    assert f"/api/exports/{export_id}/file?token=" in link.value.json()["url"]
    text = data.decode("utf-8-sig")
    assert all(f"albatross point {i}" in text for i in range(5))
