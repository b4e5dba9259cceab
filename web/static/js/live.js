// The live stream (CONTRACT.md section 5): one websocket, resumed after every drop from
// the last event seen, so the page misses nothing and shows nothing twice.
//
// A drop is not always a close: after a laptop sleeps or the Wi-Fi changes hands the
// socket can stay "open" while nothing gets through, for as long as TCP takes to notice
// (minutes). The server sends a frame at least every heartbeat interval, so silence for
// twice that long, or the browser saying it is offline, counts as a drop too.

const FIRST_DELAY_MS = 500;
const LONGEST_DELAY_MS = 15000;
const REMEMBERED_IDS = 2000;

export class LiveStream {
  // onEvent(envelope); onResync(reason): reload state from the query endpoints;
  // onState(state): "connecting", "live", "reconnecting" or "resynced".
  constructor({ lastEventId, heartbeatSeconds = 15, onEvent, onResync, onState }) {
    this.lastEventId = lastEventId || null;
    this.silenceMs = 2 * heartbeatSeconds * 1000;
    this.watchdog = null;
    this.live = false; // the current socket said hello
    this.onEvent = onEvent;
    this.onResync = onResync;
    this.onState = onState;
    this.seen = new Set();
    this.order = [];
    this.failures = 0;
    this.timer = null;
    this.socket = null;
  }

  start() {
    this.onState("connecting");
    this.connect();
    window.addEventListener("online", () => this.reconnectNow());
    window.addEventListener("offline", () => this.drop());
  }

  // Give up on the current socket without waiting for TCP to agree, and reconnect.
  drop() {
    if (!this.socket || this.timer !== null) return; // already reconnecting
    this.abandon();
    this.scheduleReconnect(0);
  }

  abandon() {
    const socket = this.socket;
    this.socket = null;
    this.live = false;
    clearTimeout(this.watchdog);
    if (!socket) return;
    socket.onmessage = null;
    socket.onclose = null;
    socket.close();
  }

  // Every frame (heartbeats included) proves the connection alive for another while.
  feedWatchdog() {
    clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => this.drop(), this.silenceMs);
  }

  connect() {
    clearTimeout(this.timer);
    this.timer = null;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    this.resumedFrom = this.lastEventId;
    const query = this.lastEventId ? `?after=${encodeURIComponent(this.lastEventId)}` : "";
    const socket = new WebSocket(`${scheme}://${location.host}/ws${query}`);
    this.socket = socket;
    this.feedWatchdog(); // a handshake that never answers is silence too
    socket.onmessage = (message) => {
      this.feedWatchdog();
      this.receive(JSON.parse(message.data));
    };
    socket.onclose = (close) => {
      if (this.socket !== socket) return;
      this.abandon();
      this.scheduleReconnect(close.code);
    };
  }

  // Back online: a socket still trying (or a retry still waiting) may have been started
  // while offline, and would only fail later; start afresh now instead.
  reconnectNow() {
    if (this.live) return;
    this.abandon();
    this.connect();
  }

  receive(frame) {
    if (frame.kind === "hello") {
      this.failures = 0;
      this.live = true;
      this.helloLastId = frame.last_id;
      this.onState("live");
      if (!this.resumedFrom && frame.last_id) {
        // No resume point (a brand-new session's page) but events exist: some may have
        // happened after the page was rendered. Reload rather than guess.
        this.lastEventId = frame.last_id;
        this.onResync("events happened before the page connected");
      }
    } else if (frame.kind === "event") {
      const event = frame.event;
      if (this.seen.has(event.id)) return;
      this.remember(event.id);
      this.lastEventId = event.id;
      this.onEvent(event);
    } else if (frame.kind === "resync") {
      // The server resumes from its newest event, as of the hello.
      this.lastEventId = this.helloLastId;
      this.onState("resynced");
      this.onResync(frame.reason);
    }
  }

  remember(id) {
    this.seen.add(id);
    this.order.push(id);
    if (this.order.length > REMEMBERED_IDS) this.seen.delete(this.order.shift());
  }

  scheduleReconnect(code) {
    this.onState("reconnecting");
    this.failures += 1;
    // 4008 (too slow) and 1001 (server restarting) invite a prompt return; anything else
    // backs off exponentially. Jitter spreads a crowd of pages over the interval.
    const ceiling = Math.min(LONGEST_DELAY_MS, FIRST_DELAY_MS * 2 ** (this.failures - 1));
    const prompt = (code === 4008 || code === 1001) && this.failures === 1;
    const delay = prompt ? Math.random() * 1000 : ceiling / 2 + Math.random() * (ceiling / 2);
    this.timer = setTimeout(() => this.connect(), delay);
  }
}
