// The order form: add and remove lines, check fields as they are typed, send the order as
// JSON, and show the server's field errors (422 `fields`, dotted paths) next to their fields.

import { errorText, newKey, postCommand } from "./api.js";
import { CHECKS, MAX_LINES } from "./messages.js";

const CONFIRMATION_SHOWN_MS = 5000;
const FADE_MS = 600; // .form-status.fading in app.css

export function enhanceOrderForm(form, { onPlaced }) {
  const list = form.querySelector("#line-list");
  const addLine = form.querySelector("#add-line");
  const status = form.querySelector("#form-status");
  let key = newKey();
  let fadeTimer = null;

  function say(text, kind = "") {
    clearTimeout(fadeTimer);
    status.classList.remove("fading");
    status.textContent = text;
    status.dataset.kind = kind;
  }

  // A confirmation is news: it fades after a few seconds. Errors stay until they are fixed.
  function confirm(text) {
    say(text, "ok");
    fadeTimer = setTimeout(() => {
      status.classList.add("fading");
      fadeTimer = setTimeout(() => say(""), FADE_MS);
    }, CONFIRMATION_SHOWN_MS);
  }

  const rows = () => [...list.querySelectorAll("[data-line]")];
  const pathOf = (input) => {
    const row = input.closest("[data-line]");
    return row ? `lines.${rows().indexOf(row)}.${input.dataset.field}` : input.name;
  };
  const errorFor = (path) => form.querySelector(`[data-error-for="${CSS.escape(path)}"]`);

  function show(path, message) {
    const slot = errorFor(path) || errorFor("_schema");
    slot.textContent = message;
    const input = form.querySelector(`[aria-describedby="${CSS.escape(slot.id)}"]`);
    if (input && message) input.setAttribute("aria-invalid", "true");
    else if (input) input.removeAttribute("aria-invalid");
  }

  function check(input) {
    const rule = CHECKS[input.dataset.field || input.name];
    const problem = rule ? rule(input.value) : "";
    show(pathOf(input), problem);
    return !problem;
  }

  // ids, labels and error slots follow each row's position, so `lines.2.quantity` names
  // the third row shown, as the server means it.
  function renumber() {
    rows().forEach((row, index) => {
      for (const input of row.querySelectorAll("input[data-field]")) {
        const field = input.dataset.field;
        input.id = `${field}-${index}`;
        row.querySelector(`label[for^="${field}-"]`).htmlFor = input.id;
        const slot = input.parentElement.querySelector(".field-error");
        slot.id = `err-lines-${index}-${field}`;
        slot.dataset.errorFor = `lines.${index}.${field}`;
        input.setAttribute("aria-describedby", slot.id);
      }
      const rowError = row.querySelector(":scope > .field-error");
      rowError.id = `err-lines-${index}`;
      rowError.dataset.errorFor = `lines.${index}`;
      const remove = row.querySelector(".remove-line");
      remove.setAttribute("aria-label", `Remove line ${index + 1}`);
      remove.hidden = rows().length === 1;
    });
    addLine.disabled = rows().length >= MAX_LINES;
  }

  function clearRow(row) {
    row.querySelectorAll("input").forEach((input) => {
      input.value = input.dataset.field === "quantity" ? "1" : "";
      input.removeAttribute("aria-invalid");
    });
    row.querySelectorAll(".field-error").forEach((slot) => { slot.textContent = ""; });
  }

  function addRow() {
    const copy = rows()[rows().length - 1].cloneNode(true);
    copy.removeAttribute("data-spare");
    clearRow(copy);
    list.append(copy);
    renumber();
    copy.querySelector("input").focus();
  }

  function reset() {
    rows().slice(1).forEach((row) => row.remove());
    clearRow(rows()[0]);
    form.customer_name.value = "";
    form.querySelectorAll(".field-error").forEach((slot) => { slot.textContent = ""; });
    form.querySelectorAll("[aria-invalid]").forEach((input) => input.removeAttribute("aria-invalid"));
    renumber();
  }

  // Spare rows are for browsers without JavaScript; here lines are added on demand.
  rows().forEach((row) => {
    const empty = [...row.querySelectorAll("input")].every((input) => !input.value.trim());
    if (row.hasAttribute("data-spare") && empty && rows().length > 1) row.remove();
  });
  addLine.hidden = false;
  renumber();

  addLine.addEventListener("click", addRow);
  list.addEventListener("click", (click) => {
    const remove = click.target.closest(".remove-line");
    if (!remove) return;
    const row = remove.closest("[data-line]");
    const index = rows().indexOf(row);
    row.remove();
    renumber();
    const next = rows()[Math.min(index, rows().length - 1)];
    next.querySelector("input").focus();
    key = newKey();
  });
  // A field is checked when the reader leaves it, and again as they fix it.
  form.addEventListener("focusout", (event) => {
    if (event.target.matches("input[name]:not([type=hidden])") && event.target.value) check(event.target);
  });
  form.addEventListener("input", (event) => {
    key = newKey(); // a changed order is a new request; an unchanged one resends the same
    if (event.target.hasAttribute("aria-invalid")) check(event.target);
    if (status.dataset.kind === "error") say("");
  });

  form.addEventListener("submit", async (submit) => {
    submit.preventDefault();
    say("");
    errorFor("_schema").textContent = "";
    errorFor("lines").textContent = "";
    const inputs = [...form.querySelectorAll("input[name]:not([type=hidden])")];
    const valid = inputs.map(check).every(Boolean);
    if (!valid) {
      form.querySelector("[aria-invalid]").focus();
      say("Please correct the marked fields.", "error");
      return;
    }
    const body = {
      customer_name: form.customer_name.value,
      lines: rows().map((row) => ({
        product: row.querySelector('[data-field="product"]').value,
        quantity: Number(row.querySelector('[data-field="quantity"]').value.trim()),
        unit_price: row.querySelector('[data-field="unit_price"]').value.trim(),
      })),
    };
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    const { status: code, body: answer } = await postCommand("/api/orders", body, key);
    button.disabled = false;
    if (code === 202) {
      reset();
      key = newKey();
      confirm(`Order for ${body.customer_name.trim()} sent. Watch it under "My orders".`);
      onPlaced(answer, body);
      form.customer_name.focus();
      return;
    }
    const fields = answer.error?.fields;
    if (fields) {
      for (const [path, messages] of Object.entries(fields)) show(path, messages.join(" "));
      form.querySelector("[aria-invalid]")?.focus();
    }
    say(fields ? "Please correct the marked fields." : errorText(answer), "error");
  });
}
