"""The topology model, the static topology file and where capacities come from."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tegu_ryu.forwarding.base import plan_base_flows
from tegu_ryu.topology.capacity import CapacityConfigError, CapacityPolicy
from tegu_ryu.topology.model import PortState, Topology
from tegu_ryu.topology.refs import LinkId, PortRef
from tegu_ryu.topology.static import (
    StaticTopologyError,
    apply_static_topology,
    load_static_topology,
)

CONF = Path(__file__).resolve().parents[2] / "conf"

S1, S2, S3 = "0000000000000001", "0000000000000002", "0000000000000003"


def test_the_sample_static_topology_loads_links_in_both_directions() -> None:
    topology = Topology()
    load_static_topology(CONF / "static-topology.json", topology)
    links = {str(link.id): link for link in topology.links()}
    assert links[f"{S1}:3->{S2}:3"].capacity_bps == 50_000_000
    assert links[f"{S2}:3->{S1}:3"].capacity_bps == 50_000_000
    assert links[f"{S1}:4->{S3}:4"].capacity_bps == 10**9
    assert f"{S3}:4->{S1}:4" not in links  # declared one-way
    assert len(links) == 5
    assert all(link.up and link.static for link in links.values())
    h3 = topology.host_by_ip("fd00::3")
    assert h3 is not None and h3.name == "h3" and h3.attach == PortRef(2, 1)
    assert topology.switch_ids() == [1, 2, 3]
    assert [p.port for p in topology.ports(1)] == [1, 2, 3, 4]


@pytest.mark.parametrize(
    ("document", "where"),
    [
        ([], "top level"),
        ({"switches": [S1], "extra": 1}, "unknown top-level"),
        ({"switches": ["nope"]}, "switches[0]"),
        ({"switches": [S1], "links": [{"src": f"{S1}:1", "dst": f"{S2}:1"}]}, "not declared"),
        (
            {
                "switches": [S1, S2],
                "links": [{"src": f"{S1}:1", "dst": f"{S2}:1", "capacity": "lots"}],
            },
            "links[0].capacity",
        ),
        ({"switches": [S1, S2], "links": [{"src": f"{S1}:1", "dst": f"{S1}:2"}]}, "two different"),
        ({"switches": [S1], "hosts": [{"mac": "zz", "attach": f"{S1}:1"}]}, "hosts[0].mac"),
        (
            {
                "switches": [S1],
                "hosts": [{"mac": "00:00:00:00:00:01", "attach": f"{S1}:1", "ips": ["10.0.0.300"]}],
            },
            "hosts[0].ips",
        ),
        ({"switches": [S1], "hosts": [{"mac": "00:00:00:00:00:01"}]}, "hosts[0].attach"),
    ],
)
def test_bad_static_topologies_say_where_and_change_nothing(document: object, where: str) -> None:
    topology = Topology()
    with pytest.raises(StaticTopologyError, match=re.escape(where)):
        apply_static_topology(document, topology)
    assert topology.switch_ids() == [] and topology.links() == [] and topology.hosts() == []


def test_unreadable_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(StaticTopologyError, match="cannot read"):
        load_static_topology(tmp_path / "missing.json", Topology())
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(StaticTopologyError, match=r"broken\.json: not valid JSON"):
        load_static_topology(broken, Topology())


def test_capacity_precedence() -> None:
    port = PortRef(1, 3)
    policy = CapacityPolicy.from_config([f"{port}=50M"], "200M", "1G")
    assert policy.capacity(port, declared_bps=7, reported_speed_bps=10**10) == 50_000_000
    other = PortRef(1, 4)
    assert policy.capacity(other, declared_bps=7, reported_speed_bps=10**10) == 7
    assert policy.capacity(other, declared_bps=None, reported_speed_bps=10**10) == 200_000_000
    plain = CapacityPolicy.from_config([], None, "1G")
    assert plain.capacity(other, None, 10**10) == 10**10
    assert plain.capacity(other, None, None) == 10**9


@pytest.mark.parametrize(
    ("overrides", "default", "fallback"),
    [
        (["1:3"], None, "1G"),
        (["1:3=fast"], None, "1G"),
        (["nope=5M"], None, "1G"),
        ([], "x", "1G"),
        ([], None, ""),
    ],
)
def test_bad_capacity_configuration_is_refused(
    overrides: list[str], default: str | None, fallback: str
) -> None:
    with pytest.raises(CapacityConfigError):
        CapacityPolicy.from_config(overrides, default, fallback)


def test_a_link_is_down_when_either_port_is_down_and_capacity_follows_port_speed() -> None:
    topology = Topology()
    topology.switch_connected(1, [PortState(port=1, speed_bps=10**8)])
    topology.switch_connected(2, [PortState(port=1, speed_bps=10**7)])
    forward = LinkId(PortRef(1, 1), PortRef(2, 1))
    topology.link_discovered(forward)
    topology.link_discovered(forward.reversed())
    assert topology.link(forward).capacity_bps == 10**8  # type: ignore[union-attr]
    assert topology.link(forward.reversed()).capacity_bps == 10**7  # type: ignore[union-attr]
    version = topology.version
    topology.port_updated(2, PortState(port=1, up=False, speed_bps=10**7))
    assert topology.version > version
    assert not topology.link(forward).up  # type: ignore[union-attr]
    assert topology.graph().number_of_edges() == 0


def test_discovered_links_go_with_their_switch_after_its_grace_but_static_ones_stay() -> None:
    topology = Topology(control_grace=30)
    apply_static_topology(
        {"switches": [S1, S2], "links": [{"src": f"{S1}:1", "dst": f"{S2}:1"}]}, topology
    )
    discovered = LinkId(PortRef(1, 2), PortRef(3, 1))
    topology.switch_connected(1, [PortState(port=1), PortState(port=2)])
    topology.switch_connected(3, [PortState(port=1)])
    topology.link_discovered(discovered)
    topology.switch_disconnected(1, now=100)
    assert not topology.is_connected(1) and topology.grace_until(1) == 130
    assert topology.link(discovered).up  # type: ignore[union-attr]
    assert not topology.expire(now=129)
    assert topology.expire(now=130)
    ids = {link.id for link in topology.links()}
    assert discovered not in ids
    assert LinkId(PortRef(1, 1), PortRef(2, 1)) in ids
    assert 1 in topology.switch_ids()  # declared statically, stays a node


def two_switches_linked() -> tuple[Topology, LinkId]:
    """Switches 1 and 2, connected, a 30 s control grace, and LLDP's link 1:2 -> 2:1."""
    topology = Topology(control_grace=30)
    link = LinkId(PortRef(1, 2), PortRef(2, 1))
    topology.switch_connected(1, [PortState(port=2)])
    topology.switch_connected(2, [PortState(port=1)])
    topology.link_discovered(link)
    return topology, link


def test_a_reconnect_within_the_grace_moves_nothing_and_lldp_confirms() -> None:
    topology = Topology(control_grace=30)
    link = LinkId(PortRef(1, 2), PortRef(2, 1))
    topology.switch_connected(1, [PortState(port=1), PortState(port=2)])
    topology.switch_connected(2, [PortState(port=1)])
    topology.link_discovered(link)
    topology.link_discovered(link.reversed())
    before = topology.view().up
    topology.switch_disconnected(1, now=100)
    topology.link_lost(link, now=101)  # LLDP cannot see it while the switch is away
    topology.link_lost(link.reversed(), now=101)
    topology.switch_connected(1, [PortState(port=1), PortState(port=2)])
    assert topology.view().up == before
    topology.link_discovered(link)  # LLDP sees it again; the other way it never does
    topology.expire(now=129)
    assert topology.view().up == before
    topology.expire(now=131)
    assert topology.view().up == {link}  # the one LLDP never found again went down


def test_a_port_reported_down_takes_its_link_down_at_once_even_in_grace() -> None:
    topology, link = two_switches_linked()
    topology.switch_disconnected(1, now=100)
    topology.port_updated(2, PortState(port=1, up=False))  # the neighbour saw the cable go
    assert not topology.link(link).up  # type: ignore[union-attr]


def test_a_link_lost_outside_any_grace_goes_down_at_once() -> None:
    topology, link = two_switches_linked()
    topology.link_lost(link, now=100)
    assert not topology.link(link).up  # type: ignore[union-attr]


def test_hosts_never_attach_to_link_ports_and_move_when_seen_elsewhere() -> None:
    topology = Topology()
    topology.switch_connected(1, [PortState(port=1), PortState(port=2)])
    topology.switch_connected(2, [PortState(port=1)])
    assert topology.host_seen("0a:00:00:00:00:01", PortRef(1, 2), "10.0.0.1")
    topology.link_discovered(LinkId(PortRef(1, 2), PortRef(2, 1)))
    assert topology.host_by_mac("0a:00:00:00:00:01") is None  # was learnt on what is a link
    assert not topology.host_seen("0a:00:00:00:00:01", PortRef(1, 2), "10.0.0.1")
    assert topology.host_seen("0a:00:00:00:00:01", PortRef(1, 1), "10.0.0.1")
    assert topology.host_seen("0a:00:00:00:00:01", PortRef(2, 5), None)
    assert topology.host_by_mac("0a:00:00:00:00:01").attach == PortRef(2, 5)  # type: ignore[union-attr]


def test_an_address_moving_to_another_mac_leaves_the_old_one() -> None:
    topology = Topology()
    topology.host_seen("0a:00:00:00:00:01", PortRef(1, 1), "10.0.0.1")
    topology.host_seen("0a:00:00:00:00:02", PortRef(1, 2), "10.0.0.1")
    assert topology.host_by_ip("10.0.0.1").mac == "0a:00:00:00:00:02"  # type: ignore[union-attr]
    assert topology.host_by_mac("0a:00:00:00:00:01").ips == ()  # type: ignore[union-attr]


def test_a_lost_link_stays_visible_as_down_until_replaced() -> None:
    topology = Topology()
    topology.switch_connected(1, [PortState(port=1)])
    topology.switch_connected(2, [PortState(port=1)])
    topology.switch_connected(3, [PortState(port=1)])
    old = LinkId(PortRef(1, 1), PortRef(2, 1))
    topology.link_discovered(old)
    topology.link_lost(old, now=0)
    assert [(link.id, link.up) for link in topology.links()] == [(old, False)]
    assert not topology.is_link_port(PortRef(1, 1))  # a host may be plugged in there now
    topology.link_discovered(old)
    assert topology.link(old).up  # type: ignore[union-attr]
    topology.link_lost(old, now=0)
    moved = LinkId(PortRef(1, 1), PortRef(3, 1))
    topology.link_discovered(moved)
    assert [link.id for link in topology.links()] == [moved]


def test_an_expected_link_makes_its_switches_nodes_and_goes_with_a_switch_that_never_returns() -> (
    None
):
    topology = Topology(control_grace=30)
    link = LinkId(PortRef(1, 2), PortRef(2, 1))
    topology.expect_link(link, until=130)  # a restarted controller's stored path
    topology.expect_link(link.reversed(), until=130)
    assert topology.switch_ids() == [1, 2] and topology.view().up == {link, link.reversed()}
    topology.switch_connected(1, [PortState(port=1), PortState(port=2)])
    topology.host_seen("0a:00:00:00:00:01", PortRef(1, 1), "10.0.0.1")
    assert plan_base_flows(topology)  # every switch of the graph is planned (no KeyError)
    topology.expire(now=131)  # switch 2 never came back
    assert topology.switch_ids() == [1] and topology.links() == []


def test_a_link_held_in_one_grace_stays_up_through_a_later_one() -> None:
    topology, link = two_switches_linked()
    topology.switch_disconnected(1, now=0)
    topology.link_lost(link, now=1)  # held until 30
    topology.switch_connected(1, [PortState(port=2)])
    topology.switch_disconnected(1, now=20)  # lost again before LLDP confirmed: grace to 50
    topology.switch_connected(1, [PortState(port=2)])
    topology.expire(now=35)
    assert topology.link(link).up  # type: ignore[union-attr]
    topology.expire(now=51)  # LLDP never found it again
    assert not topology.link(link).up  # type: ignore[union-attr]
