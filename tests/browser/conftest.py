"""The browser tier: headless Debian Chromium, driven by Selenium, against a real tegu-manager.

Skips, saying why, only where Chromium or its driver is not installed
(``tools/setup`` installs both). Screenshots go to ``$TEGU_BROWSER_ARTEFACTS``
or a pytest temporary directory, named at the end of the run.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from controller_process import ControllerProcess
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from .page import Page

STATIC = Path(__file__).resolve().parents[2] / "conf" / "static-topology.json"
TOKENS = {
    "ops-secret": {"tenant": "ops", "roles": ["admin"]},
    "acme-secret": {"tenant": "acme", "roles": ["tenant"]},
}
# Without the background-networking flags Chromium's own connections (updates, sync, field
# trials) are refused here by the hundred; root needs --no-sandbox.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1300",
)
SAVED: list[Path] = []


def _installed(name: str, debian_path: str) -> str | None:
    return debian_path if Path(debian_path).exists() else shutil.which(name)


@pytest.fixture(scope="session")
def chromium() -> tuple[str, str]:
    """The browser and its driver, or a skip naming what is missing."""
    browser = _installed("chromium", "/usr/bin/chromium")
    driver = _installed("chromedriver", "/usr/bin/chromedriver")
    missing = [
        name for name, path in (("chromium", browser), ("chromium-driver", driver)) if path is None
    ]
    if missing:
        pytest.skip(
            f"browser tier: Debian's {' and '.join(missing)} not installed "
            "(tools/setup installs them: apt-get install chromium chromium-driver)"
        )
    assert browser is not None and driver is not None
    return browser, driver


@pytest.fixture
def browser(chromium: tuple[str, str]) -> Iterator[webdriver.Chrome]:
    """A fresh headless Chromium (its own profile, so no session storage carries over)."""
    binary, driver = chromium
    with tempfile.TemporaryDirectory(prefix="tegu-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = binary
        for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        chrome = webdriver.Chrome(options=options, service=Service(driver))
        try:
            yield chrome
        finally:
            chrome.quit()


def _controller(workdir: Path, token_mode: bool) -> ControllerProcess:
    options = {"static_topology": str(STATIC)}
    if token_mode:
        tokens = workdir / "tokens.json"
        workdir.mkdir(parents=True, exist_ok=True)
        tokens.write_text(json.dumps(TOKENS))
        options.update(auth_mode="token", token_file=str(tokens))
    return ControllerProcess(workdir / "controller", options=options)


@pytest.fixture
def controller(tmp_path: Path) -> Iterator[ControllerProcess]:
    """tegu-manager on the sample static topology, ``auth_mode = none``."""
    process = _controller(tmp_path, token_mode=False)
    process.start()
    yield process
    process.stop()


@pytest.fixture
def token_controller(tmp_path: Path) -> Iterator[ControllerProcess]:
    """tegu-manager on the sample static topology, ``auth_mode = token`` with TOKENS."""
    process = _controller(tmp_path, token_mode=True)
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="session")
def artefacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chosen = os.environ.get("TEGU_BROWSER_ARTEFACTS")
    if chosen:
        Path(chosen).mkdir(parents=True, exist_ok=True)
        return Path(chosen)
    return tmp_path_factory.mktemp("browser-artefacts")


@pytest.fixture
def page(browser: webdriver.Chrome, artefacts: Path) -> Page:
    return Page(browser, artefacts, SAVED)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if SAVED:
        terminalreporter.write_sep("-", "browser tier screenshots")
        for path in SAVED:
            terminalreporter.write_line(str(path))
