"""The chat page as a person uses it: sign in, open a conversation, send, react... (Playwright, sync API)."""
from __future__ import annotations

import re

from playwright.sync_api import Browser, Locator, Page, expect

from tests.e2e.harness import ARTIFACTS

SCREENSHOTS = ARTIFACTS / "browser"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}


class ChatPage:
    def __init__(self, page: Page, test_name: str, index: int) -> None:
        self.page = page
        self.test_name = test_name
        self.index = index
        self.page_errors: list[str] = []
        self.dialogs: list[str] = []
        page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))

        def on_dialog(dialog):
            self.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        page.on("dialog", on_dialog)

    @classmethod
    def open(cls, browser: Browser, base_url: str, locale: str = "en-US", phone: bool = False,
             test_name: str = "test", index: int = 0, timezone_id: str | None = None,
             init_script: str | None = None) -> "ChatPage":
        """timezone_id: the browser's time zone (default: the machine's); init_script: run in the page before
        its own scripts (stubs such as a recording window.Notification)."""
        context = browser.new_context(base_url=base_url, locale=locale, viewport=PHONE if phone else DESKTOP,
                                      device_scale_factor=2 if phone else 1, is_mobile=phone, has_touch=phone,
                                      **({"timezone_id": timezone_id} if timezone_id else {}))
        if init_script:
            context.add_init_script(init_script)
        chat = cls(context.new_page(), test_name, index)
        chat.page.goto("/")
        return chat

    def close(self) -> None:
        self.page.context.close()

    def screenshot(self, label: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=SCREENSHOTS / f"{self.test_name}-{self.index}-{label}.png")

    # -- signing in, finding one's way ------------------------------------------------------------------
    def sign_in(self, username: str) -> "ChatPage":
        self.page.fill("#username", username)
        self.page.click("#signin-form button[type=submit]")
        expect(self.page.locator("#me")).to_contain_text(username)
        return self

    def conversation_link(self, title: str) -> Locator:
        title_is = self.page.locator(".conv-title", has_text=exactly(title))
        return self.page.locator("#conv-list a.conv-item", has=title_is)

    def open_conversation(self, title: str) -> "ChatPage":
        self.conversation_link(title).click()
        self.wait_loaded()
        return self

    def goto_conversation(self, conv_id: str) -> "ChatPage":
        self.page.evaluate("id => { location.hash = '#/c/' + id; }", conv_id)
        return self

    def wait_loaded(self) -> None:
        expect(self.page.locator("#conv-title")).not_to_have_text("…")
        expect(self.page.locator("#input")).to_be_enabled()

    # -- messages ---------------------------------------------------------------------------------------
    def send(self, text: str) -> None:
        self.page.fill("#input", text)
        self.page.press("#input", "Enter")

    def message(self, text: str) -> Locator:
        """The stored message whose text is exactly this."""
        return self.page.locator("#messages li.msg", has=self.page.locator(".text", has_text=exactly(text)))

    def texts(self) -> list[str]:
        return self.page.locator("#messages li.msg:not(.system) .text").all_inner_texts()

    def seqs(self) -> list[int]:
        return self.page.locator("#messages li.msg").evaluate_all("els => els.map(e => Number(e.dataset.seq))")

    def echoes(self) -> Locator:
        return self.page.locator("#outbox li.echo")

    def act(self, text: str, action: str) -> None:
        """Hover a message and press one of its actions (react, reply, edit, delete)."""
        message = self.message(text)
        message.hover()
        message.locator(f"[data-action={action}]").click()


def exactly(text: str) -> re.Pattern:
    return re.compile(f"^{re.escape(text)}$")
