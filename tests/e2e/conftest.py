"""End-to-end fixtures: the real app in a subprocess, the real browser."""

from tests.stream.browser import browser, page, playwright_instance  # noqa: F401 (fixtures)
