// The live stream (CONTRACT.md section 5): one websocket, resumed after every drop from
// the last event seen, so the page misses nothing and shows nothing twice.

const FIRST_DELAY_MS = 500;
const LONGEST_DELAY_MS = 15000;
const REMEMBERED_IDS = 2000;

export class LiveStream {
  // onEvent(envelope); onResync(reason): reload state from the query endpoints;
  // onState(state): "connecting", "live", "reconnecting" or "resynced".
  constructor({ lastEventId, onEvent, onResync, onState }) {
    this.lastEventId = lastEventId || null;
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
  }

  connect() {
    clearTimeout(this.timer);
    this.timer = null;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    this.resumedFrom = this.lastEventId;
    const query = this.lastEventId ? `?after=${encodeURIComponent(this.lastEventId)}` : "";
    const socket = new WebSocket(`${scheme}://${location.host}/ws${query}`);
    this.socket = socket;
    socket.onmessage = (message) => this.receive(JSON.parse(message.data));
    socket.onclose = (close) => {
      if (this.socket === socket) this.scheduleReconnect(close.code);
    };
  }

  reconnectNow() {
    if (this.timer !== null) this.connect();
  }

  receive(frame) {
    if (frame.kind === "hello") {
      this.failures = 0;
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
