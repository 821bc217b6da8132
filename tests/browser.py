"""Headless Chromium for the browser tests (the web page, Neo4j Browser) and the screenshot script.

Debian's chromium + chromium-driver (scripts/ensure-system.sh installs them), driven by
Selenium with both binaries given explicitly, so Selenium Manager never reaches the network.
Without them the tests are skipped — unless KGREC_REQUIRE_BROWSER=1 (`make test`, CI), where
they fail instead.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

WAIT_S = 60
# --disable-background-networking & co.: this machine refuses outside connections, and Chromium
# otherwise keeps trying (update checks, sync, QUIC probes).
CHROME_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage"]


def unavailable(message: str, env: str = "KGREC_REQUIRE_BROWSER"):
    """Skip, or fail when ``env`` is 1 (the suite then requires what is missing)."""
    if os.environ.get(env) == "1":
        pytest.fail(f"{message} ({env}=1)")
    pytest.skip(message)


def _binary(name: str) -> str | None:
    path = f"/usr/bin/{name}"
    return path if os.access(path, os.X_OK) else shutil.which(name)


def find_binaries() -> tuple[str, str]:
    """(chromium, chromedriver), or skip/fail naming what is missing."""
    chromium, chromedriver = _binary("chromium"), _binary("chromedriver")
    if chromium is None or chromedriver is None:
        unavailable("browser tests need Debian's chromium and chromium-driver "
                    "(bash scripts/ensure-system.sh installs them)")
    try:
        import selenium  # noqa: F401
    except ImportError:
        unavailable("browser tests need selenium (requirements.txt)")
    return chromium, chromedriver


def open_chromium(chromium: str, chromedriver: str, profile: Path, log: Path, *,
                  window: str = "1280,1000", wait_s: float = WAIT_S):
    """A Selenium Chrome driver on the given binaries, console log captured."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROME_FLAGS + [f"--window-size={window}", f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=chromedriver, log_output=str(log)),
                              options=options)
    driver.set_page_load_timeout(wait_s)
    driver.set_script_timeout(wait_s)
    return driver
