"""A flapping control channel must not cost a tenant a reservation (real ovs-vswitchd).

Four bridges in a line, c1 - c2 - c3 - c4, h1 on c1 and h4 on c4, every link
discovered by LLDP (only the switches and hosts are declared). Reservations cross all
four. Then switches lose their controller and get it back: one at a time,
and in a storm of ``del-controller``/``set-controller`` on several bridges.
What must hold: every switch ends connected and synced, every link up, no
reservation degraded, and every reservation flow in place.

Two ways to lose the channel, because Open vSwitch treats them differently:
pointing a bridge at a port nobody listens on drops the connection as a
network fault would, and the bridge keeps its flows (fail_mode secure), so
nothing may be reinstalled anywhere (a flow's age on the switch shows it was
never taken off); ``del-controller`` makes the bridge flush its flows itself,
so the controller must put them back when it reconnects, and touch no other
switch.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from controller_process import ControllerProcess
from privateovs import DumpedFlow, PrivateOvs

from tegu_ryu.openflow.flows import Layer, cookie_layer

pytestmark = pytest.mark.ovs

BRIDGES = {"c1": 0x21, "c2": 0x22, "c3": 0x23, "c4": 0x24}
STATIC = {
    "switches": ["21", "22", "23", "24"],
    "hosts": [
        {"name": "h1", "mac": "00:00:00:00:01:01", "ips": ["10.1.0.1"], "attach": "21:1"},
        {"name": "h4", "mac": "00:00:00:00:01:04", "ips": ["10.1.0.4"], "attach": "24:1"},
    ],
}
LINKS = 6  # three patch links, both directions


@dataclass
class Line:
    ovs: PrivateOvs
    controller: ControllerProcess
    reservations: list[str]

    def reservation_flows(self, bridge: str) -> list[DumpedFlow]:
        return [f for f in self.ovs.flows(bridge) if cookie_layer(f.cookie) is Layer.RESERVATION]

    def topology(self) -> dict[str, Any]:
        status, topology = self.controller.get("/v1/topology")
        assert status == 200
        return dict(topology)

    def switch(self, dpid: str) -> dict[str, Any]:
        return dict(next(s for s in self.topology()["switches"] if s["dpid"] == dpid))

    def settled(self) -> bool:
        topology = self.topology()
        switches = [s for s in topology["switches"] if s["dpid"] in DPIDS]
        return (
            len(switches) == 4
            and all(s["connected"] and s["sync"] == "synced" for s in switches)
            and sum(link["up"] for link in topology["links"]) == LINKS
        )

    def states(self) -> dict[str, tuple[str, str]]:
        found = {}
        for rid in self.reservations:
            reservation = self.controller.request("GET", f"/v1/reservations/{rid}")[1]
            found[rid] = (reservation["state"], reservation["enforcement"]["status"])
        return found

    def set_controller(self, bridge: str) -> None:
        self.ovs.vsctl("set-controller", bridge, f"tcp:127.0.0.1:{self.controller.of_port}")


DPIDS = {f"{dpid:016x}" for dpid in BRIDGES.values()}


@pytest.fixture(scope="module")
def line(ovs: PrivateOvs, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Line]:
    workdir = tmp_path_factory.mktemp("control-channel")
    controller = ControllerProcess(
        workdir,
        topology=STATIC,
        options={
            "capacity_override_default": "1G",
            "resync_interval": "1",
            "discovery_settle": "1",
            "control_grace": "30",
        },
    )
    controller.start()
    for name, dpid in BRIDGES.items():
        ovs.add_bridge(name, dpid, controller.of_port)
    ovs.add_host_port("c1", "c1-h1", 1)
    ovs.add_host_port("c4", "c4-h4", 1)
    ovs.add_patch("c1", 2, "c2", 2)
    ovs.add_patch("c2", 3, "c3", 2)
    ovs.add_patch("c3", 3, "c4", 2)
    made = Line(ovs, controller, [])
    controller.wait_for(made.settled, timeout=30, what="4 switches synced, 6 links up")
    for port in range(1, 6):
        status, reservation = controller.request(
            "POST",
            "/v1/reservations",
            {
                "src": "h1",
                "dst": "h4",
                "bandwidth": "10M",
                "duration": 900,
                "protocol": "tcp",
                "dst_port": port,
            },
        )
        assert status == 201, reservation
        made.reservations.append(reservation["id"])
    controller.wait_for(
        lambda: all(e == "installed" for _, e in made.states().values()),
        timeout=20,
        what="every reservation installed",
    )
    yield made
    controller.stop()
    for name in BRIDGES:
        ovs.del_bridge(name)


def assert_nothing_was_taken_off(line: Line, before: dict[str, int], since: float) -> None:
    """The same reservation flows, each older than the disturbance: none was reinstalled."""
    age = time.monotonic() - since
    for bridge, count in before.items():
        flows = line.reservation_flows(bridge)
        assert len(flows) == count, bridge
        assert all(f.duration >= age - 0.5 for f in flows), f"{bridge} had flows reinstalled"


def test_a_switch_that_reconnects_keeps_its_links_and_every_reservation(line: Line) -> None:
    before = {bridge: len(line.reservation_flows(bridge)) for bridge in BRIDGES}
    assert all(before.values())
    began = time.monotonic()
    log_start = len(line.controller.log())
    line.ovs.vsctl("set-controller", "c2", "tcp:127.0.0.1:9")  # nobody there: the channel drops
    line.controller.wait_for(
        lambda: not line.switch("0000000000000022")["connected"],
        timeout=10,
        what="c2 seen disconnected",
    )
    time.sleep(12)  # longer than LLDP takes to time out c2's links (os-ken: 10 s)
    assert all(state != "degraded" for state, _ in line.states().values())
    gone = line.topology()
    assert sum(link["up"] for link in gone["links"]) == LINKS  # held through the grace
    assert line.switch("0000000000000022")["grace_until"] is not None
    line.set_controller("c2")
    line.controller.wait_for(line.settled, timeout=30, what="c2 back: synced, every link up")
    line.controller.wait_for(
        lambda: all(e == "installed" for _, e in line.states().values()),
        timeout=20,
        what="every reservation installed again",
    )
    assert all(state == "active" for state, _ in line.states().values())
    assert_nothing_was_taken_off(line, before, began)
    assert "degraded" not in line.controller.log()[log_start:]


def test_a_reconnect_storm_ends_with_every_switch_known_and_no_flow_lost(line: Line) -> None:
    before = {bridge: len(line.reservation_flows(bridge)) for bridge in BRIDGES}
    began = time.monotonic()
    rng = random.Random(7)
    flapping = ["c2", "c3", "c4"]
    for _ in range(12):
        bridge = rng.choice(flapping)
        line.ovs.vsctl("del-controller", bridge)
        time.sleep(rng.uniform(0.05, 0.6))
        line.set_controller(bridge)
        time.sleep(rng.uniform(0.0, 0.4))
    for bridge in flapping:
        line.set_controller(bridge)
    line.controller.wait_for(line.settled, timeout=45, what="after the storm: synced, links up")
    line.controller.wait_for(
        lambda: all(e == "installed" for _, e in line.states().values()),
        timeout=20,
        what="every reservation installed after the storm",
    )
    assert all(state == "active" for state, _ in line.states().values())
    # The flapped bridges flushed their own flows (del-controller): all are back.
    assert {bridge: len(line.reservation_flows(bridge)) for bridge in BRIDGES} == before
    # c1 kept its controller throughout: nothing on it was touched.
    assert_nothing_was_taken_off(line, {"c1": before["c1"]}, began)
