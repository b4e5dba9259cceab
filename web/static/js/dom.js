// Building the page from data. Text always goes in through textContent, never innerHTML:
// whatever a user typed (a customer name, a product, a reason) stays text.

export function el(tag, text, attrs = {}) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  return node;
}

export function formatTime(iso) {
  const moment = new Date(iso);
  if (Number.isNaN(moment.getTime())) return iso || "";
  return moment.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

export function timeElement(iso) {
  const node = el("time", formatTime(iso), { datetime: iso });
  node.title = new Date(iso).toLocaleString();
  return node;
}

// The server renders times in UTC; show them in the reader's own time zone.
export function localiseTimes(root = document) {
  root.querySelectorAll("time[datetime]").forEach((node) => {
    node.textContent = formatTime(node.dateTime);
    node.title = new Date(node.dateTime).toLocaleString();
  });
}

// A short highlight on something that just changed, unless the reader prefers no motion.
export function flash(node) {
  node.classList.remove("flash");
  void node.offsetWidth; // restart the animation
  node.classList.add("flash");
}
