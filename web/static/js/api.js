// Commands and queries over the JSON API (CONTRACT.md sections 2 and 3).

export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  // randomUUID exists only in secure contexts; a page served over plain http elsewhere
  // than localhost still has getRandomValues.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

const UNREACHABLE = {
  error: { code: "unreachable", message: "The server could not be reached. Try again in a moment." },
};

// POST a command; resolves to {status, body} and never throws (status 0: no answer).
export async function postCommand(url, body, key = newKey()) {
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Idempotency-Key": key },
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
    return { status: response.status, body: await response.json().catch(() => ({})) };
  } catch {
    return { status: 0, body: UNREACHABLE };
  }
}

export async function getJson(url) {
  const response = await fetch(url, { credentials: "same-origin" });
  if (!response.ok) throw new Error(`GET ${url} answered ${response.status}`);
  return response.json();
}

export function errorText(answer) {
  const error = (answer && answer.error) || {};
  if (error.code === "rate_limited") return "Too many requests just now. Wait a moment and try again.";
  return error.message || "Something went wrong. Try again.";
}
