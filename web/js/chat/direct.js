// Direct messages: the picker of people (the members of the user's groups, searched as they type) and
// opening the pair's conversation (POST /api/direct-conversations: made the first time, the same one after).
import { avatar, displayName, h, replace } from "../shared/dom.js";
import { errorText, t } from "../shared/i18n.js";
import { DM_ERROR_KEYS } from "../shared/texts.js";
import { state } from "./state.js";

/** The people of the user's groups (not the user), each once, by name. */
async function groupPeople(api) {
  const people = new Map();
  const lists = await Promise.all([...state.groups.keys()].map((id) =>
    api.get(`/api/groups/${id}/members`).then((r) => r.members).catch(() => [])));
  for (const {user} of lists.flat()) if (user.id !== state.me.id) people.set(user.id, user);
  return [...people.values()].sort((a, b) => displayName(a).localeCompare(displayName(b)));
}

function matches(user, query) {
  const q = query.trim().toLowerCase().replace(/^@/, "");
  return !q || [user.username, user.fname, user.lname, displayName(user)].some((s) => (s || "").toLowerCase().includes(q));
}

/** Open the pair's conversation with `username`: listed at once, then shown. Throws the API's refusal,
 * with `text` in words (the dialog shows it). */
export async function openDirect(api, username) {
  let conv;
  try {
    conv = await api.post("/api/direct-conversations", {username});
  } catch (exc) {
    throw Object.assign(exc, {text: DM_ERROR_KEYS[exc.code] ? t(DM_ERROR_KEYS[exc.code]) : errorText(exc.code)});
  }
  if (!state.convs.has(conv.id)) state.convs.set(conv.id, {...conv, unread: conv.unread || 0});
  location.hash = `#/c/${conv.id}`;
  return conv;
}

/** "New direct message": a search box over the people of the user's groups; picking one (a click, or
 * Enter on the only match) opens the conversation. Resolves to it, or null if cancelled. */
export async function startDirect({api, dialogs}) {
  const people = await groupPeople(api);
  const list = h("ul.dm-people", {role: "list", "aria-label": t("dm.people")});
  let form = null;
  const choose = (user) => {
    form.elements.username.value = user.username;
    form.requestSubmit();
  };
  const draw = (query) => {
    const shown = people.filter((u) => matches(u, query)).slice(0, 50);
    replace(list, shown.length ? shown.map((user) => h("li", h("button.dm-person", {type: "button",
      dataset: {username: user.username}, onclick: () => choose(user)},
    avatar(user, user.id, "xs"), h("span.dm-name", displayName(user)), h("span.handle", "@" + user.username))))
      : h("li.muted", query.trim() ? t("dm.none", {query: query.trim()}) : t("dm.nobody")));
  };
  draw("");
  const pending = dialogs.form({
    title: t("dm.new"), submit: t("dm.open"),
    fields: [{name: "username", label: t("dm.search"), required: true, placeholder: t("dm.searchPlaceholder")}],
    extra: [list],
    onSubmit: ({username}) => {
      const exact = people.find((u) => u.username === username.trim().replace(/^@/, "").toLowerCase());
      const only = people.filter((u) => matches(u, username));
      return openDirect(api, (exact || (only.length === 1 ? only[0] : null))?.username
        || username.trim().replace(/^@/, "").toLowerCase());
    },
  });
  form = list.closest("form");
  form.elements.username.addEventListener("input", (e) => draw(e.target.value));
  return pending;
}
