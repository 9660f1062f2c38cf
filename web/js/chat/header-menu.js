// The conversation header's "⋯" menu button: on a narrow screen the secondary actions (gallery, notification
// level, members, leave...) live in a menu under it, so the title and subtitle keep their room. On a wide
// screen the button is not shown and the actions sit in the header. Keyboard: Enter/Space or ↓ opens and
// focuses the first action, ↑/↓ move, Home/End jump, Escape closes and gives the focus back to the button.
import { $ } from "../shared/dom.js";

export class HeaderMenu {
  constructor() {
    this.button = $("#conv-more");
    this.panel = $("#conv-actions");
    this.button.addEventListener("click", () => (this.isOpen() ? this.close(true) : this.open()));
    this.button.addEventListener("keydown", (e) => {
      if (e.key === "ArrowDown" && !this.isOpen()) {
        e.preventDefault();
        this.open();
      }
    });
    this.panel.addEventListener("keydown", (e) => this.onKey(e));
    // An action chosen: the menu goes (the action opens its own panel or dialog).
    this.panel.addEventListener("click", (e) => e.target.closest("button") && this.close(false));
    document.addEventListener("click", (e) => {
      if (this.isOpen() && !e.target.closest("#conv-more, #conv-actions")) this.close(false);
    });
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && this.isOpen()) this.close(true);
    });
    window.addEventListener("resize", () => this.isOpen() && this.close(false));
  }

  isOpen() {
    return this.panel.classList.contains("open");
  }

  items() {
    return [...this.panel.querySelectorAll("button")].filter((b) => !b.hidden && b.offsetParent !== null);
  }

  open() {
    this.panel.classList.add("open");
    this.button.setAttribute("aria-expanded", "true");
    this.items()[0]?.focus();
  }

  close(refocus) {
    this.panel.classList.remove("open");
    this.button.setAttribute("aria-expanded", "false");
    if (refocus) this.button.focus();
  }

  onKey(e) {
    if (!this.isOpen()) return;
    const items = this.items();
    const at = items.indexOf(document.activeElement);
    const to = {ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: items.length - 1}[e.key];
    if (to === undefined || !items.length) return;
    e.preventDefault();
    items[(to + items.length) % items.length].focus();
  }
}
