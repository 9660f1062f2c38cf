// A group's moderation settings: words that never match (allowlist), whether masked words open review
// items, and the automatic mute after repeated blocked messages; under them, for group admins, the group's own
// settings (encryption at rest, the GIF rating: group-settings.js).
import { $, h, replace } from "../shared/dom.js";
import { errorText, t } from "../shared/i18n.js";
import { field, inlineForm } from "./common.js";
import { GroupSettingsCard } from "./group-settings.js";

export class SettingsPanel {
  constructor({api, dialogs, state}) {
    this.api = api;
    this.groupCard = new GroupSettingsCard({api, dialogs, state, root: $("#group-settings")});
  }

  async open(group) {
    this.group = group;
    this.groupCard.open(group);
    replace($("#settings"), h("span.spinner"));
    try {
      this.settings = await this.api.get(`/api/groups/${group.id}/moderation/settings`);
    } catch (exc) {
      return replace($("#settings"), h("p.form-error", errorText(exc.code)));
    }
    if (group === this.group) this.render();
  }

  rerender() {
    if (this.settings) this.render();
    this.groupCard.rerender();
  }

  render() {
    const {allowlist = [], autoMute = {}, reviewMasks = false} = this.settings;
    const summary = h("p.summary", {role: "status"});
    const saved = h("span.saved", {role: "status"});
    const form = inlineForm("form.settings-form", [
      h("h2", t("mod.settings.allowlist")),
      field("allowlist", t("mod.settings.allowlistLabel"), {multiline: true, rows: "4", value: allowlist.join("\n"),
        spellcheck: "false", placeholder: t("mod.settings.allowlistPlaceholder")}, t("mod.settings.allowlistHint")),
      h("h2", t("mod.settings.reviews")),
      h("label.switch.big", h("input", {type: "checkbox", name: "reviewMasks", checked: Boolean(reviewMasks),
        "aria-describedby": "review-masks-hint"}), h("span", t("mod.settings.reviewMasks"))),
      h("p.field-hint", {id: "review-masks-hint"}, t("mod.settings.reviewMasksHint")),
      h("h2", t("mod.settings.autoMute")),
      h("label.switch.big", h("input", {type: "checkbox", name: "enabled", checked: Boolean(autoMute.enabled)}),
        h("span", t("mod.settings.autoMuteOn"))),
      h("div.number-fields",
        field("blocked", t("mod.settings.blocked"), {type: "number", min: "1", step: "1", required: true, value: String(autoMute.blocked ?? 3)}),
        field("windowMinutes", t("mod.settings.window"), {type: "number", min: "1", step: "1", required: true, value: String(autoMute.windowMinutes ?? 10)}),
        field("muteMinutes", t("mod.settings.muteFor"), {type: "number", min: "1", step: "1", required: true, value: String(autoMute.muteMinutes ?? 15)})),
      summary,
      h("div.form-actions", saved, h("button.button.primary", {type: "submit"}, t("action.save"))),
    ], async (values, el) => {
      const body = {
        allowlist: values.allowlist.split(/[\n,]+/).map((w) => w.trim()).filter(Boolean),
        reviewMasks: el.elements.reviewMasks.checked,
        autoMute: {enabled: el.elements.enabled.checked, blocked: Number(values.blocked),
          windowMinutes: Number(values.windowMinutes), muteMinutes: Number(values.muteMinutes)},
      };
      this.settings = await this.api.patch(`/api/groups/${this.group.id}/moderation/settings`, body);
      this.render();
      $("#settings .saved").textContent = t("mod.settings.saved");
    });
    const describe = () => {
      const v = Object.fromEntries(new FormData(form));
      summary.textContent = form.elements.enabled.checked
        ? t("mod.settings.summary", {blocked: v.blocked, window: v.windowMinutes, mute: v.muteMinutes})
        : t("mod.settings.summaryOff");
      saved.textContent = "";
    };
    form.addEventListener("input", describe);
    replace($("#settings"), form);
    describe();
  }
}
