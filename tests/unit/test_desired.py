"""The incrementally kept desired state always equals planning everything from scratch."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from tegu_ryu.enforcement.desired import DesiredState
from tegu_ryu.enforcement.planner import MeterSettings, plan_switches
from tegu_ryu.errors import Conflict
from tegu_ryu.openflow.flows import Flow, FlowKey, Meter
from tegu_ryu.reservations.lifecycle import Lifecycle
from tegu_ryu.reservations.model import Match
from tegu_ryu.reservations.window import Window
from tegu_ryu.topology.model import PortState
from tegu_ryu.topology.refs import PortRef

from .test_engine import H1, H4, M, diamond, request

SETTINGS = MeterSettings()
LINK_NAMES = ["1-2", "2-4", "1-3", "3-5", "5-4"]

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
        st.tuples(st.just("port"), st.sampled_from(LINK_NAMES), st.booleans()),
        st.tuples(st.just("host moves"), st.integers(5, 7)),
        st.tuples(st.just("channel lost"), st.integers(1, 5)),
    ),
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(steps)
def test_incremental_updates_match_a_full_plan(trace: list[tuple[int | str, ...]]) -> None:
    engine, links = diamond()
    lifecycle = Lifecycle(engine)
    desired = DesiredState(SETTINGS)
    held: dict[int, tuple[dict[FlowKey, Flow], dict[int, Meter]]] = {}
    now = 0
    port = 0
    version = -1  # nothing planned yet: the first update compares everything
    for step in trace:
        if step[0] == "port":  # a link's port goes down or comes back
            link = links[str(step[1])]
            engine.topology.port_updated(link.src.dpid, PortState(link.src.port, up=bool(step[2])))
            lifecycle.tick(now)
        elif step[0] == "host moves":
            engine.topology.host_seen("00:00:00:00:00:02", PortRef(4, int(step[1])), None)
            lifecycle.tick(now)
        elif step[0] == "channel lost":
            engine.topology.switch_disconnected(int(step[1]), now)
            engine.topology.expire(now + engine.topology.control_grace)
            lifecycle.tick(now)
        elif step[0] == "create":
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
            lifecycle.tick(now)
        desired.update(  # told only what changed, as the controller does
            engine.topology,
            engine.reservations,
            engine.policy,
            paused=False,
            changed=engine.changed_since(version),
        )
        version = engine.version
        reference = plan_switches(
            engine.topology, engine.reservations.values(), engine.policy, SETTINGS
        )
        for dpid in set(reference.switches) | set(desired.flows) | set(desired.meters):
            switch = reference.switches.get(dpid)
            assert desired.flows.get(dpid, {}) == {
                f.key: f for f in (switch.flows if switch else ())
            }
            assert desired.meters.get(dpid, {}) == {
                m.id: m for m in (switch.meters if switch else ())
            }
        follow(desired, held)
        for dpid in desired.flows:
            assert held[dpid] == (desired.flows[dpid], desired.meters.get(dpid, {}))


def follow(
    desired: DesiredState,
    held: dict[int, tuple[dict[FlowKey, Flow], dict[int, Meter]]],
) -> None:
    """Play a switch that is told only what changed: it must end up holding the desired state."""
    for dpid in set(desired.flows) | set(desired.meters):
        flows, meters = held.setdefault(dpid, ({}, {}))
        changed = desired.changed(dpid)
        keys, ids = changed if changed is not None else (set(flows), set(meters))
        if changed is None:
            keys |= set(desired.flows.get(dpid, {}))
            ids |= set(desired.meters.get(dpid, {}))
        for key in keys:
            want = desired.flows.get(dpid, {}).get(key)
            if want is None:
                flows.pop(key, None)
            else:
                flows[key] = want
        for meter_id in ids:
            meter = desired.meters.get(dpid, {}).get(meter_id)
            if meter is None:
                meters.pop(meter_id, None)
            else:
                meters[meter_id] = meter
        desired.taken(dpid, *(changed if changed is not None else (None, None)))


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
