"""Driving the page in headless Chromium: where the browser is, a tab with its own session,
and where screenshots go (bench-results/screenshots/, git-ignored; docs/screenshots/ holds
the few the README shows, copied from there)."""

import json
import shutil
from pathlib import Path
from typing import Any

from tests.payloads import a_line
from tools.harness.system import ROOT, System
from tools.harness.waiting import wait_for

CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
)
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
SCREENSHOTS = ROOT / "bench-results" / "screenshots"
LIVE = 30_000  # ms: generous, the machine is shared
HOSTILE = "<img src=x onerror=alert(1)>"
DESKTOP = {"width": 1280, "height": 800}
# Every state the connection badge takes, in order: a "Reconnecting…" that lasts a few
# hundred milliseconds is easy to miss by polling the page from outside.
RECORD_CONNECTION_STATES = """
window.__connectionStates = [];
window.addEventListener("offline", () => { window.__offlineAt = performance.now(); });
document.addEventListener("DOMContentLoaded", () => {
  const badge = document.getElementById("connection");
  if (!badge) return;
  const record = () => window.__connectionStates.push([badge.dataset.state, performance.now()]);
  new MutationObserver(record).observe(badge, { attributeFilter: ["data-state"] });
});
"""
PHONE = {"width": 390, "height": 844}
# The line the page tests\' orders carry (the notification text shows its 40.00).
LOOM = a_line("Loom", 1, "40.00")


def status_after_reload(page: Any) -> str | None:
    """The order page's status badge after a fresh load; None if the reload met a navigation
    still under way (the caller polls again)."""
    from playwright.sync_api import Error

    try:
        page.reload(wait_until="load")
        return page.locator("#order-status").text_content()
    except Error:
        return None


class Tab:
    """One page in its own browser context (its own session cookie), with what it said."""

    def __init__(
        self, chromium: Any, system: System, base_url: str | None = None, **options: Any
    ) -> None:
        self.system = system
        self.base_url = base_url or system.base_url
        options.setdefault("viewport", DESKTOP)
        self.context = chromium.new_context(**options)
        self.context.add_init_script(RECORD_CONNECTION_STATES)
        self.page = self.context.new_page()
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.sockets: list[str] = []
        self.page.on("dialog", self._dialog)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("websocket", lambda socket: self.sockets.append(socket.url))
        self.console_errors: list[str] = []
        # `and` as a one-line `if`: the append's None is never used
        self.page.on(
            "console",
            lambda m: m.type == "error" and self.console_errors.append(m.text),  # type: ignore[func-returns-value]
        )

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)  # alert(), confirm(): a script ran
        dialog.dismiss()

    def open(self, path: str = "/") -> Any:
        self.page.goto(self.base_url + path)
        return self.page

    def wait_live(self) -> None:
        self.page.wait_for_selector('#connection[data-state="live"]', timeout=LIVE)

    def fill_order(self, customer: str, product: str, unit_price: str) -> None:
        """The order form, one line, ready to send."""
        self.page.get_by_label("Customer name").fill(customer)
        self.page.locator("#product-0").fill(product)
        self.page.locator("#unit_price-0").fill(unit_price)

    def connection_changes(self) -> list[tuple[str, float]]:
        """(state, page time in ms) for each change of the connection badge."""
        return [tuple(c) for c in self.page.evaluate("window.__connectionStates || []")]

    def connection_states(self) -> list[str]:
        return [state for state, _ in self.connection_changes()]

    def wait_for_state(self, state: str, since: int = 0, timeout: float = LIVE / 1000) -> None:
        """Wait until the badge has shown `state` (after the first `since` changes)."""
        wait_for(lambda: state in self.connection_states()[since:], timeout=timeout,
                 interval=0.1, what=f"the connection badge to show {state}")

    def api(self, path: str, body: Any) -> dict[str, Any]:
        """A command from this tab's session, as another of the customer's tabs would send."""
        answer = self.page.request.post(
            self.system.base_url + path, data=json.dumps(body),
            headers={"Content-Type": "application/json"},
        )
        assert answer.status == 202, answer.text()
        return answer.json()

    def row(self, order_id: str) -> Any:
        return self.page.locator(f'#orders .order[data-order-id="{order_id}"]')

    def screenshot(self, name: str, full_page: bool = True) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / name
        self.page.screenshot(path=str(path), full_page=full_page, animations="disabled")
        return path
