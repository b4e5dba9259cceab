// orderwire's page script. The pages work without it (forms POST, then redirect); with it,
// commands go over the JSON API and the page follows its session's events live.

import { localise } from "./dom.js";
import { enhanceOrderForm } from "./form.js";
import { LiveStream } from "./live.js";
import { addNotification, enhanceNotifications, reloadNotifications } from "./notifications.js";
import { applyEvent, enhanceOrders, reloadOrders, showPlacing } from "./orders.js";

const STATES = {
  connecting: ["Connecting…", "Opening the live connection."],
  live: ["Live", "Changes to your orders appear here as they happen."],
  reconnecting: ["Reconnecting…", "The live connection dropped; reconnecting. Nothing will be missed."],
  resynced: ["Resynced", "Some events could not be replayed, so the page was reloaded from the server."],
};

const badge = document.getElementById("connection");
let settleTimer = null;

function showConnection(state) {
  clearTimeout(settleTimer);
  const [label, hint] = STATES[state];
  badge.dataset.state = state;
  badge.querySelector(".label").textContent = label;
  badge.title = hint;
  // "Resynced" is news, not a lasting state: after a moment the page is simply live.
  if (state === "resynced") settleTimer = setTimeout(() => showConnection("live"), 6000);
}

function onEvent(event) {
  applyEvent(event);
  if (event.type === "NotificationCreated") addNotification(event);
}

async function onResync() {
  await Promise.all([reloadOrders(), reloadNotifications()]).catch(() => {
    // The query endpoints are unreachable too; the next reconnection resyncs again.
  });
}

localise();
const form = document.getElementById("order-form");
if (form) enhanceOrderForm(form, { onPlaced: showPlacing });
enhanceOrders();
enhanceNotifications();
new LiveStream({
  lastEventId: document.body.dataset.lastEventId || null,
  heartbeatSeconds: Number(document.body.dataset.heartbeatSeconds) || 15,
  onEvent,
  onResync,
  onState: showConnection,
}).start();
