"""A connection that goes silent without closing (laptop sleep, Wi-Fi handover) and a
browser that goes offline: the page says "Reconnecting…" and resumes after the last event
it saw. The heartbeat is 2 s here, so silence means 4 s without a frame."""

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.browser import LIVE, LOOM, Tab
from tests.e2e.conftest import SHARED_HEARTBEAT_SECONDS
from tests.payloads import order_body
from tools.harness.proxy import Proxy
from tools.harness.system import System

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture
def proxy(system: System) -> Iterator[Proxy]:
    with Proxy(("127.0.0.1", system.port)) as running:
        yield running


def test_a_socket_that_goes_silent_is_dropped_and_resumed_with_nothing_missed(
    chromium: Any, system: System, proxy: Proxy
) -> None:
    from playwright.sync_api import expect

    tab = Tab(chromium, system, base_url=proxy.base_url)
    try:
        page = tab.open()
        tab.wait_live()
        order_id = tab.api("/api/orders", order_body("Sleepy laptop", LOOM))["order_id"]
        expect(tab.row(order_id).locator(".badge")).to_have_text("placed", timeout=LIVE)

        changes = len(tab.connection_states())
        assert proxy.freeze() >= 1  # the page's websocket, open but silent from now on
        frozen_at = page.evaluate("performance.now()")  # the page's clock, ms
        tab.api(f"/api/orders/{order_id}/pay", {})  # straight to the server, not through

        tab.wait_for_state("reconnecting", since=changes)
        noticed_at = next(at for state, at in tab.connection_changes()[changes:]
                          if state == "reconnecting")
        # Two heartbeat intervals of silence at most (the last frame came before the
        # freeze), not the minutes TCP would take; a second of slack for a busy machine.
        silence = noticed_at - frozen_at
        assert silence < 2 * SHARED_HEARTBEAT_SECONDS * 1000 + 1000, silence
        tab.wait_live()
        expect(tab.row(order_id).locator(".badge")).to_have_text("paid", timeout=LIVE)
        assert "after=" in tab.sockets[-1]
        expect(page.locator("#notifications li")).to_have_count(2)  # the missed one, once
        assert tab.errors == []
    finally:
        tab.context.close()


def test_going_offline_shows_reconnecting_at_once_and_coming_back_resumes(tab: Tab) -> None:
    from playwright.sync_api import expect

    page = tab.open()
    tab.wait_live()
    order_id = tab.api("/api/orders", order_body("Train tunnel", LOOM))["order_id"]
    expect(tab.row(order_id).locator(".badge")).to_have_text("placed", timeout=LIVE)
    changes = len(tab.connection_states())

    tab.context.set_offline(True)
    tab.wait_for_state("reconnecting", since=changes)
    # Offline, every reconnection fails at once: the badge stays on "Reconnecting…".
    expect(page.locator("#connection .label")).to_have_text("Reconnecting…")
    offline_at = page.evaluate("window.__offlineAt")
    reconnecting_at = next(at for state, at in tab.connection_changes()[changes:]
                           if state == "reconnecting")
    # Heartbeats come every 2 s, so the silence watchdog could not fire within 2 s of
    # going offline: a change this quick is the `offline` event's doing (page clock, ms).
    assert 0 <= reconnecting_at - offline_at < 1000, (offline_at, reconnecting_at)
    tab.screenshot("reconnecting.png", full_page=False)

    # Sent by Playwright itself, which the browser's offline mode does not cut off.
    tab.api(f"/api/orders/{order_id}/pay", {})
    tab.context.set_offline(False)
    tab.wait_live()
    expect(tab.row(order_id).locator(".badge")).to_have_text("paid", timeout=LIVE)
    assert "after=" in tab.sockets[-1]
