"""Switches that enforce without meters: linux-htb queues (set_queue in the flows, Queue rows
for OVSDB) or DSCP marks, chosen per switch from what it can do and the settings."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tegu_ryu.enforcement.backends import MeterFeatures, SwitchFacts, choose
from tegu_ryu.enforcement.desired import DesiredState
from tegu_ryu.enforcement.planner import plan_switches, reservation_meter_id
from tegu_ryu.enforcement.row_plan import plan_rows
from tegu_ryu.enforcement.unmetered import DEFAULT_DSCP, queue_id
from tegu_ryu.ovsdb.rows import PortQueues, QueueRow
from tegu_ryu.reservations.lifecycle import Lifecycle
from tegu_ryu.reservations.model import Direction, Match
from tegu_ryu.reservations.window import Window

from .fakenet import FakeNetwork
from .test_enforcement import SETTINGS, hosts, tcp, udp
from .test_engine import H1, H4, M, diamond, request

NO_METERS = MeterFeatures(0, False, False, False)


def test_auto_picks_queues_only_where_they_work_and_says_why() -> None:
    kernel = choose(SwitchFacts(meters=NO_METERS, datapath_type="system"), "auto")
    assert kernel.name == "queues" and "linux-htb" in kernel.reason
    userspace = choose(SwitchFacts(meters=NO_METERS, datapath_type="netdev"), "auto")
    assert userspace.name == "none" and "police nothing on the netdev datapath" in userspace.reason
    unknown = choose(SwitchFacts(meters=NO_METERS), "auto")
    assert unknown.name == "none" and "OVSDB server or agent" in unknown.reason
    metered = MeterFeatures(100, True, True, True)
    assert choose(SwitchFacts(meters=metered, datapath_type="netdev"), "auto").name == "meters"


def test_configured_queues_need_ovsdb_and_warn_on_the_userspace_datapath() -> None:
    assert choose(SwitchFacts(), "queues").name == "none"
    userspace = choose(SwitchFacts(datapath_type="netdev"), "queues")
    assert userspace.name == "queues" and "ignores set_queue" in userspace.reason
    assert choose(SwitchFacts(datapath_type="system"), "queues").reason.endswith("through OVSDB")
    assert choose(SwitchFacts(), "dscp").name == "dscp"


def test_on_a_queue_switch_reserved_traffic_picks_its_queue_and_best_effort_is_not_metered() -> (
    None
):
    engine, links = diamond()
    reservation = engine.create(
        0, "acme", request(H1, H4, 20 * M, 5 * M, match=Match(protocol="tcp", dst_port=5001))
    )
    modes = {1: "queues", 2: "queues"}
    plan = plan_switches(
        engine.topology, engine.reservations.values(), engine.policy, SETTINGS, modes=modes
    )
    fake = FakeNetwork(engine.topology, {d: sw.flows for d, sw in plan.switches.items()})
    h1, h4 = hosts(engine)
    trace = fake.send(h1, tcp(5001, h4))
    assert trace.outcome == h4 and trace.links == (links["1-2"], links["2-4"])
    queue = queue_id(reservation)
    assert trace.queues == ((1, links["1-2"].src.port, queue), (2, links["2-4"].src.port, queue))
    assert trace.meters == ()  # s1 is in queue mode: no reservation meter there
    assert not plan.switches[1].meters and not plan.switches[2].meters
    back = fake.send(h4, tcp(5001, h1, src=H4, dst=H1) | {"tcp_dst": 0, "tcp_src": 5001})
    assert back.meters == ((4, reservation_meter_id(reservation, Direction.IN)),)  # s4 meters
    best_effort = fake.send(h1, udp(h4))
    assert best_effort.outcome == h4 and best_effort.queues == ()
    assert [dpid for dpid, _ in best_effort.meters] == [4]  # only s4's best-effort meter


def test_queue_rows_sit_on_every_queue_mode_egress_port_with_the_reserved_rates() -> None:
    engine, links = diamond()
    reservation = engine.create(0, "acme", request(H1, H4, 20 * M, 5 * M))
    capacity = engine.topology.view().capacity_of
    rows = plan_rows(engine.reservations.values(), {1: False, 4: True}, capacity)
    queue = queue_id(reservation)
    port_12, h1_port = links["1-2"].src.port, engine.topology.hosts()[0].attach.port
    # out toward s2 at 20M, in toward h1 at 5M, capped at the rate; queue 0 gets the rest
    assert rows[1].queues == {
        port_12: PortQueues(
            port_12,
            50 * M,
            (QueueRow(0, 30 * M, 50 * M, ""), QueueRow(queue, 20 * M, 20 * M, reservation.id)),
        ),
        h1_port: PortQueues(
            h1_port,
            10**10,
            (
                QueueRow(0, 10**10 - 5 * M, 10**10, ""),
                QueueRow(queue, 5 * M, 5 * M, reservation.id),
            ),
        ),
    }
    into_h4 = rows[4].queues[engine.topology.hosts()[1].attach.port]
    assert into_h4.queues[1:] == (QueueRow(queue, 20 * M, 10**10, reservation.id),)  # borrows
    back = rows[4].queues[links["2-4"].dst.port]  # toward s2, the way back
    assert back.queues[1:] == (QueueRow(queue, 5 * M, 50 * M, reservation.id),)
    assert 2 not in rows  # s2 meters


def test_queues_exist_while_the_reservation_is_active_and_collisions_share_one() -> None:
    engine, links = diamond()
    lifecycle = Lifecycle(engine)
    later = engine.create(0, "acme", request(H1, H4, 10 * M, window=Window(50, 100)))
    capacity = engine.topology.view().capacity_of
    assert plan_rows(engine.reservations.values(), {1: False}, capacity) == {}
    lifecycle.tick(60)
    assert plan_rows(engine.reservations.values(), {1: False}, capacity) != {}
    active = engine.reservations[later.id]
    twin = replace(active, id="twin", serial=active.serial + 0xF000 - 1)
    assert queue_id(twin) == queue_id(active)
    queues = plan_rows([active, twin], {1: False}, capacity)[1].queues[links["1-2"].src.port]
    best_effort, shared = queues.queues
    assert shared.min_rate == 20 * M  # both reservations' rates in the one queue
    assert best_effort == QueueRow(0, 30 * M, 50 * M, "")


def test_on_a_dscp_switch_reserved_traffic_is_marked_not_metered() -> None:
    engine, _ = diamond()
    engine.create(0, "acme", request(H1, H4, 20 * M, match=Match(protocol="tcp", dst_port=5001)))
    plan = plan_switches(
        engine.topology, engine.reservations.values(), engine.policy, SETTINGS, modes={1: "dscp"}
    )
    fake = FakeNetwork(engine.topology, {d: sw.flows for d, sw in plan.switches.items()})
    h1, h4 = hosts(engine)
    trace = fake.send(h1, tcp(5001, h4))
    assert trace.meters == () and dict(trace.fields)["ip_dscp"] == DEFAULT_DSCP


@pytest.mark.parametrize("modes", [{1: "queues"}, {1: "dscp", 4: "queues"}])
def test_the_incremental_desired_state_equals_the_full_plan_with_modes(
    modes: dict[int, str],
) -> None:
    engine, _ = diamond()
    lifecycle = Lifecycle(engine)
    desired = DesiredState(SETTINGS)
    desired.update(engine.topology, engine.reservations, engine.policy, False, modes=modes)
    engine.create(0, "acme", request(H1, H4, 20 * M, match=Match(protocol="tcp", dst_port=1)))
    engine.create(0, "acme", request(H1, H4, 10 * M, window=Window(50, 100)))
    for now in (0, 60):
        lifecycle.tick(now)
        desired.update(engine.topology, engine.reservations, engine.policy, False, modes=modes)
        full = plan_switches(
            engine.topology, engine.reservations.values(), engine.policy, SETTINGS, modes=modes
        )
        for dpid, switch in full.switches.items():
            assert desired.flows.get(dpid, {}) == {f.key: f for f in switch.flows}
            assert desired.meters.get(dpid, {}) == {m.id: m for m in switch.meters}
