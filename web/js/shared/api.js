// REST calls (Bearer token in a header, never in a URL). Failures are ApiErrors with the server's code;
// a request that never reached the server has code "network".

export class ApiError extends Error {
  /** details: the server's `error.details` (e.g. `{until}` for muted), if any. */
  constructor(status, code, message, details = null) {
    super(message || code);
    this.status = status;
    this.code = code;
    this.details = details;
  }
  get network() {
    return this.code === "network";
  }
  /** A route this server does not have (yet): the page hides the feature. Only meaningful where the
   * resource in the path is known to exist. */
  get missingRoute() {
    return this.status === 404 || this.status === 405;
  }
}

export class Api {
  /** onUnauthorized: called when the server no longer accepts the token (expired, user gone). */
  constructor(token = null, onUnauthorized = null) {
    this.token = token;
    this.onUnauthorized = onUnauthorized;
  }

  async request(method, path, body) {
    const headers = {Accept: "application/json"};
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      response = await fetch(path, {method, headers, body: payload, cache: "no-store"});
    } catch (exc) {
      throw new ApiError(0, "network", String(exc));
    }
    const data = await response.json().catch(() => null);
    if (response.status === 401 && this.onUnauthorized) this.onUnauthorized();
    if (!response.ok) {
      const error = data?.error || {};
      throw new ApiError(response.status, error.code || (response.status >= 500 ? "unavailable" : "error"),
        error.message, error.details);
    }
    return data;
  }

  /** A binary resource of this server that needs the token (an <img> cannot send it): a Blob, for an object URL. */
  async blob(path) {
    let response;
    try {
      response = await fetch(path, {headers: this.token ? {Authorization: `Bearer ${this.token}`} : {}});
    } catch (exc) {
      throw new ApiError(0, "network", String(exc));
    }
    if (!response.ok) throw new ApiError(response.status, response.status >= 500 ? "unavailable" : "error");
    return response.blob();
  }

  get(path) { return this.request("GET", path); }
  post(path, body) { return this.request("POST", path, body); }
  patch(path, body) { return this.request("PATCH", path, body); }
  del(path) { return this.request("DELETE", path); }

  /** The conversation's messages, oldest first: {messages, hasMore}. */
  history(convId, {before, after, limit = 50} = {}) {
    const query = new URLSearchParams({limit});
    if (before !== undefined) query.set("before", before);
    if (after !== undefined) query.set("after", after);
    return this.get(`/api/conversations/${convId}/messages?${query}`);
  }
}

/** The signed-in session, kept in sessionStorage: this tab only, never in a URL. The chat page writes it;
 * the moderator dashboard opened in the same tab reads it. */
export const session = {
  load() {
    const token = sessionStorage.getItem(TOKEN_KEY);
    const user = JSON.parse(sessionStorage.getItem(USER_KEY) || "null");
    return token && user ? {token, user} : null;
  },
  save(token, user) {
    sessionStorage.setItem(TOKEN_KEY, token);
    this.saveUser(user);
  },
  saveUser(user) {
    sessionStorage.setItem(USER_KEY, JSON.stringify(user));
  },
  clear() {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(USER_KEY);
  },
};
const TOKEN_KEY = "chat.token";
const USER_KEY = "chat.user";

/** Sign in with the dev login: {token, user}. */
export function devLogin(username) {
  return new Api().post("/api/dev/token", {username});
}
