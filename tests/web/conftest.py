"""Browser fixtures: Debian's Chromium driven by Playwright (browsers cannot be downloaded
here). Without /usr/bin/chromium or the playwright package the browser tests skip with
the reason, unless DIALER_REQUIRE_ALL=1, under which they fail. A failed test leaves a
screenshot of every page it opened under test-artifacts/."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Generator
from pathlib import Path
from typing import Any

import pytest
from webkit import NewPage

CHROMIUM = Path(os.environ.get("DIALER_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any]:
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


def _unavailable(reason: str) -> None:
    if os.environ.get("DIALER_REQUIRE_ALL") == "1":
        pytest.fail(f"DIALER_REQUIRE_ALL=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install playwright)")
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def new_page(browser: Any, request: pytest.FixtureRequest) -> AsyncIterator[NewPage]:
    """Open a page in a fresh browser context (its own cookies) at a base URL."""
    pages: list[Any] = []

    async def open_page(base_url: str) -> Any:
        context = await browser.new_context(base_url=base_url)
        context.set_default_timeout(10_000)
        page = await context.new_page()
        pages.append(page)
        return page

    yield open_page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)
        for i, page in enumerate(pages):
            try:
                await page.screenshot(path=str(ARTIFACTS / f"{name}-{i}.png"), full_page=True)
            except Exception as exc:  # the page may be gone; keep the other screenshots
                print(f"no screenshot of page {i}: {exc}")
    for page in pages:
        await page.context.close()
