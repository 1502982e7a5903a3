"""A reservation that is admitted is carried: its flows win on the switches.

Two reservations whose flows would be the same entries on a switch (the
same match at the same priority) cannot both be enforced; the planner then
enforces the older one and marks the other ``error``. Admission must refuse
the second instead (``409 duplicate`` or the kind's own overlap code), for
every kind and every owner. Random pairs and triples of requests of every
kind are admitted side by side; every one admitted must show ``installed``
once the switches confirm, and its traffic must be treated, on the flows the
switches hold: a bandwidth reservation's packet passes its own meter, a
chain's packet reaches its first middlebox, a mirror's copy its collector.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tegu_ryu.enforcement.planner import serial_of_meter
from tegu_ryu.errors import RequestError
from tegu_ryu.reservations.model import (
    BandwidthReservation,
    MirrorReservation,
    Reservation,
    SteeringReservation,
)
from tegu_ryu.tenancy import Principal

from .fakenet import FakeNetwork, Headers
from .test_controller import confirm, connected

OPS = Principal("ops", admin=True)
ACME = Principal("acme", admin=False)
HOSTS = ("h1", "h2", "h3", "h4")
ADDRESSES = {"h1": "10.0.0.1", "h2": "10.0.0.2", "h3": "10.0.0.3", "h4": "10.0.0.4"}
MACS = {name: f"00:00:00:00:00:0{name[1]}" for name in HOSTS}

hosts = st.sampled_from(HOSTS)
traffic = st.sampled_from(
    [{}, {"protocol": "tcp"}, {"protocol": "udp", "dst_port": 9}, {"dst_port": 9}]
)


@st.composite
def requests(draw: st.DrawFn) -> tuple[Principal, dict[str, Any]]:
    """A request of any kind between the sample topology's hosts, by an admin or by acme."""
    who = draw(st.sampled_from([OPS, ACME]))
    src, dst, other = draw(st.permutations(HOSTS))[:3]
    window = {"start": draw(st.integers(0, 2)), "duration": 600}
    kind = draw(st.sampled_from(["bandwidth", "oneway", "mirror", "steering", "passthru"]))
    if kind in ("bandwidth", "oneway"):
        body = {"type": kind, "src": src, "dst": dst, "bandwidth": "1M", **draw(traffic)}
    elif kind == "mirror":
        body = {
            "type": "mirror",
            "ports": [src],
            "output": other,
            "direction": draw(st.sampled_from(["ingress", "egress", "both"])),
        }
    elif kind == "steering":
        body = {"type": "steering", "src": src, "dst": dst, "chain": [other], **draw(traffic)}
    else:
        body = {"type": "passthru", "host": src, **draw(traffic)}
    return who, {**body, **window}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(requests(), min_size=2, max_size=3))
def test_every_reservation_admitted_side_by_side_is_installed_and_carried(
    asked: list[tuple[Principal, dict[str, Any]]],
) -> None:
    controller = connected(reset_dscp=True)  # so that passthru is admitted
    admitted: list[Reservation] = []
    for who, body in asked:
        try:
            made = controller.reservations.create(who, body, now=3, reply=lambda r: r)
        except RequestError:
            continue
        admitted.append(made)
    confirm(controller, now=3)
    for made in admitted:
        status = controller.enforcement(controller.reservations.get(OPS, made.id))
        assert status["status"] == "installed", (made.id, made.type, status, asked)
    held = {
        dpid: list(switch.sync.installed_flows()) for dpid, switch in controller.switches.items()
    }
    network = FakeNetwork(controller.topology, held)
    for made in admitted:
        if isinstance(made, BandwidthReservation):
            assert _metered_by_itself(network, made), f"{made.id} {asked}"
        elif isinstance(made, SteeringReservation):
            assert _reaches_the_chain(network, made), f"{made.id} {asked}"
        elif isinstance(made, MirrorReservation):
            assert _copied(network, made), f"{made.id} {asked}"


def _packet(src: str, dst: str, protocol: str = "icmp", dst_port: int = 7777) -> Headers:
    packet: Headers = {
        "eth_type": 0x0800,
        "eth_src": MACS[src],
        "eth_dst": MACS[dst],
        "ipv4_src": ADDRESSES[src],
        "ipv4_dst": ADDRESSES[dst],
        "ip_proto": {"icmp": 1, "tcp": 6, "udp": 17}[protocol],
    }
    if protocol != "icmp":
        packet[f"{protocol}_src"] = 5000
        packet[f"{protocol}_dst"] = dst_port
    return packet


def _reaches_the_chain(network: FakeNetwork, chain: SteeringReservation) -> bool:
    """Whether a packet the chain selects reaches its first middlebox."""
    assert chain.src is not None and chain.dst is not None
    src, dst = chain.src.given, chain.dst.given
    traffic = chain.match
    protocol = traffic.protocol or ("udp" if traffic.dst_port else "icmp")
    packet = _packet(src, dst, protocol, traffic.dst_port or 7777)
    first = chain.chain[0].given
    return MACS[first] in {t.outcome for t in network.deliveries(MACS[src], packet)}


def _copied(network: FakeNetwork, mirror: MirrorReservation) -> bool:
    """Whether what the mirrored host sends (ingress) or receives (egress) reaches the
    collector, from or to a host that is neither."""
    (port,) = mirror.ports
    host, collector = port.given, mirror.output.given  # as the requests name them
    peer = next(name for name in HOSTS if name not in (host, collector))
    src, dst = (host, peer) if mirror.direction.ingress else (peer, host)
    outcomes = {t.outcome for t in network.deliveries(MACS[src], _packet(src, dst))}
    return MACS[collector] in outcomes


def _metered_by_itself(network: FakeNetwork, reservation: BandwidthReservation) -> bool:
    """Whether a packet of the reservation's traffic, src to dst, passes its own meter.

    The packet is one that only this reservation's match selects among the
    requests drawn (a narrower reservation rightly carries its own traffic).
    """
    src, dst = reservation.src.given, reservation.dst.given
    packet: dict[str, int | str] = {
        "eth_type": 0x0800,
        "eth_src": MACS[src],
        "eth_dst": MACS[dst],
        "ipv4_src": ADDRESSES[src],
        "ipv4_dst": ADDRESSES[dst],
    }
    traffic = reservation.match
    if traffic.protocol is None and traffic.dst_port is None:
        packet["ip_proto"] = 1  # what no narrower reservation of these requests claims
    else:
        protocol = traffic.protocol or "udp"
        packet["ip_proto"] = 6 if protocol == "tcp" else 17
        packet[f"{protocol}_src"] = 5000
        packet[f"{protocol}_dst"] = traffic.dst_port or 7777
    trace = network.send(MACS[src], packet)
    owners = {serial_of_meter(meter) for _, meter in trace.meters}
    return reservation.serial in owners
