// Orders on the page ("My orders" rows and the order page), kept current by live events,
// and their task buttons (Pay, Ship, Cancel), sent as JSON commands.

import { errorText, getJson, postCommand } from "./api.js";
import { el, fillMoney, fillTime, flash, formatMoney, timeElement } from "./dom.js";
import { CHECKS } from "./messages.js";

// Handed over in the page (web/page_policy.py): the status each order event leaves an order
// in (the domain's STATUS_AFTER), so the page keeps no copy of the lifecycle, and what each
// command is called when it was refused or failed (web/actions.py).
const LIFECYCLE = JSON.parse(document.getElementById("order-lifecycle")?.textContent || "{}");
const STATUS_AFTER = LIFECYCLE.status_after || {};
const COMMAND_SUBJECTS = LIFECYCLE.command_subjects || {};

const PER_PAGE = 50; // ORDERS_PER_PAGE in web/pages.py
const sentHere = new Map(); // request id -> order id, for the commands this page sent
const finished = new Set(); // request ids whose outcome has arrived (maybe before their 202)

export function describe(event) {
  const d = event.data || {};
  switch (event.type) {
    case "OrderPlaced": {
      const count = (d.lines || []).length;
      return `Placed: ${count} line${count === 1 ? "" : "s"}, total ${formatMoney(d.total)}`;
    }
    case "OrderPaid": return `Paid ${formatMoney(d.total)}`;
    case "OrderShipped": return "Shipped";
    case "OrderCancelled": return `Cancelled: ${d.reason}`;
    default: return event.type;
  }
}

// Each action's form lists the statuses that allow it (data-allowed-in, rendered by the
// server from the domain's lifecycle table): the page keeps no copy of that table.
const allowedIn = (form, status) => (form?.dataset.allowedIn || "").split(" ").includes(status);
const elementsOf = (orderId) =>
  [...document.querySelectorAll(`.order[data-order-id="${CSS.escape(orderId)}"]`)];

function setMessage(order, text, kind = "") {
  const message = order.querySelector(".order-message");
  if (!message) return;
  message.textContent = text;
  message.dataset.kind = kind;
  if (text) flash(message);
}

// Only what the order's status allows is shown; while a command is on its way, that is
// shown but disabled.
export function syncActions(order) {
  const status = order.dataset.status;
  const busy = order.dataset.busy === "true";
  order.querySelectorAll(".order-actions .action-form").forEach((form) => {
    form.hidden = !allowedIn(form, status);
  });
  order.querySelectorAll(".order-actions button, .order-actions .reason").forEach((control) => {
    control.disabled = busy;
  });
  if (busy || !allowedIn(order.querySelector(".cancel-form"), status)) collapse(order);
}

function setStatus(order, status) {
  order.dataset.status = status;
  order.querySelectorAll(".badge").forEach((badge) => {
    badge.textContent = status;
    badge.dataset.status = status;
    flash(badge);
  });
  syncActions(order);
}

function timelineItem(event, text, kind) {
  const item = el("li", undefined, { "data-event-id": event.id, "data-type": event.type });
  if (kind) item.classList.add(kind);
  item.append(el("span", text, { class: "what" }), " ", timeElement(event.occurred_at));
  return item;
}

function addToTimeline(order, event, text, kind) {
  const list = order.querySelector(".timeline");
  if (!list || list.querySelector(`[data-event-id="${CSS.escape(event.id)}"]`)) return;
  list.append(timelineItem(event, text, kind));
}

// The outcome of a command sent from here arrived: the order is no longer busy with it.
function settle(order, requestId) {
  if (!requestId || order.dataset.pending !== requestId) return;
  delete order.dataset.pending;
  delete order.dataset.busy;
  if (order.querySelector(".order-message")?.dataset.kind === "pending") setMessage(order, "");
  syncActions(order);
}

export function applyEvent(event) {
  if (event.request_id) finished.add(event.request_id);
  const status = STATUS_AFTER[event.type];
  if (status) applyOrderEvent(event, status);
  else if (event.type === "CommandRejected" || event.type === "CommandFailed") applyVerdict(event);
}

function applyOrderEvent(event, status) {
  const orderId = event.aggregate_id;
  const page = document.getElementById("order");
  if (page && page.dataset.orderId === orderId && page.dataset.status === "pending") {
    location.reload(); // the order now exists: the server renders its page
    return;
  }
  if (event.type === "OrderPlaced") {
    const placed = { ...event.data, order_id: orderId, placed_at: event.occurred_at };
    const row = ensureRow({ ...placed, status: "pending", version: 0 });
    if (row) fillDetails(row, placed); // a row shown while placing had no total yet
  }
  for (const order of elementsOf(orderId)) {
    addToTimeline(order, event, describe(event));
    // An event older than what the element shows (a replay after a reload) changes nothing.
    if (event.aggregate_version > Number(order.dataset.version || 0)) {
      order.dataset.version = event.aggregate_version;
      setStatus(order, status);
      // A refusal shown earlier is history now that a later command went through.
      if (order.querySelector(".order-message")?.dataset.kind === "error") setMessage(order, "");
    }
    settle(order, event.request_id);
  }
}

async function applyVerdict(event) {
  const d = event.data || {};
  let orderId = d.order_id || sentHere.get(event.request_id);
  if (!orderId && event.request_id) {
    // CommandFailed names no order: the command's status does.
    orderId = await getJson(`/api/commands/${encodeURIComponent(event.request_id)}`)
      .then((command) => command.order_id).catch(() => null);
  }
  const outcome = event.type === "CommandRejected" ? "was refused" : "failed";
  const text = `${COMMAND_SUBJECTS[d.command] || d.command} ${outcome}: ${d.message}`;
  const orders = orderId ? elementsOf(orderId) : [];
  for (const order of orders) {
    settle(order, event.request_id);
    setMessage(order, text, "error");
    addToTimeline(order, event, text, "refused");
  }
  if (!orders.length) {
    const status = document.getElementById("form-status");
    if (status) { status.textContent = text; status.dataset.kind = "error"; }
  }
}

function markSent(order, requestId, doing) {
  sentHere.set(requestId, order.dataset.orderId);
  if (finished.has(requestId)) return; // its outcome came before the 202
  order.dataset.pending = requestId;
  order.dataset.busy = "true";
  setMessage(order, doing, "pending");
  syncActions(order);
}

// An action's fields are its form's visible named inputs (the cancel reason; none for pay
// and ship): checked by the same rules as the order form, then sent as the JSON body.
const fieldsOf = (form) => [...form.querySelectorAll("input[name]:not([type=hidden])")];
const errorFor = (form, input) =>
  form.querySelector(`.field-error[data-error-for="${CSS.escape(input.name)}"]`);

// The body of an action, or null (with each problem shown, the first focused) if the
// browser can already tell a field is wrong.
function actionBody(form) {
  const body = {};
  let first = null;
  for (const input of fieldsOf(form)) {
    const problem = CHECKS[input.name]?.(input.value) || "";
    const error = errorFor(form, input);
    if (error) error.textContent = problem;
    if (problem) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
    first ??= problem ? input : null;
    body[input.name] = input.value;
  }
  first?.focus();
  return first ? null : body;
}

async function runAction(order, form) {
  const body = actionBody(form);
  if (!body) return;
  order.dataset.busy = "true";
  setMessage(order, form.dataset.doing, "pending");
  syncActions(order);
  const url = `/api/orders/${encodeURIComponent(order.dataset.orderId)}/${form.dataset.action}`;
  const { status, body: answer } = await postCommand(url, body);
  delete order.dataset.busy;
  if (status === 202) {
    const fields = fieldsOf(form);
    if (fields.length) { fields.forEach((input) => { input.value = ""; }); collapse(order); }
    markSent(order, answer.request_id, form.dataset.doing);
    if (!order.dataset.pending && order.querySelector(".order-message").dataset.kind === "pending") {
      setMessage(order, "");
    }
  } else {
    for (const input of fieldsOf(form)) {
      const problems = answer.error?.fields?.[input.name];
      const error = errorFor(form, input);
      if (problems && error) error.textContent = problems.join(" ");
    }
    setMessage(order, errorText(answer), "error");
  }
  syncActions(order);
}

// A new order this page just sent: shown at once, "pending" until OrderPlaced arrives.
export function showPlacing(answer, body) {
  const row = ensureRow({ ...body, order_id: answer.order_id, status: "pending", version: 0 });
  // What a row shows while its command is on the way: its form says (data-doing, from
  // web/actions.py), as each action's form does.
  if (row) markSent(row, answer.request_id, document.getElementById("order-form")?.dataset.doing);
}

function collapse(order) {
  const form = order.querySelector(".cancel-form.collapsible");
  const toggle = form?.querySelector(".cancel-toggle");
  if (!toggle) return;
  form.classList.add("collapsed");
  toggle.textContent = "Cancel…";
  toggle.setAttribute("aria-expanded", "false");
}

function expand(order) {
  const form = order.querySelector(".cancel-form.collapsible");
  form.classList.remove("collapsed");
  const toggle = form.querySelector(".cancel-toggle");
  toggle.textContent = "Keep order";
  toggle.setAttribute("aria-expanded", "true");
  form.querySelector(".reason").focus();
}

// In the list, the cancel form folds behind a "Cancel…" button (it is always open on
// the order's own page, and without JavaScript).
function prepareRow(order) {
  const form = order.querySelector(".cancel-form");
  if (form && !form.querySelector(".cancel-toggle")) {
    const toggle = el("button", "Cancel…", { type: "button", class: "cancel-toggle", "aria-expanded": "false" });
    form.prepend(toggle);
    form.classList.add("collapsible", "collapsed");
  }
  syncActions(order);
}

function fillDetails(row, order) {
  row.querySelector(".customer").textContent = order.customer_name;
  fillMoney(row.querySelector(".total"), order.total);
  row.querySelector(".order-number").textContent = `#${order.order_id.slice(0, 8).toUpperCase()}`;
  if (order.placed_at) fillTime(row.querySelector(".placed"), order.placed_at);
  row.querySelector(".summary").textContent =
    (order.lines || []).map((line) => `${line.quantity} × ${line.product}`).join(", ");
}

function buildRow(order) {
  const row = document.getElementById("order-row-template").content.firstElementChild.cloneNode(true);
  const id = order.order_id;
  Object.assign(row.dataset, { orderId: id, status: order.status, version: order.version });
  row.querySelector(".customer").href = `/orders/${encodeURIComponent(id)}`;
  row.querySelectorAll(".badge").forEach((badge) => {
    badge.textContent = order.status;
    badge.dataset.status = order.status;
  });
  fillDetails(row, order);
  row.querySelectorAll(".action-form").forEach((form) => {
    form.action = `/orders/${encodeURIComponent(id)}/${form.dataset.action}`;
  });
  const reason = row.querySelector(".reason");
  reason.id = `reason-${id}`;
  row.querySelector(".reason-label").htmlFor = reason.id;
  const error = row.querySelector('.cancel-form [data-error-for="reason"]');
  error.id = `err-reason-${id}`;
  reason.setAttribute("aria-describedby", error.id);
  prepareRow(row);
  return row;
}

function ensureRow(order) {
  const list = document.getElementById("orders");
  if (!list) return null;
  const existing = list.querySelector(`.order[data-order-id="${CSS.escape(order.order_id)}"]`);
  if (existing) return existing;
  const row = buildRow(order);
  list.prepend(row);
  document.getElementById("orders-empty").hidden = true;
  return row;
}

export async function reloadOrders() {
  const list = document.getElementById("orders");
  if (!list) {
    if (document.getElementById("order")) location.reload();
    return;
  }
  const { orders, next_page: nextPage } = await getJson(`/api/orders?per_page=${PER_PAGE}`);
  list.replaceChildren(...orders.map(buildRow));
  document.getElementById("orders-empty").hidden = orders.length > 0;
  offerMore(nextPage);
}

// "Load more": the next page of orders, appended. Orders placed since the page loaded
// shift the pages by as many rows, so rows already shown are skipped, not repeated.
function offerMore(nextPage) {
  const more = document.getElementById("load-more");
  if (!more) return;
  more.hidden = !nextPage;
  if (nextPage) {
    more.dataset.nextPage = nextPage;
    more.href = `/?page=${nextPage}`;
  }
}

async function loadMore(more) {
  const list = document.getElementById("orders");
  more.setAttribute("aria-busy", "true");
  try {
    const answer = await getJson(`/api/orders?page=${more.dataset.nextPage}&per_page=${PER_PAGE}`);
    let first = null;
    for (const order of answer.orders) {
      if (list.querySelector(`.order[data-order-id="${CSS.escape(order.order_id)}"]`)) continue;
      const row = buildRow(order);
      list.append(row);
      first ??= row;
    }
    offerMore(answer.next_page);
    // Keyboard users land on the first new order rather than at the top of the page.
    first?.querySelector(".customer").focus();
  } catch {
    location.href = more.href; // the server renders that page instead
  } finally {
    more.removeAttribute("aria-busy");
  }
}

async function loadTimeline(details) {
  if (details.dataset.loaded !== undefined) return;
  details.dataset.loaded = "";
  const order = details.closest(".order");
  const list = details.querySelector(".timeline");
  const { events } = await getJson(`/api/orders/${encodeURIComponent(order.dataset.orderId)}/events`)
    .catch(() => ({ events: [] }));
  for (const event of [...events].reverse()) {
    if (!list.querySelector(`[data-event-id="${CSS.escape(event.id)}"]`)) {
      list.prepend(timelineItem(event, describe(event)));
    }
  }
}

export function enhanceOrders() {
  document.querySelectorAll(".orders .order").forEach(prepareRow);
  document.getElementById("load-more")?.addEventListener("click", (click) => {
    // On a later page (?page=2) the list is not the newest: let the link load the page.
    if (new URLSearchParams(location.search).has("page")) return;
    click.preventDefault();
    loadMore(click.currentTarget);
  });
  document.querySelectorAll("#order").forEach(syncActions);
  document.addEventListener("submit", (submit) => {
    const form = submit.target.closest(".action-form");
    const order = form?.closest(".order");
    if (!order || !order.dataset.orderId) return;
    submit.preventDefault();
    runAction(order, form);
  });
  document.addEventListener("click", (click) => {
    const toggle = click.target.closest(".cancel-toggle");
    if (!toggle) return;
    const order = toggle.closest(".order");
    if (toggle.getAttribute("aria-expanded") === "true") { collapse(order); toggle.focus(); }
    else expand(order);
  });
  document.addEventListener("keydown", (key) => {
    const order = key.target.closest?.(".order");
    if (key.key !== "Escape" || !order || !key.target.matches(".reason")) return;
    collapse(order);
    order.querySelector(".cancel-toggle")?.focus();
  });
  // "toggle" does not bubble; listen while it travels down instead.
  document.addEventListener("toggle", (toggle) => {
    if (toggle.target.matches?.(".timeline-box") && toggle.target.open) loadTimeline(toggle.target);
  }, true);
}
