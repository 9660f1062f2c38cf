// The live connection, shared by the three pages (seed 003): a WebSocket-only Socket.IO connection that
// reconnects by itself (backoff 0.5 s → 4 s), and while it is down, the page's REST polling every 2 s (the
// same catch-up the reconnect uses). The chat page's outbox (chat/outbox.js) sends through it.
import { io } from "/vendor/socket.io.esm.min.js";
import { ApiError } from "./api.js";

export const POLL_MS = 2000;

export class Connection {
  /** handlers: {event(name, data), mode(mode), unauthorized(reason), poll()}; poll() throws on a network error.
   * unauthorized(reason): the server refused the token at connect, or ended the session (session:expired,
   * reason "token_expired" or "deactivated"). */
  constructor(handlers) {
    this.handlers = handlers;
    this.mode = "connecting";   // connecting → live | reconnecting → polling | offline
    this.pollTimer = null;
    this.stopped = false;
  }

  get live() {
    return Boolean(this.socket?.connected);
  }

  /** Connect with this token (signed in); after stop(), a new sign-in starts again from "connecting". */
  start(token) {
    this.token = token;
    this.mode = "connecting";
    this.pollTimer = null;
    this.stopped = false;
    this.socket = io({
      auth: (send) => send({token: this.token}),
      // No HTTP long-polling transport: without a WebSocket the page polls the REST history instead,
      // which needs no sticky sessions and is the same `after=` path as the reconnect catch-up.
      transports: ["websocket"],
      reconnectionDelay: 500,
      reconnectionDelayMax: 4000,
      timeout: 5000,
    });
    this.socket.on("connect", () => {
      clearTimeout(this.pollTimer);
      this.pollTimer = null;
      this.setMode("live");
    });
    this.socket.on("connect_error", (err) => {
      if (err.message === "unauthorized") return this.handlers.unauthorized(err.data?.reason);
      this.schedulePoll(0);
    });
    this.socket.on("disconnect", (reason) => {
      if (reason === "io client disconnect") return;
      this.setMode("reconnecting");
      this.schedulePoll(POLL_MS);
    });
    // The server ends a session whose token expired or whose account was deactivated, saying so first;
    // the disconnect that follows is not retried (a new sign-in is needed).
    this.socket.on("session:expired", (data) => this.handlers.unauthorized(data?.reason));
    this.socket.onAny((event, data) => this.handlers.event(event, data));
  }

  /** Disconnect and connect again: a fresh session:ready, and the rooms of groups joined since. */
  restart() {
    this.socket.disconnect().connect();
  }

  /** Signed out: no more polling or sending through this connection. */
  stop() {
    this.stopped = true;
    clearTimeout(this.pollTimer);
    this.pollTimer = null;
    this.socket?.disconnect();
  }

  setMode(mode) {
    if (mode === this.mode) return;
    this.mode = mode;
    this.handlers.mode(mode);
  }

  /** One chain of polls while the socket is down; a connect ends it (it clears pollTimer). */
  schedulePoll(delay) {
    if (this.stopped || this.live || this.pollTimer) return;
    const timer = this.pollTimer = setTimeout(async () => {
      try {
        await this.handlers.poll();
        if (!this.live) this.setMode("polling");
      } catch (exc) {
        if (!exc.network) console.error(exc);
        if (!this.live) this.setMode(exc.network ? "offline" : "polling");
      }
      if (this.pollTimer !== timer) return;   // connected meanwhile (and maybe a newer chain began)
      this.pollTimer = null;
      this.schedulePoll(POLL_MS);
    }, delay);
  }

  /** An event with its ack, as a promise: the ack's fields, or an ApiError with the ack's code. */
  emit(event, payload, timeout = 8000) {
    return new Promise((resolve, reject) => {
      if (!this.live) return reject(new ApiError(0, "network", "not connected"));
      this.socket.timeout(timeout).emit(event, payload, (err, ack) => {
        if (err) reject(new ApiError(0, "network", "no answer in time"));
        else if (ack?.ok) resolve(ack);
        else reject(new ApiError(0, ack?.error?.code || "error", ack?.error?.message, ack?.error?.details));
      });
    });
  }
}
