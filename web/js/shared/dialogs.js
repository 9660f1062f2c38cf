// Modal forms on the native <dialog>: create a group or a conversation, add people, edit a profile, confirm.
import { $, h, replace } from "./dom.js";
import { errorText, t } from "./i18n.js";

export class Dialogs {
  constructor() {
    this.dialog = $("#dialog");
  }

  /**
   * fields: [{name, label, value?, placeholder?, required?, type?, options?: [[value, label]], suggestions?: [text]}].
   * onSubmit(values) may throw an ApiError, shown in the dialog (its `text` if it has one, else its code in
   * words); resolves to its result, or null if cancelled. extra: nodes shown after the fields.
   * A checkbox field (type "checkbox", value true/false) gives "on" when ticked, nothing otherwise.
   */
  form({title, text, fields = [], extra = [], submit, danger = false, onSubmit = async (values) => values}) {
    return new Promise((resolve) => {
      let result = null;
      const error = h("p.form-error", {role: "alert"});
      const button = h(`button.button${danger ? ".danger" : ".primary"}`, {type: "submit"}, submit);
      const form = h("form.dialog-form", {method: "dialog"},
        h("h2", title),
        text ? h("p.dialog-text", text) : null,
        fields.map((f, i) => this.field(f, i === 0)),
        extra,
        error,
        h("div.dialog-actions",
          h("button.button", {type: "button", onclick: () => this.dialog.close()}, t("action.cancel")),
          button));
      form.addEventListener("submit", async (e) => {
        e.preventDefault();
        button.disabled = true;
        error.textContent = "";
        try {
          result = (await onSubmit(Object.fromEntries(new FormData(form)))) ?? true;
          this.dialog.close();
        } catch (exc) {
          error.textContent = exc.text || errorText(exc.code);
          button.disabled = false;
        }
      });
      this.dialog.addEventListener("close", () => resolve(result), {once: true});
      replace(this.dialog, form);
      this.dialog.showModal();
    });
  }

  field({name, label, value = "", placeholder = "", required = false, type = "text", options, suggestions, hint,
    min, max, step}, first) {
    const id = `field-${name}`;
    let input;
    if (type === "checkbox") {
      return h("label.field.check", {for: id}, h("input", {id, name, type, checked: Boolean(value), autofocus: first}),
        h("span.check-label", label), hint ? h("span.field-hint", hint) : null);
    }
    if (options) {
      input = h("select", {id, name}, options.map(([v, text]) => h("option", {value: v, selected: v === value}, text)));
    } else {
      input = h("input", {id, name, type, value, placeholder, required, autocomplete: "off", autofocus: first,
        list: suggestions?.length ? `${id}-list` : null, min, max, step});
    }
    return h("label.field", {for: id}, h("span.field-label", label), input,
      hint ? h("span.field-hint", hint) : null,
      suggestions?.length ? h("datalist", {id: `${id}-list`}, suggestions.map((s) => h("option", {value: s}))) : null);
  }

  async confirm({title, text, confirm}) {
    return (await this.form({title, text, submit: confirm, danger: true})) !== null;
  }
}
