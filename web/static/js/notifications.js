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
  countUnread();
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

// On a phone the notifications sit below every order, out of sight: the bell in the
// header opens them as a drawer and counts what arrived since they were last looked at.
const NARROW = window.matchMedia("(max-width: 59.99rem)");
let unread = 0;

function showUnread() {
  const bell = document.getElementById("notifications-toggle");
  if (!bell) return;
  const count = bell.querySelector(".count");
  count.hidden = unread === 0;
  count.textContent = unread > 9 ? "9+" : String(unread);
  bell.setAttribute("aria-label", unread ? `Notifications, ${unread} new` : "Notifications");
}

function countUnread() {
  if (document.body.classList.contains("drawer-open")) return;
  unread += 1;
  showUnread();
}

export function enhanceNotifications() {
  const bell = document.getElementById("notifications-toggle");
  const panel = document.getElementById("notifications-panel");
  if (!bell || !panel) return;
  const close = panel.querySelector(".drawer-close");
  const heading = document.getElementById("notifications-heading");
  const isOpen = () => document.body.classList.contains("drawer-open");
  // Without JavaScript the bell is a link to the card; here it opens and closes a drawer.
  bell.setAttribute("role", "button");

  function open() {
    document.body.classList.add("drawer-open");
    bell.setAttribute("aria-expanded", "true");
    close.hidden = false;
    heading.focus();
  }
  function shut() {
    document.body.classList.remove("drawer-open");
    bell.setAttribute("aria-expanded", "false");
    close.hidden = true;
    bell.focus();
  }

  bell.addEventListener("click", (click) => {
    unread = 0;
    showUnread();
    if (!NARROW.matches) return; // wide screens show the card: the link scrolls to it
    click.preventDefault();
    if (isOpen()) shut();
    else open();
  });
  bell.addEventListener("keydown", (key) => {
    if (key.key === " ") { key.preventDefault(); bell.click(); } // as any button
  });
  close.addEventListener("click", shut);
  document.addEventListener("keydown", (key) => {
    if (key.key === "Escape" && isOpen()) shut();
  });
  NARROW.addEventListener("change", () => { if (isOpen() && !NARROW.matches) shut(); });
}
