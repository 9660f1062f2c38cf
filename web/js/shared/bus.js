// The page's event bus: components announce what happened ("conversation:loaded", "panel:opened"…) and
// whoever cares listens, so no component calls another through the page. Listeners run at once, in the
// order they were added, before emit() returns.

export class Bus extends EventTarget {
  emit(name, detail = null) {
    this.dispatchEvent(new CustomEvent(name, {detail}));
  }

  /** listener(detail) on every `name`. */
  on(name, listener) {
    this.addEventListener(name, (e) => listener(e.detail));
  }
}
