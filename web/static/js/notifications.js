// The notifications list: what the customer is told about each order event.

import { getJson } from "./api.js";
import { el, flash, timeElement } from "./dom.js";

const SHOWN = 50;

function item(notificationId, text, at) {
  const node = el("li", undefined, { "data-notification-id": notificationId });
  node.append(el("span", text, { class: "what" }), " ", timeElement(at));
  return node;
}

export function addNotification(event) {
  const list = document.getElementById("notifications");
  if (!list) return;
  const id = event.data.notification_id;
  if (list.querySelector(`[data-notification-id="${CSS.escape(id)}"]`)) return;
  const node = item(id, event.data.text, event.occurred_at);
  list.prepend(node);
  flash(node);
  while (list.children.length > SHOWN) list.lastElementChild.remove();
  document.getElementById("notifications-empty").hidden = true;
}

export async function reloadNotifications() {
  const list = document.getElementById("notifications");
  if (!list) return;
  const { notifications } = await getJson("/api/notifications");
  list.replaceChildren(...notifications.map((n) => item(n.notification_id, n.text, n.created_at)));
  document.getElementById("notifications-empty").hidden = notifications.length > 0;
}
