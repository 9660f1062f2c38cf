// What the page knows: the signed-in user, their groups and conversations, the people it has seen.
import { displayName } from "./dom.js";

export const state = {
  me: null,
  groups: new Map(),     // id → {id, name, role}
  convs: new Map(),      // id → {id, groupId, title, lastSeq, lastReadSeq, unread, lastMessageAt, mentioned?}
  users: new Map(),      // id → {id?, username, fname, lname, avatarUrl}
  presence: new Map(),   // userId → "online" | "offline"
  features: {presence: true, members: true, search: true},  // off once the server answers 404
};

export function rememberUser(id, user) {
  if (id && user) state.users.set(id, {...state.users.get(id), ...user});
}

export const userName = (id) => (state.users.has(id) ? displayName(state.users.get(id)) : null);

export function setConversations(list) {
  state.convs = new Map(list.map((c) => [c.id, {...c, unread: c.unread ?? unreadOf(c)}]));
}

/** A stored message moves the conversation's counters; read marks come from the server only. */
export function countMessage(conv, message) {
  if (message.seq <= (conv.lastSeq || 0)) return false;
  conv.lastSeq = message.seq;
  conv.lastMessageAt = message.createdAt;
  conv.unread = unreadOf(conv);
  return true;
}

export function countRead(conv, seq) {
  conv.lastReadSeq = Math.max(conv.lastReadSeq || 0, seq);
  conv.unread = unreadOf(conv);
}

const unreadOf = (conv) => Math.max(0, (conv.lastSeq || 0) - (conv.lastReadSeq || 0));
