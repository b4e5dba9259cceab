"""The live page in real headless Chromium, against the whole system on real processes.

Skipped, saying why, where Chromium or the playwright package is missing. Screenshots
land in bench-results/screenshots/ (git-ignored) for a person to look at.
"""

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from orderwire.local_redis import free_port
from tests.e2e.browser import HOSTILE, LIVE, LOOM, Tab, status_after_reload
from tests.payloads import a_key, order_body
from tools.harness.api_client import ApiClient
from tools.harness.system import System
from tools.harness.waiting import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture(scope="module")
def system(chromium: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    with System(tmp_path_factory.mktemp("browser")) as running:
        yield running


def test_an_order_placed_on_the_page_turns_placed_live_then_is_paid_and_shipped(tab: Tab) -> None:
    from playwright.sync_api import expect

    page = tab.open()
    tab.wait_live()
    page.get_by_label("Customer name").fill("Grace Hopper")
    page.locator("#product-0").fill("Compiler manual")
    page.locator("#quantity-0").fill("2")
    page.locator("#unit_price-0").fill("12.50")
    page.get_by_role("button", name="+ Add a line").click()
    page.locator("#product-1").fill("Bug jar")
    page.locator("#unit_price-1").fill("3.75")
    page.get_by_role("button", name="Place order").click()

    row = page.locator("#orders .order").first
    expect(row.locator(".customer")).to_have_text("Grace Hopper")
    expect(row.locator(".badge")).to_have_text("placed", timeout=LIVE)
    expect(row.locator(".total")).to_have_text("€28.75")  # EUR, in the reader's (en-US) way
    expect(row.locator(".order-number")).to_have_text(re.compile(r"^#[0-9A-F]{8}$"))
    expect(row.get_by_role("button", name="Pay")).to_be_enabled()
    expect(row.locator('form[data-action="ship"]')).to_be_hidden()  # not possible yet

    row.get_by_role("button", name="Pay").click()
    expect(row.locator(".badge")).to_have_text("paid", timeout=LIVE)
    expect(row.locator('form[data-action="pay"]')).to_be_hidden()
    row.get_by_role("button", name="Ship").click()
    expect(row.locator(".badge")).to_have_text("shipped", timeout=LIVE)
    expect(row.locator(".order-actions button:visible")).to_have_count(0)  # nothing left to do

    expect(page.locator("#notifications")).to_contain_text("Your order is on its way.")
    row.locator(".timeline-box summary").click()
    expect(row.locator(".timeline li")).to_have_text(
        [re.compile("Placed: 2 lines, total €28.75"), re.compile("Paid €28.75"),
         re.compile("Shipped")]
    )
    tab.screenshot("live-page.png")
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    tab.screenshot("live-page-narrow.png")


def test_shipping_an_unpaid_order_shows_the_refusal_next_to_that_order(tab: Tab) -> None:
    from playwright.sync_api import expect

    page = tab.open()
    tab.wait_live()
    first = tab.api("/api/orders", order_body("First customer", LOOM))["order_id"]
    unpaid = tab.api("/api/orders", order_body("Unpaid customer", LOOM))["order_id"]
    expect(tab.row(unpaid).locator(".badge")).to_have_text("placed", timeout=LIVE)

    tab.api(f"/api/orders/{unpaid}/ship", {})

    message = tab.row(unpaid).locator(".order-message")
    expect(message).to_have_text(
        "Shipping was refused: an order must be paid before it ships", timeout=LIVE
    )
    expect(tab.row(first).locator(".order-message")).to_be_hidden()
    expect(tab.row(unpaid).locator(".badge")).to_have_text("placed")
    tab.screenshot("refusal.png")

    page = tab.open(f"/orders/{unpaid}")  # after a reload, the refusal is still there
    expect(page.locator("#order-message")).to_have_text(
        "Shipping was refused: an order must be paid before it ships"
    )
    expect(page.locator('form[data-action="ship"]')).to_be_hidden()
    expect(page.get_by_role("button", name="Pay")).to_be_enabled()
    tab.screenshot("order-page.png")


def test_cancelling_from_the_list_asks_for_a_reason_and_works_by_keyboard(tab: Tab) -> None:
    from playwright.sync_api import expect

    page = tab.open()
    tab.wait_live()
    order_id = tab.api("/api/orders", order_body("Keyboard user", LOOM))["order_id"]
    row = tab.row(order_id)
    expect(row.locator(".badge")).to_have_text("placed", timeout=LIVE)

    toggle = row.get_by_role("button", name="Cancel…")
    toggle.focus()
    page.keyboard.press("Enter")
    reason = row.get_by_label("Reason for cancelling")
    expect(reason).to_be_focused()
    page.keyboard.press("Escape")
    expect(reason).to_be_hidden()
    expect(toggle).to_be_focused()

    page.keyboard.press("Enter")
    row.get_by_role("button", name="Cancel order").click()  # no reason yet
    expect(row.locator(".cancel-form .field-error")).to_have_text("Say why the order is cancelled.")
    page.keyboard.type("Changed my mind")
    page.keyboard.press("Enter")
    expect(row.locator(".badge")).to_have_text("cancelled", timeout=LIVE)
    expect(row.locator(".order-actions button:visible")).to_have_count(0)


def test_the_form_checks_fields_and_shows_the_servers_field_errors_next_to_them(tab: Tab) -> None:
    from playwright.sync_api import expect

    page = tab.open()
    tab.wait_live()
    page.get_by_role("button", name="Place order").click()
    name = page.get_by_label("Customer name")
    expect(name).to_be_focused()
    expect(name).to_have_attribute("aria-invalid", "true")
    expect(page.locator('[data-error-for="customer_name"]')).to_have_text("Required.")

    name.fill("Edsger")
    page.locator("#product-0").fill("Semaphore")
    page.locator("#unit_price-0").fill("9.999")
    page.locator("#product-0").focus()  # leaving the price checks it
    expect(page.locator('[data-error-for="lines.0.unit_price"]')).to_contain_text("2 decimals")
    page.locator("#unit_price-0").fill("9.99")
    expect(page.locator('[data-error-for="lines.0.unit_price"]')).to_be_empty()

    # The server has the last word: make it see a quantity the page would have refused.
    def too_many(route: Any) -> None:
        body = json.loads(route.request.post_data)
        body["lines"][0]["quantity"] = 5000
        route.continue_(post_data=json.dumps(body))

    page.route("**/api/orders", too_many)
    page.get_by_role("button", name="Place order").click()
    server_error = page.locator('[data-error-for="lines.0.quantity"]')
    expect(server_error).to_have_text("A whole number from 1 to 1000.")
    expect(page.locator("#quantity-0")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#form-status")).to_have_text("Please correct the marked fields.")


def test_a_hostile_customer_name_is_shown_as_text_and_runs_nothing(tab: Tab) -> None:
    from playwright.sync_api import expect

    page = tab.open()
    tab.wait_live()
    page.get_by_label("Customer name").fill(HOSTILE)
    page.locator("#product-0").fill("<script>window.__xss = 1</script>")
    page.locator("#unit_price-0").fill("1.00")
    page.get_by_role("button", name="Place order").click()
    row = page.locator("#orders .order").first
    expect(row.locator(".badge")).to_have_text("placed", timeout=LIVE)
    expect(page.locator("#notifications li").first).to_contain_text(HOSTILE)

    for path in ("/", f"/orders/{row.get_attribute('data-order-id')}"):
        if path != "/":
            tab.open(path)
        expect(page.locator(".customer").first).to_have_text(HOSTILE)
        assert page.locator("main img, main script").count() == 0
        assert page.evaluate("window.__xss") is None
    assert tab.dialogs == []
    # Had markup been injected, the Content-Security-Policy would have blocked it, loudly.
    assert not [m for m in tab.console_errors if "Content Security Policy" in m]


def test_the_page_reconnects_and_shows_what_happened_while_its_server_was_away(
    tab: Tab, system: System
) -> None:
    """The page's server goes away (SIGTERM: its sockets close with 1001) and the order is
    paid through a second web process meanwhile; the page, reconnecting to its own server
    once it is back, resumes after the last event it saw and shows the payment."""
    from playwright.sync_api import expect

    page = tab.open()
    tab.wait_live()
    order_id = tab.api("/api/orders", order_body("Patient customer", LOOM))["order_id"]
    expect(tab.row(order_id).locator(".badge")).to_have_text("placed", timeout=LIVE)
    expect(page.locator("#notifications li")).to_have_count(1, timeout=LIVE)

    other_port = free_port()
    system.start_web("web-2", other_port)
    other = f"http://127.0.0.1:{other_port}"
    try:
        wait_for(lambda: _answers(other), timeout=30, what="the second web process")
        system.stop_process("web")
        page.wait_for_selector('#connection[data-state="reconnecting"]', timeout=LIVE)

        customer = requests.Session()
        for cookie in tab.context.cookies():
            customer.cookies.set(cookie["name"], cookie["value"])
        key = a_key("pay")
        api = ApiClient(customer, other)
        answer = api.post(f"/api/orders/{order_id}/pay", {}, key=key)
        assert answer.status_code == 202, answer.text
        assert api.wait_until_final(key, timeout=30)["status"] == "succeeded"
        assert page.locator("#connection").get_attribute("data-state") == "reconnecting"
        assert tab.row(order_id).locator(".badge").text_content() == "placed"

        system.start_web()
        page.wait_for_selector('#connection[data-state="live"]', timeout=60_000)
    finally:
        system.stop_process("web-2")

    expect(tab.row(order_id).locator(".badge")).to_have_text("paid", timeout=LIVE)
    expect(page.locator("#notifications li").first).to_have_text(
        re.compile("We received your payment of 40.00")
    )
    assert "after=" in tab.sockets[-1]
    assert page.locator("#notifications li").count() == 2  # the missed one, once


def _answers(base_url: str) -> bool:
    try:
        return requests.get(f"{base_url}/healthz", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def test_without_javascript_the_form_places_the_order_and_lands_on_its_page(
    chromium: Any, system: System
) -> None:
    from playwright.sync_api import expect

    tab = Tab(chromium, system, java_script_enabled=False)
    try:
        page = tab.open()
        page.get_by_label("Customer name").fill("No Script")
        page.locator("#product-0").fill("Paper form")
        page.locator("#quantity-0").fill("3")
        page.locator("#unit_price-0").fill("2.00")
        page.get_by_role("button", name="Place order").click()
        assert re.search(r"/orders/[0-9a-f-]{36}$", page.url), page.url

        wait_for(
            lambda: status_after_reload(page) == "placed",
            timeout=30, interval=0.5, what="the order page to show the order placed",
        )
        expect(page.locator("#order .customer")).to_have_text("No Script")
        # The form POSTs, then the 303 brings the order page: wait for that to finish
        # before reloading, or the reload races the redirect.
        with page.expect_navigation():
            page.get_by_role("button", name="Pay").click()
        wait_for(
            lambda: status_after_reload(page) == "paid",
            timeout=30, interval=0.5, what="the order to be paid",
        )
    finally:
        tab.context.close()
