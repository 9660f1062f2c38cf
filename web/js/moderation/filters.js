// Filter rules: create, edit, enable, delete; and a box that tests the group's rules (and the rule being
// written) on a sample text, live as one types.
import { $, h, replace } from "../shared/dom.js";
import { icon, iconButton } from "../shared/icons.js";
import { formatDateTime, t } from "../shared/i18n.js";
import { FILTER_DOES_KEYS, FILTER_HINT_KEYS, RULE_ACTION_KEYS, RULE_KIND_KEYS, VERDICT_KEYS } from "../shared/texts.js";
import { PagedList, failure, field, inlineForm, markRanges } from "./common.js";

const KINDS = ["word", "regex", "link"];
const ACTIONS = ["mask", "block", "flag", "hold"];
const TEST_DELAY_MS = 250;

export class FiltersPanel {
  constructor({api, dialogs, toast}) {
    Object.assign(this, {api, dialogs, toast});
    this.editing = null;   // the id of the rule whose row is a form
    this.list = new PagedList($("#filter-list"), {
      render: (rule) => this.renderRule(rule),
      load: async (before, limit) => {
        const query = new URLSearchParams({limit, ...(before ? {before} : {})});
        const {filters, hasMore} = await this.api.get(`/api/groups/${this.group.id}/filters?${query}`);
        return {items: filters, hasMore};
      },
      empty: () => h("div.empty-state", icon("filter"), h("p", t("mod.filters.empty"))),
    });
    $("#filter-list").addEventListener("click", (e) => this.onClick(e));
    $("#filter-list").addEventListener("change", (e) => this.onChange(e));
  }

  open(group) {
    this.group = group;
    this.editing = null;
    this.renderForms();
    this.list.reload();
  }

  rerender() {
    const sample = $("#filter-test textarea")?.value || "";
    this.renderForms(sample);
    this.list.rerender();
  }

  // -- the new-rule form and the tester ----------------------------------------------------------------
  renderForms(sample = "") {
    const form = this.ruleForm(null, async (values, el) => {
      const rule = await this.api.post(`/api/groups/${this.group.id}/filters`, {...values, enabled: true});
      this.list.upsert(rule);
      el.reset();
      updateHint(el);
      this.toast(t("mod.filters.created"));
      this.test();
    });
    form.addEventListener("input", () => this.testSoon());
    replace($("#filter-new"), h("h2", t("mod.filters.new")), form);
    this.newForm = form;
    const text = h("textarea", {id: "sample", name: "sample", rows: "3", value: sample,
      placeholder: t("mod.test.placeholder"), oninput: () => this.testSoon()});
    this.result = h("div.test-result", {role: "status", "aria-live": "polite"});
    replace($("#filter-test"), h("h2", t("mod.test.title")), h("p.muted.small", t("mod.test.intro")),
      h("label.field", {for: "sample"}, h("span.field-label", t("mod.test.sample")), text), this.result);
    this.test();
  }

  /** The form for a new rule (rule = null) or for editing one; the pattern's error shows under it. */
  ruleForm(rule, submit) {
    const kind = field("kind", t("mod.filters.kind"), {options: KINDS.map((k) => [k, t(RULE_KIND_KEYS[k])]), value: rule?.kind || "word"});
    const pattern = field("pattern", t("mod.filters.pattern"), {required: true, maxlength: "500", value: rule?.pattern || "",
      placeholder: t("mod.filters.patternPlaceholder"), spellcheck: "false"}, " ");
    const action = field("action", t("mod.filters.action"), {options: ACTIONS.map((a) => [a, t(RULE_ACTION_KEYS[a])]), value: rule?.action || "flag"}, " ");
    const form = inlineForm("form.rule-form", [
      h("div.rule-fields", kind, pattern, action),
      h("div.form-actions",
        rule ? h("button.button", {type: "button", dataset: {action: "cancel"}}, t("action.cancel")) : null,
        h("button.button.primary", {type: "submit"}, rule ? t("action.save") : t("action.create"))),
    ], submit);
    form.addEventListener("change", () => updateHint(form));
    updateHint(form);
    return form;
  }

  testSoon() {
    clearTimeout(this.testTimer);
    this.testTimer = setTimeout(() => this.test(), TEST_DELAY_MS);
  }

  /** The verdict of the group's rules (and the rule being written) on the sample, with its hits and masked text. */
  async test() {
    const text = $("#sample")?.value || "";
    const seq = this.testSeq = (this.testSeq || 0) + 1;
    if (!text.trim()) return replace(this.result, h("p.muted.small", t("mod.test.empty")));
    const values = Object.fromEntries(new FormData(this.newForm));
    const rule = values.pattern?.trim() ? {kind: values.kind, pattern: values.pattern, action: values.action} : null;
    let answer;
    try {
      answer = await this.api.post(`/api/groups/${this.group.id}/filters/test`, {text, ...(rule ? {rule} : {})});
    } catch (exc) {
      if (seq === this.testSeq) replace(this.result, h("p.form-error", failure(exc)));
      return;
    }
    if (seq !== this.testSeq) return;   // an older answer after a newer request
    const hits = answer.hits || [];
    replace(this.result,
      h(`p.verdict.${answer.action || "none"}`, icon(answer.action ? "shield" : "check"),
        answer.action ? t(VERDICT_KEYS[answer.action]) : t("mod.test.verdict.none")),
      hits.length ? [
        h("div.test-text", markRanges(text, hits.map((hit) => ({...hit, title: t(RULE_ACTION_KEYS[hit.action])})))),
        h("ul.hits", hits.map((hit) => h("li",
          h("code", hit.match), " → ", h(`span.action-pill.${hit.action}`, t(RULE_ACTION_KEYS[hit.action])),
          h("span.muted", hit.filterId ? ` · ${t(RULE_KIND_KEYS[hit.kind])}` : ` · ${t("mod.test.thisRule")}`)))),
      ] : null,
      answer.masked && answer.masked !== text ? h("div.masked", h("span.field-label", t("mod.test.masked")), h("div", answer.masked)) : null);
  }

  // -- the rules ------------------------------------------------------------------------------------
  renderRule(rule) {
    if (this.editing === rule.id) {
      return h("li.rule.editing", {dataset: {id: rule.id}}, this.ruleForm(rule, async (values) => {
        const updated = await this.api.patch(`/api/groups/${this.group.id}/filters/${rule.id}`, values);
        this.editing = null;
        this.list.upsert(updated);
        this.test();
      }));
    }
    const updated = new Date(rule.updatedAt || rule.createdAt);
    return h(`li.rule${rule.enabled ? "" : ".disabled"}`, {dataset: {id: rule.id}},
      h(`span.kind-tag.rule-${rule.kind}`, t(RULE_KIND_KEYS[rule.kind])),
      h("code.pattern", rule.pattern),
      h("label.rule-action", h("span.sr-only", t("mod.filters.action")),
        h("select", {name: "action", "aria-label": t("mod.filters.action")},
          ACTIONS.map((a) => h("option", {value: a, selected: a === rule.action}, t(RULE_ACTION_KEYS[a]))))),
      h("label.switch", {title: t("mod.filters.enabled")},
        h("input", {type: "checkbox", name: "enabled", checked: rule.enabled}), h("span", t("mod.filters.enabled"))),
      h("time.muted.small", {datetime: updated.toISOString()}, formatDateTime(updated)),
      h("span.rule-tools",
        iconButton("button.icon-button.small", t("action.edit"), "edit", {dataset: {action: "edit"}}),
        iconButton("button.icon-button.small", t("action.delete"), "trash", {dataset: {action: "delete"}})),
      h("p.form-error", {role: "alert"}));
  }

  onClick(e) {
    const li = e.target.closest("li.rule");
    const action = e.target.closest("[data-action]")?.dataset.action;
    if (!li || !action) return;
    const rule = this.list.get(li.dataset.id);
    if (action === "edit" || action === "cancel") {
      this.editing = action === "edit" ? rule.id : null;
      this.list.upsert(rule);
      if (action === "edit") this.list.els.get(rule.id).querySelector("input[name=pattern]").focus();
    } else if (action === "delete") {
      this.remove(rule);
    }
  }

  /** The action and on/off switch of a rule change at once. */
  async onChange(e) {
    const li = e.target.closest("li.rule:not(.editing)");
    if (!li || !["action", "enabled"].includes(e.target.name)) return;
    const rule = this.list.get(li.dataset.id);
    const change = e.target.name === "enabled" ? {enabled: e.target.checked} : {action: e.target.value};
    try {
      this.list.upsert(await this.api.patch(`/api/groups/${this.group.id}/filters/${rule.id}`, change));
      this.test();
    } catch (exc) {
      this.list.upsert(rule);
      $(".form-error", this.list.els.get(rule.id)).textContent = failure(exc);
    }
  }

  async remove(rule) {
    const ok = await this.dialogs.confirm({title: t("mod.filters.deleteTitle"),
      text: t("mod.filters.deleteText", {pattern: rule.pattern}), confirm: t("action.delete")});
    if (!ok) return;
    try {
      await this.api.del(`/api/groups/${this.group.id}/filters/${rule.id}`);
      this.list.remove(rule.id);
      this.test();
    } catch (exc) {
      $(".form-error", this.list.els.get(rule.id)).textContent = failure(exc);
    }
  }
}

/** Under the pattern: how this kind of rule matches; under the action: what it does. */
function updateHint(form) {
  const kind = form.elements.kind.value;
  const action = form.elements.action.value;
  const hints = form.querySelectorAll(".field-hint");
  hints[0].textContent = t(FILTER_HINT_KEYS[kind]);
  hints[1].textContent = t(FILTER_DOES_KEYS[action]);
}
