// A member picker: a text field that suggests people as one types (name, @username and avatar), in the
// ARIA combobox pattern: ↑/↓ move through the suggestions, Enter picks, Escape closes, a click picks.
// The field keeps a plain username as its value, so a form reads it like any input, and a name typed in
// full without picking still works.
import { avatar, displayName, h, replace } from "./dom.js";
import { t } from "./i18n.js";

const WAIT_MS = 150;   // after the last key, before asking the server
let count = 0;

export class MemberPicker {
  /**
   * search(q) → Promise<[{user, role?}]>: the members whose names start with q (a page of them).
   * name: the input's name in its form; label: its visible label; onPick(user): after a pick.
   */
  constructor({search, name = "username", label, placeholder = "", required = false, onPick = () => {}}) {
    Object.assign(this, {search, onPick});
    const id = `member-picker-${++count}`;
    this.options = [];
    this.active = -1;
    this.asked = 0;
    this.input = h("input.picker-input", {id, name, type: "text", role: "combobox", autocomplete: "off",
      autocapitalize: "none", spellcheck: "false", placeholder, required, "aria-autocomplete": "list",
      "aria-expanded": "false", "aria-controls": `${id}-list`});
    this.listbox = h("ul.picker-list", {id: `${id}-list`, role: "listbox", "aria-label": label, hidden: true});
    this.status = h("span.sr-only", {role: "status"});
    this.el = h("div.field.member-picker", h("label.field-label", {for: id}, label),
      h("div.picker-box", this.input, this.listbox), this.status);
    this.input.addEventListener("input", () => this.typed());
    this.input.addEventListener("focus", () => this.typed());
    this.input.addEventListener("keydown", (e) => this.onKey(e));
    this.input.addEventListener("blur", () => setTimeout(() => this.close(), 0));
    // mousedown, not click: the input keeps the focus, and picks before its blur closes the list
    this.listbox.addEventListener("mousedown", (e) => {
      const option = e.target.closest("[role=option]");
      if (!option) return;
      e.preventDefault();
      this.pick(Number(option.dataset.index));
    });
  }

  get value() {
    return this.input.value;
  }

  reset() {
    this.input.value = "";
    this.picked = null;
    this.close();
  }

  typed() {
    clearTimeout(this.timer);
    this.picked = null;
    this.timer = setTimeout(() => this.ask(this.input.value.trim()), WAIT_MS);
  }

  async ask(q) {
    const asked = ++this.asked;
    let members;
    try {
      members = await this.search(q);
    } catch {
      members = null;
    }
    if (asked !== this.asked || document.activeElement !== this.input) return;   // a newer question, or gone
    this.show(members);
  }

  show(members) {
    this.options = members || [];
    this.active = -1;
    const rows = this.options.map(({user}, index) => h("li.picker-option", {role: "option", id: `${this.input.id}-${index}`,
      dataset: {index: String(index)}, "aria-selected": "false"},
      avatar(user, user.id, "xs"),
      h("span.picker-name", displayName(user)),
      h("span.picker-username", `@${user.username}`)));
    const note = members === null ? t("memberPicker.failed") : rows.length ? "" : t("memberPicker.none");
    replace(this.listbox, rows, note ? h("li.picker-empty", {role: "presentation"}, note) : null);
    this.setOpen(true);
    this.status.textContent = note || t("memberPicker.count", {count: rows.length});
  }

  onKey(e) {
    const open = !this.listbox.hidden;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      if (!open) return this.ask(this.input.value.trim());
      const step = e.key === "ArrowDown" ? 1 : -1;
      const n = this.options.length;
      if (n) this.highlight((this.active + step + n) % n);
    } else if (e.key === "Enter" && open && this.active >= 0) {
      e.preventDefault();   // a pick, not the form's submit
      this.pick(this.active);
    } else if (e.key === "Escape" && open) {
      e.preventDefault();
      e.stopPropagation();  // closes the list, not the dialog around it
      this.close();
    }
  }

  highlight(index) {
    this.active = index;
    [...this.listbox.querySelectorAll("[role=option]")].forEach((el, i) => {
      el.setAttribute("aria-selected", String(i === index));
      if (i === index) el.scrollIntoView({block: "nearest"});
    });
    this.input.setAttribute("aria-activedescendant", `${this.input.id}-${index}`);
  }

  pick(index) {
    const member = this.options[index];
    if (!member) return;
    this.input.value = member.user.username;
    this.picked = member.user;
    this.close();
    this.status.textContent = t("memberPicker.picked", {name: displayName(member.user), username: member.user.username});
    this.onPick(member.user);
  }

  close() {
    clearTimeout(this.timer);
    this.asked++;
    this.setOpen(false);
  }

  setOpen(open) {
    this.listbox.hidden = !open;
    this.input.setAttribute("aria-expanded", String(open));
    if (!open) {
      this.active = -1;
      this.input.removeAttribute("aria-activedescendant");
    }
  }
}
