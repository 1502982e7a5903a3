"""Which backend a switch enforces with, from what it says it can do and the settings."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tegu_ryu.enforcement.backends import MeterFeatures, SwitchFacts, choose
from tegu_ryu.errors import Conflict
from tegu_ryu.ovsdb.client import OvsdbBridge, OvsdbView
from tegu_ryu.ovsdb.watcher import OvsdbWatcher
from tegu_ryu.reservations.lifecycle import Lifecycle
from tegu_ryu.reservations.model import BandwidthReservation, Direction, Match, State

from .test_engine import H1, H4, M, diamond, request

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


def test_reservations_go_around_a_switch_that_cannot_meter_or_degrade_naming_it() -> None:
    engine, links = diamond()
    lifecycle = Lifecycle(engine)
    made = engine.create(0, "acme", request(H1, H4, M))
    assert made.routes[Direction.OUT].links == (links["1-2"], links["2-4"])  # the short path
    engine.topology.set_unenforceable(2, "no OpenFlow meters")
    (moved,) = lifecycle.tick(1)[0]
    assert isinstance(moved, BandwidthReservation) and moved.state is State.ACTIVE
    assert 2 not in moved.switches()  # around s2, on the long path
    engine.topology.set_unenforceable(5, "no OpenFlow meters")
    (stuck,) = lifecycle.tick(2)[0]
    assert stuck.state is State.DEGRADED and "switch 0000000000000002" in (stuck.reason or "")
    assert "cannot enforce a reserved rate (no OpenFlow meters)" in (stuck.reason or "")
    with pytest.raises(Conflict) as refused:
        engine.create(3, "acme", request(H1, H4, M, match=Match(protocol="udp")))
    assert refused.value.code == "unenforceable"
    engine.topology.set_unenforceable(1, "64 OpenFlow meters without burst sizes")
    with pytest.raises(Conflict) as at_the_source:
        engine.create(3, "acme", request(H1, H4, M, match=Match(protocol="tcp")))
    assert at_the_source.value.details["switch"] == "0000000000000001"
    for dpid in (1, 2, 5):
        engine.topology.set_unenforceable(dpid, None)
    (back,) = lifecycle.tick(4)[0]
    assert back.state is State.ACTIVE and back.routes[Direction.OUT].links[0] == links["1-2"]
