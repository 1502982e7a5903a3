"""Handoff labels booked over time, against a brute-force model of every instant."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tegu_ryu.reservations.window import Window
from tegu_ryu.stitching.labels import free_label

LABELS = range(100, 104)
INSTANTS = range(0, 14)


@st.composite
def windows(draw: st.DrawFn) -> Window:
    start = draw(st.integers(min_value=0, max_value=12))
    return Window(float(start), float(draw(st.integers(min_value=start + 1, max_value=13))))


# Each step: book over a window (any label, or one asked for), or drop an earlier booking.
steps = st.lists(
    st.one_of(
        st.tuples(st.just("book"), windows(), st.none() | st.sampled_from([99, *LABELS])),
        st.tuples(st.just("drop"), st.integers(min_value=0, max_value=50), st.none()),
    ),
    max_size=40,
)


def busy_at(booked: list[tuple[int, Window]], label: int, instant: float) -> bool:
    return any(held == label and window.contains(instant) for held, window in booked)


def oracle_free(booked: list[tuple[int, Window]], label: int, window: Window) -> bool:
    """Free if no booking holds it at any instant (the half-steps included) of ``window``."""
    instants = [t / 2 for t in range(2 * int(window.start), 2 * int(window.end))]
    return label in LABELS and not any(busy_at(booked, label, t) for t in instants)


@settings(max_examples=400, deadline=None)
@given(steps)
def test_labels_are_never_shared_at_one_instant_and_refused_only_when_all_are_busy(
    plan: list[tuple[str, object, int | None]],
) -> None:
    booked: list[tuple[int, Window]] = []
    for action, value, wanted in plan:
        if action == "drop":
            assert isinstance(value, int)
            if booked:
                booked.pop(value % len(booked))
            continue
        assert isinstance(value, Window)
        label = free_label(LABELS, booked, value, wanted)
        candidates = [wanted] if wanted is not None else list(LABELS)
        free = [c for c in candidates if oracle_free(booked, c, value)]
        if label is None:
            assert free == []
        else:
            assert label == free[0]  # the lowest free one (or exactly the one asked for)
            booked.append((label, value))
        for t in INSTANTS:
            holders = [held for held, window in booked if window.contains(t)]
            assert len(holders) == len(set(holders))


def test_a_window_that_only_touches_another_may_share_its_label() -> None:
    booked = [(100, Window(0, 10))]
    assert free_label(LABELS, booked, Window(10, 20)) == 100
    assert free_label(LABELS, booked, Window(9, 20)) == 101
    assert free_label(range(100, 101), booked, Window(5, 6)) is None


def test_a_huge_key_range_answers_at_once() -> None:
    keys = range(0, 2**32)
    booked = [(k, Window(0, 10)) for k in range(1000)]
    assert free_label(keys, booked, Window(0, 1)) == 1000
    assert free_label(keys, booked, Window(0, 1), wanted=2**32 - 1) == 2**32 - 1
    assert free_label(keys, booked, Window(0, 1), wanted=2**32) is None
