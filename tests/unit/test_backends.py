"""Which backend a switch enforces with, from what it says it can do and the settings."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tegu_ryu.enforcement.backends import MeterFeatures, SwitchFacts, choose
from tegu_ryu.ovsdb.client import OvsdbBridge, OvsdbView
from tegu_ryu.ovsdb.watcher import OvsdbWatcher

FULL = MeterFeatures(max_meters=200_000, drop_band=True, kbps=True, burst=True)


def test_meters_where_the_switch_offers_usable_ones() -> None:
    chosen = choose(SwitchFacts(meters=FULL, datapath_type="netdev"), "auto")
    assert chosen.name == "meters" and "200000 OpenFlow meters" in chosen.reason


@pytest.mark.parametrize(
    ("features", "missing"),
    [
        (MeterFeatures(0, True, True, True), "no OpenFlow meters"),
        (MeterFeatures(64, False, True, True), "without drop band"),
        (MeterFeatures(64, True, True, False), "without burst sizes"),
    ],
)
def test_a_switch_that_cannot_meter_says_so_and_enforces_nothing(
    features: MeterFeatures, missing: str
) -> None:
    chosen = choose(SwitchFacts(meters=features), "auto")
    assert chosen.name == "none" and missing in chosen.reason


def test_before_the_switch_answers_and_when_configured_meters_are_used() -> None:
    assert choose(SwitchFacts(), "auto").name == "meters"
    forced = choose(SwitchFacts(meters=MeterFeatures(0, False, False, False)), "meters")
    assert forced.name == "meters" and "configured" in forced.reason


def test_the_watcher_reports_each_view_and_survives_a_server_that_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stopping = threading.Event()
    seen: list[OvsdbView] = []
    attempts: list[str] = []
    view = OvsdbView("3.1.0", ("netdev", "system"), (OvsdbBridge("br0", 1, "netdev"),))

    class Client:
        def __init__(self, remote: str) -> None:
            attempts.append(remote)
            if len(attempts) == 1:
                raise ConnectionRefusedError("no server yet")

        def view(self) -> OvsdbView:
            stopping.set()  # one report is enough
            return view

        def close(self) -> None:
            pass

    def connect(remote: str) -> Any:
        return Client(remote)

    monkeypatch.setattr("tegu_ryu.ovsdb.watcher.RETRY", 0.01)
    monkeypatch.setattr("tegu_ryu.ovsdb.watcher.PERIOD", 0.01)
    OvsdbWatcher("unix:/nowhere", seen.append, stopping, connect=connect).run()
    assert attempts == ["unix:/nowhere", "unix:/nowhere"] and seen == [view]
