"""The web page as the browser tests drive it: open, wait, fill forms, read the console."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select, WebDriverWait

T = TypeVar("T")
WAIT = 10.0


class Page:
    def __init__(self, driver: webdriver.Chrome, artefacts: Path, saved: list[Path]) -> None:
        self.driver = driver
        self.artefacts = artefacts
        self.saved = saved
        self.logged: list[dict[str, Any]] = []

    def open(self, base_url: str) -> None:
        self.driver.get(base_url + "/ui/")

    def wait(self, condition: Callable[[], T], what: str, timeout: float = WAIT) -> T:
        """Poll ``condition`` until it is truthy (a redraw may replace what it reads)."""

        def attempt(_: Any) -> T | bool:
            try:
                return condition()
            except StaleElementReferenceException:
                return False

        return WebDriverWait(self.driver, timeout, poll_frequency=0.1).until(
            attempt, f"timed out waiting for {what}; console: {self.console()}"
        )

    def one(self, css: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def all(self, css: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def classes(self, css: str) -> set[str]:
        return set(str(self.one(css).get_attribute("class")).split())

    def attributes(self, css: str, name: str) -> set[str]:
        return {str(e.get_attribute(name)) for e in self.all(css)}

    def shown(self, element_id: str) -> bool:
        found = self.all(f"#{element_id}")
        return bool(found) and found[0].is_displayed()

    def text(self, element_id: str) -> str:
        return str(self.one(f"#{element_id}").text)

    def type(self, element_id: str, value: str) -> None:
        field = self.one(f"#{element_id}")
        field.clear()
        field.send_keys(value)

    def choose(self, element_id: str, value: str) -> None:
        Select(self.one(f"#{element_id}")).select_by_value(value)

    def wait_for_data(self, switches: int) -> None:
        self.wait(
            lambda: self.shown("app") and len(self.all("#topology .switch")) == switches,
            f"the topology with {switches} switches",
        )

    def console(self) -> list[dict[str, Any]]:
        """Everything the browser logged so far (Selenium hands each entry over once)."""
        self.logged.extend(self.driver.get_log("browser"))
        return self.logged

    def console_errors(self, expected_statuses: tuple[int, ...] = ()) -> list[str]:
        """Severe console entries, except the browser's own note of an HTTP status the test
        caused on purpose (a 401 before the token is given, a 409 for a refused request)."""
        statuses = "|".join(str(s) for s in expected_statuses)
        allowed = re.compile(rf"the server responded with a status of ({statuses})\b")
        return [
            entry["message"]
            for entry in self.console()
            if entry["level"] == "SEVERE"
            and not (
                expected_statuses
                and entry.get("source") == "network"
                and allowed.search(entry["message"])
            )
        ]

    def screenshot(self, element_id: str, name: str) -> Path:
        """A PNG of one part of the page, kept as an artefact of the run."""
        path = self.artefacts / name
        self.one(f"#{element_id}").screenshot(str(path))
        self.saved.append(path)
        return path
