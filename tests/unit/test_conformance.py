"""A reservation's carried and dropped rates, from two readings of its meter's counters."""

from __future__ import annotations

import logging

import pytest

from tegu_ryu.cli.render import sparkline
from tegu_ryu.enforcement.conformance import Conformance, MeterCount
from tegu_ryu.enforcement.planner import best_effort_meter_id, reservation_meter_id
from tegu_ryu.openflow.flows import METER_FIRST
from tegu_ryu.reservations.model import Direction
from tegu_ryu.tenancy import ANONYMOUS

from .test_controller import connected

OUT_7, IN_7 = METER_FIRST + 14, METER_FIRST + 15  # reservation serial 7's meters


def test_rates_come_from_the_difference_of_two_readings() -> None:
    conformance = Conformance()
    first = [
        MeterCount(OUT_7, 1_000, 0),
        MeterCount(IN_7, 0, 0),
        MeterCount(best_effort_meter_id(2), 9, 9),
    ]
    assert conformance.counted(1, first, now=10.0) == []  # nothing to compare with yet
    later = [MeterCount(OUT_7, 1_000 + 2_500_000, 1_250_000), MeterCount(IN_7, 125_000, 0)]
    done = {(serial, d): m for serial, d, m in conformance.counted(1, later, now=12.0)}
    out = done[(7, Direction.OUT)]
    assert (out.rate_bps, out.dropped_bps) == (5_000_000, 5_000_000)  # 1.25 MB each over 2 s
    assert (out.since, out.until) == (10.0, 12.0)
    assert done[(7, Direction.IN)].rate_bps == 500_000 and done[(7, Direction.IN)].dropped_bps == 0
    assert conformance.measured(7, Direction.OUT) == out
    assert conformance.recent(7, Direction.OUT) == [5_000_000]


def test_a_meter_made_again_starts_counting_over_and_ended_ones_are_forgotten() -> None:
    conformance = Conformance()
    conformance.counted(1, [MeterCount(OUT_7, 5_000, 0)], now=1.0)
    assert conformance.counted(1, [MeterCount(OUT_7, 100, 0)], now=2.0) == []  # counters reset
    assert conformance.counted(1, [MeterCount(OUT_7, 1_100, 0)], now=3.0)[0][2].rate_bps == 8_000
    conformance.forget(live={8})
    assert (
        conformance.measured(7, Direction.OUT) is None
        and conformance.recent(7, Direction.OUT) == []
    )


def test_the_sparkline_scales_to_the_highest_reading() -> None:
    assert sparkline([0, 5, 10]) == "▁▅█" and sparkline([]) == "" and sparkline([0, 0]) == "▁▁"


def test_drops_under_the_reserved_rate_are_logged_and_shown(
    caplog: pytest.LogCaptureFixture,
) -> None:
    controller = connected()
    made = controller.reservations.create(
        ANONYMOUS,
        {"src": "h1", "dst": "h3", "bandwidth": "10M", "duration": 60},
        now=0,
        reply=lambda r: r,
    )
    controller.next_pass(1)
    ingress = made.routes[Direction.OUT].hops[0].dpid
    assert ingress in controller.counter_targets()
    meter = reservation_meter_id(made, Direction.OUT)
    controller.meters_counted(ingress, [MeterCount(meter, 0, 0)], now=10)
    with caplog.at_level(logging.WARNING):  # 2 Mbit/s carried, 1 Mbit/s dropped: a bug signal
        controller.meters_counted(ingress, [MeterCount(meter, 375_000, 125_000)], now=11)
    assert "dropped 1000000 bit/s while carrying 2000000 of its 10000000" in caplog.text
    shown = controller.measured(made)["out"]
    assert (shown["rate_bps"], shown["dropped_bps"]) == (2_000_000, 1_000_000)
    assert shown["recent_bps"] == [2_000_000]
