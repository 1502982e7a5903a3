"""The DSCP trust boundary and passthru reservations, on the fake network.

With ``dscp_policy = reset`` a marked packet from a host no reservation
claims arrives with DSCP 0; a passthru lets one host's (matching) traffic
keep its marking over the window, and only then.
"""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from typing import Any

import pytest

from tegu_ryu.enforcement.desired import DesiredState
from tegu_ryu.enforcement.planner import MeterSettings, plan_switches
from tegu_ryu.errors import Conflict, Forbidden, InvalidField
from tegu_ryu.reservations.memory_store import MemoryStore
from tegu_ryu.reservations.model import PassthruReservation, State
from tegu_ryu.reservations.policy import Fence, Policy
from tegu_ryu.reservations.service import ReservationService
from tegu_ryu.reservations.store import decode_reservation, encode_reservation
from tegu_ryu.tenancy import Principal
from tegu_ryu.topology.capacity import CapacityPolicy
from tegu_ryu.topology.model import Host

from .fakenet import FakeNetwork
from .topologies import Builder

SETTINGS = MeterSettings(reserved_burst_ms=100, best_effort_burst_kbit=200, overhead_percent=0)
ACME = Principal("acme", admin=False)
VOICE = 46


class Net:
    """s1 - s2: h1 (acme's) on s1, h2 (globex's) on s2."""

    def __init__(self, reset: bool = True) -> None:
        builder = Builder(CapacityPolicy(override_default=100 * 10**6))
        builder.link(1, 2)
        hosts = {"h1": (builder.host(1), "acme"), "h2": (builder.host(2), "globex")}
        builder.connect_all()
        self.hosts: dict[str, Host] = {}
        for name, (host, tenant) in hosts.items():
            self.hosts[name] = replace(host, name=name, tenant=tenant)
            builder.topology.add_static_host(self.hosts[name])
        self.reset = reset
        self.service = ReservationService(
            builder.topology, MemoryStore(), threading.RLock(), Policy(), 3600, reset_dscp=reset
        )

    def create(self, body: dict[str, Any], now: float = 0, who: Principal = ACME) -> Any:
        return self.service.create(who, body, now, lambda r: r)

    def passthru(self, now: float = 0, **fields: Any) -> Any:
        return self.create(
            {"type": "passthru", "host": "h1", "start": 0, "end": 100, **fields}, now
        )

    def arriving_dscp(
        self, sender: str, receiver: str, dst_port: int = 53, src_ip: str | None = None
    ) -> int:
        engine = self.service.engine
        plan = plan_switches(
            engine.topology, engine.reservations.values(), engine.policy, SETTINGS,
            reset_dscp=self.reset,
        )  # fmt: skip
        net = FakeNetwork(engine.topology, {d: sw.flows for d, sw in plan.switches.items()})
        packet = {
            "eth_type": 0x0800,
            "ipv4_src": src_ip or self.hosts[sender].ips[0],
            "ipv4_dst": self.hosts[receiver].ips[0],
            "ip_proto": 17,
            "udp_dst": dst_port,
            "ip_dscp": VOICE,
            "eth_src": self.hosts[sender].mac,
            "eth_dst": self.hosts[receiver].mac,
        }
        trace = net.send(self.hosts[sender].mac, packet)
        assert trace.outcome == self.hosts[receiver].mac
        return int(dict(trace.fields)["ip_dscp"])


def test_unreserved_markings_are_reset_where_traffic_enters_only_with_reset() -> None:
    assert Net(reset=True).arriving_dscp("h1", "h2") == 0
    assert Net(reset=False).arriving_dscp("h1", "h2") == VOICE


def test_a_passthru_keeps_one_hosts_matching_marking_for_its_window() -> None:
    net = Net()
    made = net.passthru(protocol="udp", dst_port=53)
    assert isinstance(made, PassthruReservation) and made.state is State.ACTIVE
    assert net.arriving_dscp("h1", "h2", dst_port=53) == VOICE
    assert net.arriving_dscp("h1", "h2", dst_port=54) == 0  # not the traffic it names
    assert net.arriving_dscp("h2", "h1", dst_port=53) == 0  # not its host
    net.service.tick(100, check_paths=True)
    assert net.service.engine.reservations[made.id].state is State.EXPIRED
    assert net.arriving_dscp("h1", "h2", dst_port=53) == 0  # reset again after the window


def test_a_passthru_by_source_address_keeps_only_packets_from_that_address() -> None:
    """Tegu's ``proto=udp:135.23.45.67:8800``: any address, matched as the packets' source."""
    net = Net()
    made = net.passthru(protocol="udp", dst_port=53, src_ip="135.23.45.67")
    assert made.src_ip == "135.23.45.67"
    assert net.arriving_dscp("h1", "h2", src_ip="135.23.45.67") == VOICE  # forwarded for it
    assert net.arriving_dscp("h1", "h2") == 0  # its own address is not the one named
    again = net.passthru(protocol="udp", dst_port=53)  # another source: not a duplicate
    assert again.src_ip is None
    with pytest.raises(Conflict) as duplicate:
        net.passthru(protocol="udp", dst_port=53, src_ip="135.23.45.67")
    assert duplicate.value.code == "duplicate"
    with pytest.raises(InvalidField) as bad:
        net.passthru(src_ip="135.23.45")
    assert bad.value.field == "src_ip"


def test_reservations_claim_their_traffic_before_the_reset() -> None:
    net = Net()
    body = {"src": "h1", "dst": "h2", "bandwidth": "1M", "duration": 100, "protocol": "udp"}
    net.create({**body, "dst_port": 53}, who=Principal("ops", admin=True))
    net.create({**body, "dst_port": 54, "dscp": "data"}, who=Principal("ops", admin=True))
    assert net.arriving_dscp("h1", "h2", dst_port=53) == VOICE  # reserved: its own marking
    assert net.arriving_dscp("h1", "h2", dst_port=54) == 18  # marked by the reservation
    assert net.arriving_dscp("h1", "h2", dst_port=55) == 0


def test_passthrus_are_refused_where_they_mean_nothing_or_are_not_yours() -> None:
    with pytest.raises(Conflict) as kept:
        Net(reset=False).passthru()
    assert kept.value.code == "dscp_policy" and "keep" in kept.value.message
    net = Net()
    with pytest.raises(Forbidden):
        net.passthru(host="h2")
    net.service.engine.fences["acme"] = Fence(bps=0)
    with pytest.raises(Conflict) as fenced:
        net.passthru()
    assert fenced.value.code == "fence" and "user link capacity <= 0" in fenced.value.message
    del net.service.engine.fences["acme"]
    first = net.passthru(protocol="tcp")
    with pytest.raises(Conflict) as duplicate:
        net.passthru(protocol="tcp")
    assert duplicate.value.code == "duplicate" and first.id in duplicate.value.message
    assert net.passthru(protocol="udp").id != first.id


def test_a_passthru_is_stored_whole_and_planned_incrementally_as_in_full() -> None:
    net = Net()
    made = net.passthru(protocol="udp", dst_port=53, name="keep voice")
    assert decode_reservation(json.loads(json.dumps(encode_reservation(made)))) == made
    assert net.service.store.load().reservations == [made]
    engine = net.service.engine
    desired = DesiredState(SETTINGS, reset_dscp=True)
    desired.update(engine.topology, engine.reservations, engine.policy, paused=False)
    engine.cancel(1, made.id)
    desired.update(engine.topology, engine.reservations, engine.policy, paused=False)
    full = plan_switches(
        engine.topology, engine.reservations.values(), engine.policy, SETTINGS, reset_dscp=True
    )
    for dpid, switch in full.switches.items():
        assert set(desired.flows[dpid].values()) == set(switch.flows)
