"""Fixtures the page's tests share: one Chromium for every browser test of the run."""
import os

import pytest

CHROMIUM = "/usr/bin/chromium"  # from the system's packages (apt-get install -y chromium), never `playwright install`
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium, driven by Playwright, for every browser test of the run: it starts once instead of
    once per file or test. Each test opens pages (each in a fresh context: its own cookies and storage) and closes
    them, so no test sees another's. Skips without Chromium or the playwright package."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"browser tests need Chromium at {CHROMIUM}: install it with `apt-get install -y chromium` "
                    f"(the CI script .ci/run does)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright Python package "
                                   "(pip install playwright; never `playwright install`, Chromium comes from apt)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
