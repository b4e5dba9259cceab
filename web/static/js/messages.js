// What a wrong field is told: the server's own texts and limits (web/api/messages.py),
// handed over in the page, so the page and the API word every problem the same way.

const data = JSON.parse(document.getElementById("field-messages")?.textContent || "{}");
export const MESSAGES = data.messages || {};
const LIMITS = data.limits || {};
export const MAX_LINES = LIMITS.lines || 50;
const CONTROL = new RegExp(
  `[${(data.control_categories || ["Cc"]).map((category) => `\\p{${category}}`).join("")}]`, "u",
);
const PRICE = /^\d+(\.\d{1,2})?$/;

function text(field, empty = MESSAGES.required) {
  return (value) => {
    const trimmed = value.trim();
    if (!trimmed) return empty;
    const longest = LIMITS[field];
    if ([...trimmed].length > longest) return MESSAGES.too_long.replace("{longest}", longest);
    if (CONTROL.test(trimmed)) return MESSAGES.control_characters;
    return "";
  };
}

// Field name -> check(value) -> "" or the message, as the server would answer.
export const CHECKS = {
  customer_name: text("customer_name"),
  product: text("product"),
  reason: text("reason", MESSAGES.reason_required),
  quantity: (value) => {
    const trimmed = value.trim();
    if (!trimmed) return MESSAGES.required;
    const quantity = Number(trimmed);
    return /^\d+$/.test(trimmed) && quantity >= 1 && quantity <= LIMITS.quantity
      ? "" : MESSAGES.quantity;
  },
  unit_price: (value) => {
    const trimmed = value.trim();
    if (!trimmed) return MESSAGES.required;
    if (!PRICE.test(trimmed)) return MESSAGES.price_format;
    const price = Number(trimmed);
    return price > 0 && price <= Number(LIMITS.unit_price) ? "" : MESSAGES.price_range;
  },
};
