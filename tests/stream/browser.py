"""A reusable headless-Chromium fixture (Playwright, sync API) for pages vhuman serves.

Use from any test module::

    from tests.stream.browser import browser, page, canvas_rgb  # noqa: F401 (fixtures)

or import the module in a conftest. Tests that use it should be ``@pytest.mark.slow``.
"""

from __future__ import annotations

import base64
import io
import os
import shutil
from collections.abc import Iterator

import numpy as np
import pytest

CHROMIUM = os.environ.get("VHUMAN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # Headless WebAudio stays 'suspended' without a gesture unless autoplay is allowed.
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture(scope="module")
def playwright_instance() -> Iterator[object]:
    """The Playwright driver; skips when Playwright or Chromium is missing.

    Module-scoped on purpose: Playwright's sync API keeps an event loop marked running on
    the main thread, so ``asyncio.run`` in later test modules would fail under it.
    """
    sync_api = pytest.importorskip("playwright.sync_api")
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_api.sync_playwright() as pw:
        yield pw


def launch_chromium(pw, *, autoplay: bool = True):
    """Launch headless Debian Chromium; ``autoplay=False`` behaves like a fresh visitor's
    browser (WebAudio suspended until a click)."""
    args = CHROMIUM_ARGS if autoplay else [a for a in CHROMIUM_ARGS if "autoplay" not in a]
    return pw.chromium.launch(executable_path=CHROMIUM, args=args, headless=True)


@pytest.fixture(scope="module")
def browser(playwright_instance) -> Iterator[object]:
    """One Chromium (autoplay allowed) per test module."""
    b = launch_chromium(playwright_instance)
    try:
        yield b
    finally:
        b.close()


@pytest.fixture
def page(browser) -> Iterator[object]:
    """A fresh 1280x720 page; console errors are collected in ``page.console_errors``."""
    # bypass_csp: the viewer's CSP forbids eval, which page.wait_for_function("…") uses.
    context = browser.new_context(viewport={"width": 1280, "height": 720}, bypass_csp=True)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.console_errors = errors
    try:
        yield pg
    finally:
        context.close()


def canvas_rgb(page, selector: str = "canvas") -> np.ndarray:
    """The canvas's pixels as uint8[H, W, 3], read back through a PNG data URL."""
    from PIL import Image

    url = page.eval_on_selector(selector, "c => c.toDataURL('image/png')")
    png = base64.b64decode(url.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
