"""The web page at /ui/ in headless Chromium, against tegu-manager on the sample static topology."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timedelta

import pytest
import requests
from controller_process import ControllerProcess

from .conftest import STATIC
from .page import Page

pytestmark = pytest.mark.browser

TOPOLOGY = json.loads(STATIC.read_text())
SWITCHES = set(TOPOLOGY["switches"])
BUSY_LINK = "0000000000000001:3>0000000000000002:3"  # h1 <-> h3 goes this way (50M)
TIME = re.compile(r"\d{4}-\d\d-\d\dT[\d:.]+Z")


def directed_links(controller: ControllerProcess) -> set[str]:
    _, topology = controller.get("/v1/topology")
    return {
        f"{link['src']['dpid']}:{link['src']['port']}>{link['dst']['dpid']}:{link['dst']['port']}"
        for link in topology["links"]
    }


def hours_from_now(hours: float) -> float:
    """Unix seconds, as the API takes them for start and end."""
    return time.time() + hours * 3600


def as_tenant(
    controller: ControllerProcess, token: str, path: str, body: dict[str, object] | None = None
) -> dict[str, object]:
    """GET ``path``, or POST ``body`` to it, with a bearer token (ControllerProcess' own
    requests carry none)."""
    response = requests.request(
        "GET" if body is None else "POST",
        controller.url + path,
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    response.raise_for_status()
    found: dict[str, object] = response.json()
    return found


def test_the_topology_shows_every_switch_link_and_host_coloured_by_booking(
    controller: ControllerProcess, page: Page
) -> None:
    status, made = controller.request(
        "POST",
        "/v1/reservations",
        {"src": "h1", "dst": "h3", "bandwidth": "30M", "duration": 7200, "name": "backup"},
    )
    assert status == 201
    full = {"type": "oneway", "src": "h3", "dst": "h4", "bandwidth": "96M", "duration": 7200}
    assert controller.request("POST", "/v1/reservations", full)[0] == 201
    page.open(controller.url)
    page.wait_for_data(len(SWITCHES))

    assert page.attributes("#topology .switch", "data-dpid") == SWITCHES
    assert page.attributes("#topology .link", "data-link") == directed_links(controller)
    assert page.attributes("#topology .host", "data-mac") == {h["mac"] for h in TOPOLOGY["hosts"]}
    assert "level-1" in page.classes(f'#topology .link[data-link="{BUSY_LINK}"]')  # 30M of 50M
    assert "level-3" in page.classes('.link[data-link="0000000000000002:4>0000000000000003:3"]')
    assert "level-0" in page.classes('.link[data-link="0000000000000003:3>0000000000000002:4"]')

    page.wait(lambda: page.all(f'#reservations tr[data-rid="{made["id"]}"]'), "the list")
    page.one(f'#reservations tr[data-rid="{made["id"]}"]').click()
    page.wait(
        lambda: "on-path" in page.classes(f'.link[data-link="{BUSY_LINK}"]'),
        "the path drawn on the topology",
    )
    assert page.text("detail-id") == made["id"]
    assert "h1 ↔ h3" in page.text("detail-fields")
    page.screenshot("topology-card", "topology.png")
    assert page.console_errors() == []


def test_reserve_extend_and_cancel_through_the_forms_with_a_token(
    token_controller: ControllerProcess, page: Page
) -> None:
    page.open(token_controller.url)
    page.wait(lambda: page.shown("token-dialog"), "the token prompt")
    assert not page.shown("app")
    later = {"src": "h2", "dst": "h3", "bandwidth": "15M", "duration": 3600}
    as_tenant(
        token_controller, "acme-secret", "/v1/reservations", {**later, "start": hours_from_now(4)}
    )
    as_tenant(
        token_controller, "ops-secret", "/v1/reservations", {**later, "start": hours_from_now(2)}
    )
    page.type("token-input", "acme-secret")
    page.one("#token-form button").click()
    page.wait_for_data(len(SWITCHES))

    page.type("reserve-src", "h1")
    page.type("reserve-dst", "h3")
    page.type("reserve-bandwidth", "20M")
    page.type("reserve-duration", "90")
    page.type("reserve-name", "nightly copy")
    page.one("#reserve-submit").click()
    page.wait(lambda: page.text("reserve-result").startswith("Reserved r-"), "the reservation")
    rid = page.text("reserve-result").split()[1]
    page.wait(lambda: page.all(f'#reservations tr[data-rid="{rid}"]'), "the new row in the list")
    assert "nightly copy" in page.one(f'#reservations tr[data-rid="{rid}"]').text

    page.one(f'#topology .link[data-link="{BUSY_LINK}"] .hit').click()
    bar = f'#timeline .booking[data-rid="{rid}"]'
    page.wait(lambda: page.all(bar), "the reservation's bar on the link timeline")
    assert page.one("#timeline").get_attribute("data-link") == BUSY_LINK
    assert "selected" in page.classes(bar)
    assert len(page.all("#timeline .booking[data-rid]")) == 2  # acme's two
    assert len(page.all("#timeline .booking.other")) == 1  # ops', shown without its id
    assert "20 Mbit/s booked now" in page.text("timeline-summary")
    page.choose("timeline-range", "21600")
    page.wait(lambda: page.all(bar), "the bar with 6 hours shown")
    page.screenshot("timeline-card", "timeline.png")

    before = as_tenant(token_controller, "acme-secret", f"/v1/reservations/{rid}")
    page.type("extend-minutes", "30")
    page.one("#extend-submit").click()
    page.wait(lambda: page.text("detail-result").startswith("Extended"), "the extension")
    after = as_tenant(token_controller, "acme-secret", f"/v1/reservations/{rid}")
    moved = datetime.fromisoformat(str(after["end"])) - datetime.fromisoformat(str(before["end"]))
    assert abs(moved - timedelta(minutes=30)) < timedelta(seconds=1)

    page.one("#cancel-button").click()
    page.one("#cancel-yes").click()
    page.wait(lambda: not page.all(f'#reservations tr[data-rid="{rid}"]'), "the row to go")
    page.wait(lambda: not page.all(bar), "the bar to go")
    assert "cancelled" in page.one('#detail-fields dd[data-field="state"]').text
    page.choose("filter-state", "cancelled")
    page.wait(lambda: page.attributes("#reservations tbody tr", "data-rid") == {rid}, "the filter")
    gone = as_tenant(token_controller, "acme-secret", f"/v1/reservations/{rid}")
    assert gone["state"] == "cancelled"
    assert page.console_errors(expected_statuses=(401,)) == []


def test_a_refused_request_shows_the_apis_explanation(
    controller: ControllerProcess, page: Page
) -> None:
    page.open(controller.url)
    page.wait_for_data(len(SWITCHES))
    for field, value in (
        ("reserve-src", "h1"),
        ("reserve-dst", "h3"),
        ("reserve-bandwidth", "10G"),
    ):
        page.type(field, value)
    page.one("#reserve-submit").click()
    page.wait(lambda: page.shown("reserve-error"), "the refusal")

    status, refusal = controller.request(
        "POST", "/v1/reservations", {"src": "h1", "dst": "h3", "bandwidth": "10G", "duration": 3600}
    )
    assert status == 409
    expected = TIME.sub("T", refusal["error"]["message"])
    assert TIME.sub("T", page.text("reserve-error")) == expected
    assert "10Gbit/s requested" in expected
    assert page.all("#reservations tbody tr") == []
    assert page.console_errors(expected_statuses=(409,)) == []


def test_a_wrong_token_is_refused_and_the_right_one_kept_for_the_session(
    token_controller: ControllerProcess, page: Page
) -> None:
    page.open(token_controller.url)
    page.wait(lambda: page.shown("token-dialog"), "the token prompt")
    page.type("token-input", "not-a-token")
    page.one("#token-form button").click()
    page.wait(lambda: page.shown("token-error"), "the refusal of the token")
    assert page.text("token-error") == "The token was refused: the bearer token is not valid"

    page.type("token-input", "ops-secret")
    page.one("#token-form button").click()
    page.wait_for_data(len(SWITCHES))
    assert page.driver.execute_script("return sessionStorage.length") == 1

    page.driver.refresh()
    page.wait_for_data(len(SWITCHES))
    assert not page.shown("token-dialog")

    page.one("#forget-token").click()
    page.wait(lambda: page.shown("token-dialog"), "the token prompt again")
    assert page.driver.execute_script("return sessionStorage.length") == 0
    assert page.console_errors(expected_statuses=(401,)) == []


def test_a_measured_rate_is_shown_with_its_recent_readings(
    controller: ControllerProcess, page: Page
) -> None:
    """With no switch nothing is measured, so the detail view is given a reservation as the API
    shows one once its meters have been read twice (the Measured schema)."""
    status, made = controller.request(
        "POST", "/v1/reservations", {"src": "h1", "dst": "h3", "bandwidth": "20M", "duration": 600}
    )
    assert status == 201
    reading = {"rate_bps": 19_800_000, "dropped_bps": 0, "since": made["start"]}
    made["measured"] = {
        "out": {**reading, "recent_bps": [0, 12_000_000, 19_800_000]},
        "in": {**reading, "rate_bps": 150_000, "dropped_bps": 2_000, "recent_bps": [1, 2]},
    }
    page.open(controller.url)
    page.wait_for_data(len(SWITCHES))
    page.driver.execute_async_script(
        """const [reservation, done] = arguments;
        import("./detail.js").then((detail) => {
          new detail.ReservationDetail(() => {}, () => {}, () => {}).show(reservation);
          done();
        });""",
        made,
    )
    rows = page.all("#detail-measured .measured")
    assert [row.get_attribute("data-direction") for row in rows] == ["out", "in"]
    assert rows[0].text.startswith("out: 19.8 Mbit/s passed, 0 bit/s dropped, since ")
    assert rows[1].text.startswith("in: 150 kbit/s passed, 2 kbit/s dropped, since ")
    assert len(page.all("#detail-measured .sparkline")) == 2
    assert page.console_errors() == []
