// A group's own settings (`GET`/`PATCH /api/groups/{id}/settings`, group admins and system admins): encryption
// at rest of what members write (one way: once on, it stays on; refused with the reason where the server has no
// master key) and the content rating passed to the GIF provider. Each change is saved at once and logged by the
// server in the group's moderation history.
import { h, replace } from "../shared/dom.js";
import { errorText, t } from "../shared/i18n.js";
import { GIF_RATING_KEYS } from "../shared/texts.js";
import { field, isGroupAdmin } from "./common.js";

const RATINGS = ["g", "pg", "pg-13", "r"];
const FIELDS = ["keepOriginalMetadata", "encryption", "gifRating", "encryptionAvailable"];

export class GroupSettingsCard {
  /** root: the card's element; state: the dashboard's {me, group}. */
  constructor({api, dialogs, root, state}) {
    Object.assign(this, {api, dialogs, root, state});
  }

  /** Read the group's settings; moderators (a 403) and servers without the route see no card. */
  async open(group) {
    this.group = group;
    this.settings = null;
    this.root.hidden = true;
    if (!isGroupAdmin(this.state)) return;
    let settings;
    try {
      settings = await this.api.get(`/api/groups/${group.id}/settings`);
    } catch {
      return;   // not theirs to change (or not on this server): nothing to show
    }
    if (group !== this.group) return;
    this.settings = settings;
    this.render();
  }

  rerender() {
    if (this.settings) this.render();
  }

  render() {
    const {encryption = false, encryptionAvailable = false, gifRating = "g"} = this.settings;
    const saved = h("span.group-saved", {role: "status"});
    const error = h("p.form-error", {role: "alert"});
    const lock = h("input", {type: "checkbox", name: "encryption", checked: encryption,
      disabled: encryption || !encryptionAvailable, "aria-describedby": "encryption-hint"});
    const hint = encryption ? t("encryption.settingOn") : encryptionAvailable ? t("encryption.settingHint")
      : t("encryption.settingUnavailable");
    lock.addEventListener("change", () => this.turnOn(lock, saved, error));
    const rating = field("gifRating", t("gifs.ratingLabel"), {value: gifRating,
      options: RATINGS.map((r) => [r, t(GIF_RATING_KEYS[r])])}, t("gifs.ratingHint"));
    rating.querySelector("select").addEventListener("change", (e) => this.save({gifRating: e.target.value}, saved, error));
    replace(this.root,
      h("h2", t("encryption.settingTitle")),
      h("label.switch.big", lock, h("span", t("encryption.setting"))),
      h("p.field-hint", {id: "encryption-hint"}, hint),
      h("h2", t("gifs.ratingTitle")),
      rating,
      error,
      h("div.form-actions", saved));
    this.root.hidden = false;
  }

  /** The switch turned on: confirmed first (it cannot be undone), then saved; cancelled or refused: off again. */
  async turnOn(input, saved, error) {
    if (!input.checked) return;
    const sure = await this.dialogs.confirm({title: t("encryption.confirmTitle"), text: t("encryption.confirmText"),
      confirm: t("encryption.confirm")});
    if (!sure || !(await this.save({encryption: true}, saved, error))) input.checked = false;
  }

  async save(changes, saved, error) {
    saved.textContent = "";
    error.textContent = "";
    try {
      const answer = await this.api.patch(`/api/groups/${this.group.id}/settings`, changes) || {};
      const source = answer.settings || answer;   // the settings, or the group holding them
      this.settings = {...this.settings, ...changes, ...Object.fromEntries(FIELDS.filter((k) => k in source).map((k) => [k, source[k]]))};
    } catch (exc) {
      error.textContent = errorText(exc.code);
      return false;
    }
    this.render();
    this.root.querySelector(".group-saved").textContent = t("mod.settings.saved");
    if ("gifRating" in changes) this.root.querySelector("select").focus();   // the redraw keeps the keyboard's place
    return true;
  }
}
