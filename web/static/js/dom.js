// Building the page from data. Text always goes in through textContent, never innerHTML:
// whatever a user typed (a customer name, a product, a reason) stays text.

export function el(tag, text, attrs = {}) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  return node;
}

const TIME = { hour: "2-digit", minute: "2-digit", second: "2-digit" };
const DATE_AND_TIME = { dateStyle: "medium", timeStyle: "short" };

// In the reader's time zone and locale: the time alone for today, else the date too.
export function formatMoment(iso, withDate = false) {
  const moment = new Date(iso);
  if (Number.isNaN(moment.getTime())) return iso || "";
  const today = moment.toDateString() === new Date().toDateString();
  return withDate || !today
    ? moment.toLocaleString([], DATE_AND_TIME)
    : moment.toLocaleTimeString([], TIME);
}

export function fillTime(node, iso) {
  node.dateTime = iso;
  node.textContent = formatMoment(iso, node.classList.contains("placed"));
  node.title = new Date(iso).toLocaleString([], { dateStyle: "full", timeStyle: "long" });
}

export function timeElement(iso, className = "") {
  const node = el("time");
  if (className) node.className = className;
  fillTime(node, iso);
  return node;
}

// Amounts in the currency the server names (ORDERWIRE_CURRENCY), formatted the reader's way.
const money = new Intl.NumberFormat(undefined, {
  style: "currency", currency: document.body.dataset.currency || "EUR",
});

export function formatMoney(amount) {
  const number = Number(amount);
  return amount === undefined || amount === null || amount === "" || Number.isNaN(number)
    ? "" : money.format(number);
}

export function fillMoney(node, amount) {
  node.dataset.amount = amount ?? "";
  node.textContent = formatMoney(amount);
}

// The server renders times in UTC and amounts with the currency code; show both the
// reader's way.
export function localise(root = document) {
  root.querySelectorAll("time[datetime]").forEach((node) => fillTime(node, node.dateTime));
  root.querySelectorAll("[data-amount]").forEach((node) => fillMoney(node, node.dataset.amount));
}

// A short highlight on something that just changed, unless the reader prefers no motion.
export function flash(node) {
  node.classList.remove("flash");
  void node.offsetWidth; // restart the animation
  node.classList.add("flash");
}
