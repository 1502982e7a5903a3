"""The booking calendar against a brute-force oracle."""

from __future__ import annotations

import itertools
from random import Random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tegu_ryu.reservations.ledger import BLOCK, FLAT, Booking, Ledger, StepFunction
from tegu_ryu.reservations.window import Window
from tegu_ryu.topology.refs import LinkId, PortRef

LINK = LinkId(PortRef(1, 1), PortRef(2, 1))

# Few distinct instants, so that many windows share end points, touch, or nest.
instants = st.integers(min_value=0, max_value=12).map(float)


@st.composite
def windows(draw: st.DrawFn) -> Window:
    start = draw(instants)
    end = draw(st.integers(min_value=int(start) + 1, max_value=13).map(float))
    return Window(start, end)


bookings = st.lists(st.tuples(windows(), st.sampled_from([1, 5, 10, 10, 10])), max_size=40)

# Tiny blocks make a dozen breakpoints span several blocks, so that cutting,
# splitting, joining and the pending amounts of whole blocks are all exercised;
# the defaults keep everything in one plain block here.
BLOCK_SIZES = pytest.mark.parametrize(("block", "flat"), [(2, 4), (4, 8), (BLOCK, FLAT)])


def oracle_level(booked: list[tuple[Window, int]], instant: float) -> int:
    return sum(amount for window, amount in booked if window.contains(instant))


def oracle_peak(booked: list[tuple[Window, int]], window: Window) -> int:
    """The highest level at the window start or at any booking boundary inside the window."""
    candidates = {window.start} | {
        t for w, _ in booked for t in (w.start, w.end) if window.start <= t < window.end
    }
    return max(oracle_level(booked, t) for t in candidates)


@BLOCK_SIZES
@settings(max_examples=300, deadline=None)
@given(bookings, windows())
def test_peak_matches_the_oracle(
    block: int, flat: int, booked: list[tuple[Window, int]], query: Window
) -> None:
    function = StepFunction(block, flat)
    for window, amount in booked:
        function.add(window, amount)
    peak = function.peak(query)
    assert peak.amount == oracle_peak(booked, query) == function.peak_amount(query)
    assert query.start <= peak.start < peak.end <= query.end
    assert oracle_level(booked, peak.start) == peak.amount


@BLOCK_SIZES
@settings(max_examples=200, deadline=None)
@given(bookings, st.lists(st.integers(0, 60), min_size=1, max_size=8), st.data())
def test_could_reach_says_whether_any_instant_is_booked_that_high(
    block: int, flat: int, booked: list[tuple[Window, int]], levels: list[int], data: st.DataObject
) -> None:
    """Asked between bookings and releases, as admission does: the bound it keeps never lies."""
    function = StepFunction(block, flat)
    kept: list[tuple[Window, int]] = []
    everything = Window(-1.0, 14.0)
    for window, amount in booked:
        function.add(window, amount)
        kept.append((window, amount))
        if kept and data.draw(st.booleans()):
            gone = kept.pop(data.draw(st.integers(0, len(kept) - 1)))
            function.add(gone[0], -gone[1])
        for level in levels:
            assert function.could_reach(level) == (oracle_peak(kept, everything) >= level)


@BLOCK_SIZES
@settings(max_examples=200, deadline=None)
@given(bookings, windows())
def test_steps_cover_the_window_with_the_right_levels(
    block: int, flat: int, booked: list[tuple[Window, int]], query: Window
) -> None:
    function = StepFunction(block, flat)
    for window, amount in booked:
        function.add(window, amount)
    steps = function.steps(query)
    assert steps[0][0] == query.start and steps[-1][1] == query.end
    for (_, end, _), (start, _, _) in itertools.pairwise(steps):
        assert end == start
    for start, end, level in steps:
        assert start < end
        assert oracle_level(booked, start) == level


@BLOCK_SIZES
@settings(max_examples=200, deadline=None)
@given(bookings, st.data())
def test_releasing_restores_exactly_what_was_there(
    block: int, flat: int, booked: list[tuple[Window, int]], data: st.DataObject
) -> None:
    ledger = Ledger(block, flat)
    for n, (window, amount) in enumerate(booked):
        ledger.book([Booking(f"r{n}", f"t{n % 3}", LINK, window, amount)])
    released = data.draw(st.sets(st.integers(0, max(0, len(booked) - 1)))) if booked else set()
    for n in released:
        ledger.release(f"r{n}")
    remaining = [b for n, b in enumerate(booked) if n not in released]
    for start in range(14):
        window = Window(float(start), float(start) + 1)
        assert ledger.peak(LINK, window).amount == oracle_peak(remaining, window)
        tenant = [b for n, b in enumerate(booked) if n not in released and n % 3 == 0]
        assert ledger.tenant_peak(LINK, "t0", window).amount == oracle_peak(tenant, window)
    for n in range(len(booked)):
        ledger.release(f"r{n}")
    assert ledger.booked_links() == []


@BLOCK_SIZES
@settings(max_examples=200, deadline=None)
@given(bookings, st.data())
def test_a_ledger_loaded_at_once_is_the_one_booked_one_by_one_and_behaves_alike(
    block: int, flat: int, booked: list[tuple[Window, int]], data: st.DataObject
) -> None:
    """A restart books everything in one sweep: the result must be indistinguishable."""
    entries = [
        Booking(f"r{n}", f"t{n % 3}", LINK, window, amount)
        for n, (window, amount) in enumerate(booked)
    ]
    loaded, booked_one_by_one = Ledger(block, flat), Ledger(block, flat)
    loaded.load(entries)
    for entry in entries:
        booked_one_by_one.book([entry])
    query = Window(0.0, 14.0)
    assert loaded.steps(LINK, query) == booked_one_by_one.steps(LINK, query)
    for start in range(14):
        window = Window(float(start), float(start) + 1)
        assert loaded.peak(LINK, window) == booked_one_by_one.peak(LINK, window)
        assert loaded.tenant_peak(LINK, "t1", window) == booked_one_by_one.tenant_peak(
            LINK, "t1", window
        )
    # and it goes on working as a ledger: more bookings, releases
    extra = Booking("extra", "t0", LINK, data.draw(windows()), 7)
    loaded.book([extra])
    booked_one_by_one.book([extra])
    for n in data.draw(st.sets(st.integers(0, max(0, len(entries) - 1)))) if entries else ():
        loaded.release(f"r{n}")
        booked_one_by_one.release(f"r{n}")
    assert loaded.steps(LINK, query) == booked_one_by_one.steps(LINK, query)


def test_touching_windows_do_not_overlap() -> None:
    function = StepFunction()
    function.add(Window(0, 10), 10)
    function.add(Window(10, 20), 10)
    assert function.peak(Window(0, 20)).amount == 10
    assert function.peak(Window(5, 15)).amount == 10


def test_a_short_booking_strictly_inside_the_window_is_seen() -> None:
    """The case Tegu's time-slice overlap test missed."""
    function = StepFunction()
    function.add(Window(0, 100), 10)
    function.add(Window(40, 41), 30)
    peak = function.peak(Window(10, 90))
    assert (peak.amount, peak.start, peak.end) == (40, 40, 41)


@pytest.mark.parametrize("seed", range(5))
def test_hundreds_of_bookings_and_releases_across_many_blocks(seed: int) -> None:
    """Hundreds of distinct breakpoints in blocks of 16: blocks split, join and vanish."""
    rng = Random(seed)
    function = StepFunction(block=16, flat=64)
    booked = [
        (Window(start, start + rng.uniform(1, 500)), rng.choice([-3, 1, 5, 10]))
        for start in (rng.uniform(0, 1000) for _ in range(400))
    ]
    for window, amount in booked:
        function.add(window, amount)
    rng.shuffle(booked)
    for window, amount in booked[:200]:
        function.add(window, -amount)
    remaining = booked[200:]
    for start in range(0, 1500, 37):
        query = Window(float(start), float(start) + rng.uniform(1, 300))
        peak = function.peak(query)
        assert peak.amount == oracle_peak(remaining, query) == function.peak_amount(query)
        assert oracle_level(remaining, peak.start) == peak.amount
    for window, amount in remaining:
        function.add(window, -amount)
    assert function.empty
