"""Browser tests: Debian's Chromium driven by Playwright (sync API) against the real running system
(a real redis-server and `python -m app`, started as the e2e tests start it). Never a downloaded browser."""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from tests.browser.chat import ChatPage
from tests.browser.proxy import Proxy
from tests.e2e.harness import Api, own_system

CHROMIUM = Path("/usr/bin/chromium")
# As root, in a sandbox, with no network but loopback (see the machine notes): no sandbox, no GPU, no QUIC,
# and none of Chromium's own background connections.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 # Voice messages (test_media.py): a fake microphone (a beep), allowed without asking.
                 "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


@pytest.fixture(scope="session")
def system():
    with own_system() as s:
        yield s


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        if os.environ.get("REQUIRE_BROWSER"):  # CI (.ci/run): a missing browser must not pass as a skip
            pytest.fail("Debian's chromium is not installed, and REQUIRE_BROWSER is set")
        pytest.skip("Debian's chromium is not installed (`make test` installs it)")
    from playwright.sync_api import expect, sync_playwright
    expect.set_options(timeout=10_000)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def open_chat(browser, system, request):
    """open_chat(locale=..., phone=..., base_url=..., timezone_id=..., init_script=...) → a ChatPage in a fresh browser context (one person).
    After the test: no uncaught error in any page, and no JavaScript dialog ever opened."""
    opened: list[ChatPage] = []

    def open_(locale: str = "en-US", phone: bool = False, base_url: str | None = None, **options) -> ChatPage:
        chat = ChatPage.open(browser, base_url or system.url, locale=locale, phone=phone,
                             test_name=request.node.name, index=len(opened), **options)
        opened.append(chat)
        return chat

    yield open_
    for chat in opened:
        chat.close()
    assert [e for chat in opened for e in chat.page_errors] == []
    assert [d for chat in opened for d in chat.dialogs] == []


@pytest.fixture
def proxy(system):
    """proxy(block_websockets=False) → a breakable TCP proxy in front of the server (see proxy.py)."""
    made: list[Proxy] = []

    def make(block_websockets: bool = False) -> Proxy:
        made.append(Proxy(system.port, block_websockets=block_websockets))
        return made[-1]

    yield make
    for p in made:
        p.close()


def person(system, name: str) -> Api:
    """A user with a readable name (screenshots) that no other test uses: alice-3f9c."""
    return Api(system, f"{name}-{uuid.uuid4().hex[:4]}")


def post(api: Api, conv_id: str, client_id: str, content: str) -> None:
    """A message sent by someone who is not at the page (REST, the same path as the socket's)."""
    api.ok("POST", f"/api/conversations/{conv_id}/messages", json={"clientId": client_id, "content": content})


def unread(api: Api, title: str) -> int:
    """The server's unread count of the user's conversation of that title."""
    return next(c["unread"] for c in api.ok("GET", "/api/conversations")["conversations"] if c["title"] == title)
