"""The e2e tests' fixtures: the one running system that modules share, and the browser.

A module that kills, restarts or reconfigures processes (a worker with faults, a second
web process, other settings) defines its own `system`, which overrides the shared one for
that module alone. Every other module gets the shared system, booted once per session, so
its tests stay independent: each makes its own session (cookie) and ids and never assumes
an empty database or a quiet log.
"""

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.browser import CHROMIUM, CHROMIUM_ARGS, Tab
from tools.harness.system import System

# What the shared system runs with: heartbeats every 2 s rather than 15, so the tests of
# a socket that goes silent (test_live_silence.py) see them within their deadlines.
SHARED_HEARTBEAT_SECONDS = 2


@pytest.fixture(scope="session")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    env = {"ORDERWIRE_HEARTBEAT_SECONDS": str(SHARED_HEARTBEAT_SECONDS)}
    with System(tmp_path_factory.mktemp("shared-system"), env=env) as running:
        yield running


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
