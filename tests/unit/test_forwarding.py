"""Base forwarding, checked by sending packets through a fake network."""

from __future__ import annotations

import itertools

import networkx as nx
from hypothesis import given, settings
from hypothesis import strategies as st

from tegu_ryu.forwarding.base import plan_base_flows
from tegu_ryu.topology.model import PortState

from .fakenet import FakeNetwork
from .topologies import Builder, fat_tree


def ip_packet(dst_mac: str) -> dict[str, int | str]:
    return {"eth_type": 0x0800, "eth_dst": dst_mac}


def test_every_host_reaches_every_other_on_a_fat_tree() -> None:
    topology, _ = fat_tree(4)
    network = FakeNetwork(topology, plan_base_flows(topology))
    hosts = topology.hosts()
    assert len(hosts) == 16
    for src, dst in itertools.permutations(hosts, 2):
        trace = network.send(src.mac, ip_packet(dst.mac))
        assert trace.outcome == dst.mac, (src.mac, dst.mac, trace)


def test_paths_are_shortest_on_a_fat_tree() -> None:
    topology, _ = fat_tree(4)
    network = FakeNetwork(topology, plan_base_flows(topology))
    graph = topology.graph()
    for src, dst in itertools.permutations(topology.hosts(), 2):
        trace = network.send(src.mac, ip_packet(dst.mac))
        expected = nx.shortest_path_length(graph, src.attach.dpid, dst.attach.dpid)
        assert len(trace.links) == expected


def test_traffic_avoids_a_failed_link() -> None:
    topology, roles = fat_tree(4)
    before = FakeNetwork(topology, plan_base_flows(topology))
    src, dst = topology.hosts()[0], topology.hosts()[-1]
    used = before.send(src.mac, ip_packet(dst.mac)).links
    core_link = next(link for link in used if link.dst.dpid in roles["core"])
    topology.port_updated(core_link.src.dpid, PortState(port=core_link.src.port, up=False))
    after = FakeNetwork(topology, plan_base_flows(topology))
    trace = after.send(src.mac, ip_packet(dst.mac))
    assert trace.outcome == dst.mac
    assert core_link not in trace.links and core_link.reversed() not in trace.links
    for a, b in itertools.permutations(topology.hosts(), 2):
        assert after.send(a.mac, ip_packet(b.mac)).outcome == b.mac


def test_arp_and_unknown_destinations_go_to_the_controller() -> None:
    topology, _ = fat_tree(4)
    network = FakeNetwork(topology, plan_base_flows(topology))
    host = topology.hosts()[0]
    other = topology.hosts()[5]
    arp_to_known = {"eth_type": 0x0806, "eth_dst": other.mac}
    assert network.send(host.mac, arp_to_known).outcome == "controller"
    assert network.send(host.mac, ip_packet("02:00:00:00:00:99")).outcome == "controller"
    assert network.send(host.mac, arp_to_known).links == ()


def test_hosts_on_the_same_switch_talk_locally() -> None:
    builder = Builder()
    builder.link(1, 2)
    a = builder.host(1)
    b = builder.host(1)
    topology = builder.connect_all()
    trace = FakeNetwork(topology, plan_base_flows(topology)).send(a.mac, ip_packet(b.mac))
    assert trace.outcome == b.mac and trace.links == ()


def test_a_partitioned_host_is_unreachable_not_looping() -> None:
    builder = Builder()
    forward = builder.link(1, 2)
    builder.link(2, 3)
    a = builder.host(1)
    c = builder.host(3)
    topology = builder.connect_all()
    topology.port_updated(1, PortState(port=forward.src.port, up=False))
    trace = FakeNetwork(topology, plan_base_flows(topology)).send(a.mac, ip_packet(c.mac))
    assert trace.outcome in {"controller", "dropped"}


@st.composite
def random_networks(draw: st.DrawFn) -> Builder:
    """Connected random graphs with loops and parallel links, and hosts on random switches."""
    size = draw(st.integers(min_value=1, max_value=9))
    builder = Builder()
    for dpid in range(2, size + 1):
        builder.link(dpid, draw(st.integers(min_value=1, max_value=dpid - 1)))
    extra = draw(st.lists(st.tuples(st.integers(1, size), st.integers(1, size)), max_size=12))
    for a, b in extra:
        if a != b:
            builder.link(a, b)
    for dpid in draw(st.lists(st.integers(1, size), min_size=2, max_size=8)):
        builder.host(dpid)
    if size == 1:
        builder.topology.switch_connected(1, [])
    return builder


@settings(max_examples=150, deadline=None)
@given(random_networks(), st.data())
def test_random_networks_deliver_without_loops_even_after_failures(
    builder: Builder, data: st.DataObject
) -> None:
    topology = builder.connect_all()
    links = topology.links()
    for link in data.draw(st.lists(st.sampled_from(links), max_size=3)) if links else []:
        topology.port_updated(link.src.dpid, PortState(port=link.src.port, up=False))
    network = FakeNetwork(topology, plan_base_flows(topology))
    graph = topology.graph()
    for src, dst in itertools.permutations(topology.hosts(), 2):
        trace = network.send(src.mac, ip_packet(dst.mac))
        reachable = nx.has_path(graph, src.attach.dpid, dst.attach.dpid)
        assert trace.outcome == (dst.mac if reachable else "controller"), trace
        assert all(topology.link(lid).up for lid in trace.links)  # type: ignore[union-attr]
