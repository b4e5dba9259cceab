"""Browser fixtures for the e2e tests; each test module brings its own `system`."""

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.browser import CHROMIUM, CHROMIUM_ARGS, Tab


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if CHROMIUM is None:
        print("SKIP: no Chromium (looked for `chromium` on PATH and /usr/bin/chromium)")
        pytest.skip("no Chromium at /usr/bin/chromium or on PATH")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def tab(chromium: Any, system: Any) -> Iterator[Tab]:
    opened = Tab(chromium, system)
    yield opened
    opened.context.close()
    assert opened.errors == [], opened.errors  # no script error on the page, ever
