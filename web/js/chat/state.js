// What the page knows: the signed-in user, their groups and conversations, the people it has seen.
import { displayName } from "../shared/dom.js";

export const state = {
  me: null,
  activeId: null,        // the open conversation (#/c/{id}); null on the list
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

/** The server's list, merged with what the page already knows: a list read before a live message arrived
 * may answer after it, and counters only ever go up (seq and read marks are monotonic). A mention seen
 * live stays marked until the conversation is opened. */
export function setConversations(list) {
  state.convs = new Map(list.map((c) => [c.id, merged(state.convs.get(c.id), c)]));
}

function merged(known, listed) {
  const conv = {...listed};
  if (known && (known.lastSeq || 0) > (listed.lastSeq || 0)) {
    conv.lastSeq = known.lastSeq;
    conv.lastMessageAt = known.lastMessageAt;
  }
  conv.lastReadSeq = Math.max(known?.lastReadSeq || 0, listed.lastReadSeq || 0);
  conv.unread = unreadOf(conv);
  if (known?.mentioned) conv.mentioned = true;
  return conv;
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
