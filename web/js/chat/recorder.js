// Voice messages: recorded in the page with MediaRecorder (Opus in WebM where the browser can, else what it
// can), then uploaded as an audio file through the same resumable path as any file.

const TYPES = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/webm", "audio/mp4"];
export const MAX_SECONDS = 300;

export const canRecord = () => Boolean(navigator.mediaDevices?.getUserMedia && window.MediaRecorder);

export class VoiceRecorder {
  /** onTick(seconds) while recording; onLimit() when MAX_SECONDS is reached. */
  constructor({onTick, onLimit}) {
    this.onTick = onTick;
    this.onLimit = onLimit;
    this.recorder = null;
  }

  get active() {
    return Boolean(this.recorder);
  }

  /** Throws a DOMException (NotAllowedError, NotFoundError…) if the microphone cannot be used. */
  async start() {
    this.stream = await navigator.mediaDevices.getUserMedia({audio: true});
    const mimeType = TYPES.find((type) => MediaRecorder.isTypeSupported(type));
    this.recorder = new MediaRecorder(this.stream, mimeType ? {mimeType} : {});
    this.chunks = [];
    this.recorder.addEventListener("dataavailable", (e) => e.data.size && this.chunks.push(e.data));
    this.stopped = new Promise((resolve) => this.recorder.addEventListener("stop", resolve, {once: true}));
    this.recorder.start(250);
    this.started = performance.now();
    this.timer = setInterval(() => {
      const seconds = this.seconds();
      this.onTick(seconds);
      if (seconds >= MAX_SECONDS) this.onLimit();
    }, 200);
    this.onTick(0);
  }

  seconds() {
    return this.recorder ? (performance.now() - this.started) / 1000 : 0;
  }

  /** Stop and give the recording as a File named voice-….webm (or .ogg, .m4a), or null if cancelled. */
  async finish(keep = true) {
    if (!this.recorder) return null;
    clearInterval(this.timer);
    const recorder = this.recorder;
    const seconds = this.seconds();
    this.recorder = null;
    if (recorder.state !== "inactive") recorder.stop();
    await this.stopped;
    for (const track of this.stream.getTracks()) track.stop();
    if (!keep || !this.chunks.length) return null;
    const type = (recorder.mimeType || this.chunks[0].type || "audio/webm").split(";")[0];
    const ext = {"audio/ogg": "ogg", "audio/mp4": "m4a"}[type] || "webm";
    const stamp = new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
    return {file: new File(this.chunks, `voice-${stamp}.${ext}`, {type, lastModified: Date.now()}), seconds};
  }
}
