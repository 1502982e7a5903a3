"""The incrementally kept desired state always equals planning everything from scratch."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from tegu_ryu.enforcement.desired import DesiredState
from tegu_ryu.enforcement.planner import MeterSettings, plan_switches
from tegu_ryu.errors import Conflict
from tegu_ryu.reservations.model import Match
from tegu_ryu.reservations.window import Window

from .test_engine import H1, H4, M, diamond, request

SETTINGS = MeterSettings()

steps = st.lists(
    st.one_of(
        st.tuples(
            st.just("create"),
            st.integers(1, 30),
            st.integers(0, 20),
            st.integers(1, 20),
            st.integers(1, 9),
        ),
        st.tuples(st.just("cancel"), st.integers(0, 20)),
        st.tuples(st.just("tick"), st.integers(0, 40)),
    ),
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(steps)
def test_incremental_updates_match_a_full_plan(trace: list[tuple[int | str, ...]]) -> None:
    engine, _ = diamond()
    desired = DesiredState(SETTINGS)
    now = 0
    port = 0
    for step in trace:
        if step[0] == "create":
            _, mbps, start, length, _ = step
            port += 1
            with contextlib.suppress(Conflict):
                engine.create(
                    now,
                    "acme",
                    request(
                        H1,
                        H4,
                        int(mbps) * M,
                        window=Window(now + int(start), now + int(start) + int(length)),
                        match=Match(protocol="tcp", dst_port=port),
                    ),
                )
        elif step[0] == "cancel":
            live = [r for r in engine.reservations.values() if not r.state.final]
            if live:
                engine.cancel(now, live[int(step[1]) % len(live)].id)
        else:
            now += int(step[1])
            engine.tick(now)
        desired.update(engine.topology, engine.reservations, engine.policy, paused=False)
        reference = plan_switches(
            engine.topology, engine.reservations.values(), engine.policy, SETTINGS
        )
        for dpid, switch in reference.switches.items():
            assert desired.flows.get(dpid, {}) == {f.key: f for f in switch.flows}
            assert desired.meters.get(dpid, {}) == {m.id: m for m in switch.meters}


def test_changes_are_reported_per_switch_until_taken() -> None:
    engine, _ = diamond()
    desired = DesiredState(SETTINGS)
    desired.update(engine.topology, engine.reservations, engine.policy, paused=False)
    assert desired.changed(1) is None  # the first plan: compare everything
    desired.taken(1, None, None)
    assert desired.changed(1) == (set(), set())
    engine.create(0, "acme", request(H1, H4, 5 * M))
    desired.update(engine.topology, engine.reservations, engine.policy, paused=False)
    keys, meters = desired.changed(1)  # type: ignore[misc]
    assert keys and meters
    desired.taken(1, keys, meters)
    assert desired.changed(1) == (set(), set())
    desired.compare_all(1)
    assert desired.changed(1) is None
