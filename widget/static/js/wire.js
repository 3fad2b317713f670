// The console's and supervisor view's WebSocket: reconnects with backoff, resumes every watched
// conversation after the last seq it delivered, and keeps each client_id frame in an outbox,
// re-sent (same client_id, so the server stores it once) until acknowledged.
//
// The widget carries its own copy of this logic: it must stay one classic script that a foreign
// host page can load without CORS for modules.

const PING_MS = 20000;
const RETRY_MS = 4000;

export class Wire {
  // ``onRefused(n)``: the n-th connection in a row closed before it ever opened (a refused
  // upgrade: the browser is told no reason, so the page has to ask why).
  constructor(path, { onFrame, onLive, onRefused }) {
    this.onRefused = onRefused || (() => {});
    this.refusals = 0;
    this.url = new URL(path, location.href).href.replace(/^http/, "ws");
    this.onFrame = onFrame;
    this.onLive = onLive || (() => {});
    this.ws = null;
    this.live = false;
    this.attempt = 0;
    this.cursors = new Map(); // conversation id -> highest seq delivered
    this.rejoin = new Map(); // conversation id -> (seq) => frame that re-attaches after reconnect
    this.outbox = new Map(); // client_id -> frame
    this.heard = 0;
    this.timers = [];
    this.stopped = false;
    addEventListener("offline", () => this.drop());
    addEventListener("online", () => { this.attempt = 0; this.connect(); });
  }

  connect() {
    this.stopped = false;
    if (this.ws || !navigator.onLine) return;
    clearTimeout(this.reconnect);
    const ws = (this.ws = new WebSocket(this.url));
    let opened = false;
    ws.onopen = () => { opened = true; this.refusals = 0; };
    ws.onmessage = (e) => {
      this.heard = Date.now();
      let f;
      try { f = JSON.parse(e.data); } catch { return; }
      if (f && typeof f.type === "string") this.handle(f);
    };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.down();
      if (!opened) this.onRefused(++this.refusals);
      if (e.code === 4401 || e.code === 4403) {
        this.stopped = true;
        this.onFrame({ type: "closed", code: e.code, reason: e.reason });
        return;
      }
      this.later();
    };
  }

  later() {
    if (this.stopped) return;
    const delay = Math.min(10000, 500 * 2 ** this.attempt++) * (0.5 + Math.random() / 2);
    this.reconnect = setTimeout(() => this.connect(), delay);
  }

  down() {
    this.ws = null;
    this.timers.forEach(clearInterval);
    this.timers = [];
    if (this.live) { this.live = false; this.onLive(false); }
  }

  drop() {
    const ws = this.ws;
    if (!ws) return;
    this.down();
    ws.close();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.reconnect);
    this.drop();
  }

  handle(f) {
    switch (f.type) {
      case "welcome":
        this.live = true;
        this.attempt = 0;
        this.timers.push(setInterval(() => {
          if (Date.now() - this.heard < PING_MS * 1.5) this.send({ type: "ping" });
          else { this.drop(); this.later(); } // half-open socket: nothing heard for too long
        }, PING_MS), setInterval(() => this.flush(), RETRY_MS));
        this.onLive(true);
        for (const [id, seq] of this.cursors) this.send(this.rejoin.get(id)(seq));
        this.flush();
        break;
      case "ack":
        this.outbox.delete(f.client_id);
        break;
      case "error":
        if (f.client_id && f.code !== "rate_limited") this.outbox.delete(f.client_id);
        break;
      case "message":
        if (f.seq <= (this.cursors.get(f.conversation_id) ?? -1)) return; // already delivered
        if (this.cursors.has(f.conversation_id)) this.cursors.set(f.conversation_id, f.seq);
        break;
      case "pong":
        return;
    }
    this.onFrame(f);
  }

  // Ephemeral or one-shot frames: sent if connected, reported false otherwise.
  send(frame) {
    if (!this.live || !this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  // Frames with a client_id: delivered exactly once, whatever happens to the connection.
  reliable(frame) {
    this.outbox.set(frame.client_id, frame);
    this.send(frame);
  }

  flush() {
    for (const frame of this.outbox.values()) this.send(frame);
  }

  // Follow a conversation: ``rejoin(seq)`` builds the frame that re-attaches it after every
  // reconnect (resume for participants, monitor for silent supervisors); ``now`` sends it at
  // once (the server attaches by itself after accept, invite, transfer, start and monitor).
  watch(conversationId, { rejoin, now = false } = {}) {
    const id = conversationId;
    this.rejoin.set(id, rejoin || ((seq) => ({ type: "resume", conversation_id: id, after_seq: seq })));
    if (!this.cursors.has(id)) this.cursors.set(id, 0);
    if (now) this.send(this.rejoin.get(id)(this.cursors.get(id)));
  }

  unwatch(conversationId) {
    this.cursors.delete(conversationId);
    this.rejoin.delete(conversationId);
  }
}

// After refused connections: ask the server whether it takes this page's origin at all, and
// if not, stop retrying and say why where "Connecting…" was (the page's ``connection`` label
// and its #refused alert) instead of "Connecting…" forever.
export async function explainRefusal(wire, count, connection) {
  if (count !== 2) return; // the first may be a restarting server
  try {
    const r = await fetch(`/api/public/origin-check?origin=${encodeURIComponent(location.origin)}`,
      { credentials: "same-origin" });
    const answer = await r.json();
    if (answer.console === false) {
      wire.stop();
      connection.textContent = "Not connected";
      connection.dataset.live = "false";
      const alert = document.getElementById("refused");
      alert.textContent = answer.message;
      alert.hidden = false;
    }
  } catch {
    // the server is down, not refusing: keep retrying
  }
}
