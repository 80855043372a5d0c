"""Fixtures for stream tests: the browser ones live in browser.py for reuse elsewhere."""

from tests.stream.browser import browser, page, playwright_instance  # noqa: F401 (pytest fixtures)
