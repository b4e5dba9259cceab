"""What a person meets on the page, in headless Chromium at 1280x800 and 390x844: error
pages, the order list's details, the notifications drawer on a phone, "Load more", the
order page's timeline and the API docs. Each test saves screenshots of its main state to
bench-results/screenshots/ (git-ignored); docs/screenshots/ holds copies for the README."""

import json
import re
import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.browser import LIVE, LOOM, PHONE, Tab
from tests.payloads import a_line, order_body
from tools.harness.system import System
from tools.harness.waiting import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def placed(tab: Tab, name: str, price: str = "40.00") -> str:
    order_id = tab.api("/api/orders", order_body(name, a_line("Loom", 1, price)))["order_id"]
    from playwright.sync_api import expect

    expect(tab.row(order_id).locator(".badge")).to_have_text("placed", timeout=LIVE)
    return order_id


def test_an_unknown_order_address_is_a_404_page_with_a_way_back(tab: Tab) -> None:
    from playwright.sync_api import expect

    answer = tab.page.goto(f"{tab.base_url}/orders/{uuid.uuid4()}")
    assert answer is not None and answer.status == 404
    page = tab.page
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    expect(page.locator("text=being placed")).to_have_count(0)
    tab.screenshot("not-found.png", full_page=False)
    tab.console_errors.clear()  # the 404 page's own status is reported as one
    page.get_by_role("link", name="Go to my orders").click()
    tab.wait_live()
    # The favicon loads on every page: no 404 in the console any more.
    assert page.evaluate("fetch('/favicon.ico').then(r => r.status)") == 200
    assert tab.console_errors == [], tab.console_errors


def test_the_confirmation_fades_and_the_order_page_has_number_total_and_timeline(
    tab: Tab,
) -> None:
    from playwright.sync_api import expect

    page = tab.open()
    tab.wait_live()
    tab.fill_order("Margaret Hamilton", "Core rope", "99.90")
    page.get_by_role("button", name="Place order").click()
    status = page.locator("#form-status")
    expect(status).to_have_text(re.compile("Order for Margaret Hamilton sent"))
    row = page.locator("#orders .order").first
    expect(row.locator(".badge")).to_have_text("placed", timeout=LIVE)
    # The confirmation is news, not a fixture: it fades after a few seconds by itself.
    expect(status).to_have_text("", timeout=15_000)

    row.locator(".customer").click()
    expect(page.locator("#order-status")).to_have_text("placed")
    expect(page.locator(".order-page .order-number")).to_have_text(re.compile(r"#[0-9A-F]{8}"))
    expect(page.locator(".order-page .total")).to_have_text("€99.90")
    expect(page.locator("#timeline li")).to_have_text([re.compile("Placed: 1 line")])
    page.get_by_role("button", name="Pay").click()
    expect(page.locator("#timeline li")).to_have_count(2, timeout=LIVE)
    expect(page.locator("#timeline li").last).to_contain_text("Paid €99.90")
    tab.screenshot("order-page.png")


def test_on_a_phone_the_bell_counts_new_notifications_and_opens_them(
    chromium: Any, system: System
) -> None:
    from playwright.sync_api import expect

    tab = Tab(chromium, system, viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        page = tab.open()
        tab.wait_live()
        bell = page.get_by_role("button", name=re.compile("^Notifications"))
        expect(bell).to_be_visible()
        expect(bell.locator(".count")).to_be_hidden()
        first = placed(tab, "Phone customer")
        tab.api(f"/api/orders/{first}/pay", {})
        expect(bell.locator(".count")).to_have_text("2", timeout=LIVE)
        expect(bell).to_have_attribute("aria-label", "Notifications, 2 new")
        tab.screenshot("phone-list.png", full_page=False)

        bell.focus()
        page.keyboard.press(" ")  # a button, by keyboard
        drawer = page.locator("#notifications-panel")
        expect(drawer).to_be_in_viewport()
        expect(page.locator("#notifications-heading")).to_be_focused()
        expect(drawer.locator("li").first).to_contain_text("We received your payment")
        expect(bell.locator(".count")).to_be_hidden()
        tab.screenshot("phone-notifications.png", full_page=False)
        page.keyboard.press("Escape")
        expect(bell).to_be_focused()
        expect(bell).to_have_attribute("aria-expanded", "false")
        assert tab.errors == []
    finally:
        tab.context.close()


def test_orders_beyond_fifty_come_with_load_more(tab: Tab, system: System) -> None:
    from playwright.sync_api import expect

    page = tab.open()
    tab.wait_live()
    ids = [tab.api("/api/orders", order_body(f"Customer {n}", LOOM))["order_id"] for n in range(52)]
    expect(tab.row(ids[0]).locator(".badge")).to_have_text("placed", timeout=60_000)
    wait_for(lambda: tab.row(ids[-1]).locator(".badge").text_content() == "placed",
             timeout=60, what="the 52nd order to be placed")
    page.reload()
    tab.wait_live()
    rows = page.locator("#orders .order")
    expect(rows).to_have_count(50)
    more = page.get_by_role("link", name="Load more")
    tab.api("/api/orders", order_body("Newest of all", LOOM))  # shifts the pages by one
    expect(page.locator("#orders .order").first.locator(".customer")).to_have_text(
        "Newest of all", timeout=LIVE)
    shown_before = set(rows.evaluate_all("rows => rows.map(row => row.dataset.orderId)"))
    more.click()
    expect(rows).to_have_count(53)  # every order once: the shift repeats none
    ids_shown = rows.evaluate_all("rows => rows.map(row => row.dataset.orderId)")
    assert len(set(ids_shown)) == 53 and set(ids) <= set(ids_shown)
    expect(more).to_be_hidden()
    # Focus lands on the first order new to the list. Which one that is depends on the order
    # the two worker processes placed the oldest orders in, so it is read from the list.
    # document.activeElement, not :focus: the latter also needs the browser window to have
    # the OS focus, which a headless browser on a loaded machine may not give it.
    first_new = next(order_id for order_id in ids_shown if order_id not in shown_before)
    wait_for(lambda: page.evaluate(
        "document.activeElement?.matches('.customer')"
        " && document.activeElement.closest('.order')?.dataset.orderId") == first_new,
        timeout=10, what="focus on the first order Load more added")


def test_the_list_at_desktop_and_phone_sizes(tab: Tab) -> None:
    """The main state, for a person to compare with a clean dashboard."""
    from playwright.sync_api import expect

    page = tab.open()
    tab.wait_live()
    paid = placed(tab, "Ada Lovelace", "1250.00")
    tab.api(f"/api/orders/{paid}/pay", {})
    shipped = placed(tab, "Grace Hopper", "28.75")
    tab.api(f"/api/orders/{shipped}/pay", {})
    expect(tab.row(shipped).locator(".badge")).to_have_text("paid", timeout=LIVE)
    tab.api(f"/api/orders/{shipped}/ship", {})
    refused = placed(tab, "Alan Turing", "12.00")
    tab.api(f"/api/orders/{refused}/ship", {})
    expect(tab.row(refused).locator(".order-message")).to_contain_text("refused", timeout=LIVE)
    expect(tab.row(shipped).locator(".badge")).to_have_text("shipped", timeout=LIVE)
    expect(tab.row(paid).locator(".badge")).to_have_text("paid", timeout=LIVE)
    expect(tab.row(shipped).locator(".order-actions button:visible")).to_have_count(0)
    tab.screenshot("orders-desktop.png", full_page=False)
    page.set_viewport_size(PHONE)
    tab.screenshot("orders-phone.png", full_page=False)


def test_the_api_docs_render_the_openapi_document_from_this_server(tab: Tab) -> None:
    from playwright.sync_api import expect

    requests_made: list[str] = []
    tab.page.on("request", lambda request: requests_made.append(request.url))
    page = tab.open("/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("orderwire", timeout=LIVE)
    expect(page.locator(".opblock-summary-path", has_text="/api/orders").first).to_be_visible()
    tab.screenshot("api-docs.png", full_page=False)
    assert all(url.startswith(tab.base_url) or url.startswith("data:")
               for url in requests_made), requests_made  # no CDN, nothing outside
    assert not [m for m in tab.console_errors if "Content Security Policy" in m], \
        tab.console_errors


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("customer_name", "   "),
        ("customer_name", "Ada\u200blace"),  # a format character, not only ASCII controls
        ("product", "Tab\there"),
        ("quantity", "0"),
        ("quantity", "2.5"),
        ("unit_price", "9.999"),
        ("unit_price", "0"),
        ("unit_price", "100000.01"),
    ],
)
def test_the_page_words_a_wrong_field_exactly_as_the_server_does(
    tab: Tab, field: str, value: str
) -> None:
    from playwright.sync_api import expect

    page = tab.open()
    tab.wait_live()
    tab.fill_order("Ada", "Loom", "1.00")
    selector = "#customer_name" if field == "customer_name" else f"#{field}-0"
    page.locator(selector).fill(value)
    page.get_by_role("button", name="Place order").click()  # checked here, not sent
    path = field if field == "customer_name" else f"lines.0.{field}"
    shown = page.locator(f'[data-error-for="{path}"]')
    expect(shown).not_to_be_empty()

    line = a_line("Loom", 1, "1.00")
    body = order_body("Ada", line)
    if field == "customer_name":
        body["customer_name"] = value
    else:
        line[field] = float(value) if field == "quantity" and "." in value else (
            int(value) if field == "quantity" else value)
    answer = page.request.post(f"{tab.base_url}/api/orders", data=json.dumps(body),
                               headers={"Content-Type": "application/json"})
    assert answer.status == 422, answer.text()
    assert shown.text_content() == " ".join(answer.json()["error"]["fields"][path])


def test_amounts_and_dates_follow_the_readers_locale_and_time_zone(
    chromium: Any, system: System
) -> None:
    from playwright.sync_api import expect

    tab = Tab(chromium, system, locale="de-DE", timezone_id="Asia/Tokyo")
    try:
        tab.open()
        tab.wait_live()
        order_id = placed(tab, "Zoë", "1250.00")
        row = tab.row(order_id)
        expect(row.locator(".total")).to_have_text("1.250,00\u00a0€")
        order = tab.page.request.get(f"{tab.base_url}/api/orders/{order_id}").json()
        placed_at = order["placed_at"].replace("Z", "+00:00")
        in_tokyo = datetime.fromisoformat(placed_at).astimezone(ZoneInfo("Asia/Tokyo"))
        expect(row.locator(".placed")).to_contain_text(in_tokyo.strftime("%H:%M"))
        expect(row.locator(".placed")).to_contain_text(str(in_tokyo.year))
        assert tab.errors == []
    finally:
        tab.context.close()
