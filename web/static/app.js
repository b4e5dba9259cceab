// orderwire's page script: live events over /ws, commands over the JSON API.
// Everything a user typed is put in the page with textContent, never innerHTML.
"use strict";

(() => {
  const connectionBadge = document.getElementById("connection");
  let lastEventId = null;
  const seen = new Set();
  let attempt = 0;

  function setConnection(state) {
    connectionBadge.dataset.state = state;
    connectionBadge.textContent = state;
  }

  function el(tag, text, attrs = {}) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
    return node;
  }

  function describe(event) {
    const d = event.data || {};
    switch (event.type) {
      case "OrderPlaced": return `${d.customer_name} placed an order of ${d.total}`;
      case "OrderPaid": return `paid ${d.total}`;
      case "OrderShipped": return "shipped";
      case "OrderCancelled": return `cancelled: ${d.reason}`;
      case "CommandRejected": return `${d.command} rejected: ${d.message} (${d.code})`;
      case "CommandFailed": return `${d.command} failed: ${d.message}`;
      case "NotificationCreated": return d.text;
      default: return event.type;
    }
  }

  const STATUS_BY_EVENT = { OrderPlaced: "placed", OrderPaid: "paid", OrderShipped: "shipped", OrderCancelled: "cancelled" };

  function showEvent(event) {
    const list = document.getElementById("events");
    if (list) {
      const item = el("li", undefined, { "data-type": event.type });
      item.append(el("span", event.type, { class: "type" }), document.createTextNode(" " + describe(event)));
      if (event.type === "CommandRejected" || event.type === "CommandFailed") item.classList.add("rejection");
      list.prepend(item);
    }
    if (event.type === "NotificationCreated") {
      const notes = document.getElementById("notifications");
      if (notes) notes.prepend(el("li", event.data.text));
    }
    const status = STATUS_BY_EVENT[event.type];
    if (status) updateOrder(event, status);
  }

  function updateOrder(event, status) {
    const orderId = event.aggregate_id;
    const orders = document.getElementById("orders");
    if (orders) {
      let row = orders.querySelector(`li[data-order-id="${CSS.escape(orderId)}"]`);
      if (!row && event.type === "OrderPlaced") {
        orders.querySelector(".empty")?.remove();
        row = el("li", undefined, { "data-order-id": orderId });
        row.append(
          el("a", event.data.customer_name, { href: `/orders/${encodeURIComponent(orderId)}` }),
          el("span", event.data.total, { class: "total" }),
          el("span", status, { class: "badge", "data-status": status }),
        );
        orders.prepend(row);
      }
      const badge = row && row.querySelector(".badge");
      if (badge) { badge.textContent = status; badge.dataset.status = status; }
    }
    const page = document.getElementById("order");
    if (page && page.dataset.orderId === orderId) {
      if (!document.getElementById("order-status") || page.dataset.status === "pending") {
        window.location.reload();
        return;
      }
      const badge = document.getElementById("order-status");
      badge.textContent = status; badge.dataset.status = status; page.dataset.status = status;
      const timeline = document.getElementById("timeline");
      if (timeline) timeline.append(el("li", `${event.type} ${event.occurred_at}`));
    }
  }

  function handleFrame(frame) {
    if (frame.kind === "hello") {
      setConnection(attempt > 0 && lastEventId ? "resynced" : "live");
      attempt = 0;
      if (lastEventId === null) lastEventId = frame.last_id;
    } else if (frame.kind === "event") {
      const event = frame.event;
      if (seen.has(event.id)) return;
      seen.add(event.id);
      lastEventId = event.id;
      showEvent(event);
    } else if (frame.kind === "resync") {
      setConnection("resynced");
      window.location.reload();
    }
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const query = lastEventId ? `?after=${encodeURIComponent(lastEventId)}` : "";
    const socket = new WebSocket(`${scheme}://${location.host}/ws${query}`);
    socket.onmessage = (message) => handleFrame(JSON.parse(message.data));
    socket.onclose = () => {
      setConnection("reconnecting");
      attempt += 1;
      // Exponential backoff with full jitter, capped at 10 s.
      const delay = Math.random() * Math.min(10000, 250 * 2 ** attempt);
      setTimeout(connect, delay);
    };
  }

  async function sendCommand(url, body, key) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Idempotency-Key": key },
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
    return { status: response.status, body: await response.json().catch(() => ({})) };
  }

  function clearErrors(form) {
    form.querySelectorAll(".error").forEach((node) => { node.textContent = ""; });
    form.querySelectorAll("[aria-invalid]").forEach((node) => node.removeAttribute("aria-invalid"));
  }

  function showFieldErrors(form, fields) {
    for (const [path, messages] of Object.entries(fields || {})) {
      const parts = path.split(".");
      let target = form.querySelector(`.error[data-field="${CSS.escape(path)}"]`);
      if (!target && parts[0] === "lines" && parts.length >= 2) {
        target = form.querySelectorAll("[data-line]")[Number(parts[1])]?.querySelector(".error");
        const input = form.querySelectorAll("[data-line]")[Number(parts[1])]?.querySelector(`[name="${CSS.escape(parts[2] || "")}"]`);
        if (input) input.setAttribute("aria-invalid", "true");
      }
      if (!target) target = form.querySelector('.error[data-field="_schema"]');
      const field = form.querySelector(`[name="${CSS.escape(path)}"]`);
      if (field) field.setAttribute("aria-invalid", "true");
      target.textContent = `${target.textContent} ${parts.length > 2 ? parts[2] + ": " : ""}${messages.join(" ")}`.trim();
    }
  }

  function enhanceOrderForm(form) {
    const lines = form.querySelector("#lines");
    const addLine = form.querySelector("#add-line");
    addLine.hidden = false;
    const syncRemoveButtons = () => {
      const rows = lines.querySelectorAll("[data-line]");
      rows.forEach((row) => { row.querySelector(".remove-line").hidden = rows.length === 1; });
    };
    addLine.addEventListener("click", () => {
      const rows = lines.querySelectorAll("[data-line]");
      const copy = rows[rows.length - 1].cloneNode(true);
      copy.querySelectorAll("input").forEach((input) => { input.value = input.name === "quantity" ? "1" : ""; });
      copy.querySelector(".error").textContent = "";
      addLine.before(copy);
      syncRemoveButtons();
      copy.querySelector("input").focus();
    });
    lines.addEventListener("click", (click) => {
      if (!click.target.classList.contains("remove-line")) return;
      click.target.closest("[data-line]").remove();
      syncRemoveButtons();
    });
    syncRemoveButtons();
    let key = crypto.randomUUID();
    form.addEventListener("input", () => { key = crypto.randomUUID(); });
    form.addEventListener("submit", async (submit) => {
      submit.preventDefault();
      clearErrors(form);
      if (!form.checkValidity()) {
        form.querySelectorAll(":invalid").forEach((input) => input.setAttribute("aria-invalid", "true"));
        form.querySelector(":invalid").focus();
        return;
      }
      const body = {
        customer_name: form.customer_name.value,
        lines: [...form.querySelectorAll("[data-line]")].map((row) => ({
          product: row.querySelector('[name="product"]').value,
          quantity: Number(row.querySelector('[name="quantity"]').value),
          unit_price: row.querySelector('[name="unit_price"]').value.trim(),
        })),
      };
      const { status, body: answer } = await sendCommand("/api/orders", body, key);
      if (status === 202) {
        form.reset();
        key = crypto.randomUUID();
      } else if (answer.error) {
        showFieldErrors(form, answer.error.fields || { _schema: [answer.error.message] });
      }
    });
  }

  function enhanceOrderActions() {
    document.querySelectorAll(".actions form").forEach((form) => {
      form.addEventListener("submit", async (submit) => {
        submit.preventDefault();
        const action = form.querySelector("button").dataset.action;
        const orderId = document.getElementById("order").dataset.orderId;
        const body = action === "cancel" ? { reason: form.reason.value } : {};
        await sendCommand(`/api/orders/${encodeURIComponent(orderId)}/${action}`, body, crypto.randomUUID());
      });
    });
  }

  const form = document.getElementById("order-form");
  if (form) enhanceOrderForm(form);
  enhanceOrderActions();
  connect();
})();
