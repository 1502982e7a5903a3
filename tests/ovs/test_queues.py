"""The queue backend on real ovs-vswitchd and ovsdb-server: a switch set to enforce with queues
gets a linux-htb QoS and a Queue per reservation on each egress port of the reservation's path
(tagged as tegu_ryu's), and flows that pick the queue with set_queue; all of it goes when the
reservation ends, comes back when deleted by hand, and a QoS that tegu_ryu did not create is
never touched. (This userspace datapath ignores set_queue: the rates themselves are checked on a
kernel datapath only; README, "Enforcement backends".)"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from controller_process import ControllerProcess
from privateovs import PrivateOvs

pytestmark = pytest.mark.ovs

DPID = 0x71
BRIDGE = "q1"
TOPOLOGY = {
    "switches": [f"{DPID:016x}"],
    "hosts": [
        {"name": "h1", "mac": "00:00:00:00:00:01", "ips": ["10.0.0.1"], "attach": f"{DPID:016x}:1"},
        {"name": "h2", "mac": "00:00:00:00:00:02", "ips": ["10.0.0.2"], "attach": f"{DPID:016x}:2"},
    ],
}


@dataclass
class Switch:
    ovs: PrivateOvs
    controller: ControllerProcess

    def qos_of(self, port: str) -> str:
        return self.ovs.vsctl("get", "port", port, "qos").strip()

    def queues(self) -> str:
        return self.ovs.vsctl("--columns=other_config,external_ids", "list", "queue")

    def set_queues(self) -> list[str]:
        return re.findall(r"set_queue:(\d+)", "\n".join(str(f) for f in self.ovs.flows(BRIDGE)))


@pytest.fixture(scope="module")
def switch(ovs: PrivateOvs, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Switch]:
    options = {
        "ovsdb_remotes": f"unix:{ovs.rundir / 'db.sock'}",
        "enforcement_override": f"{DPID:016x}=queues",
        "resync_interval": "1",
        "discovery_settle": "1",
    }
    controller = ControllerProcess(
        tmp_path_factory.mktemp("queues"), topology=TOPOLOGY, options=options
    )
    controller.start()
    ovs.add_bridge(BRIDGE, DPID, controller.of_port)
    ovs.add_host_port(BRIDGE, "q1-h1", 1)
    ovs.add_host_port(BRIDGE, "q1-h2", 2)
    ovs.add_host_port(BRIDGE, "q1-h3", 3)
    ovs.vsctl(
        "set", "port", "q1-h3", "qos=@q", "--", "--id=@q", "create", "qos", "type=linux-htb",
        "other_config:max-rate=7000000", "external_ids:owner=someone",
    )  # fmt: skip
    controller.wait_for_sync(1, 0)
    yield Switch(ovs, controller)
    controller.stop()
    ovs.del_bridge(BRIDGE)
    for qos in ovs.vsctl("--bare", "--columns=_uuid", "list", "qos").split():
        ovs.vsctl("destroy", "qos", qos)


def test_the_switch_says_it_enforces_with_queues_and_why(switch: Switch) -> None:
    def backend() -> dict[str, object]:
        status, topology = switch.controller.get("/v1/topology")
        assert status == 200
        (entry,) = [s for s in topology["switches"] if s["dpid"] == f"{DPID:016x}"]
        return dict(entry["enforcement"])

    switch.controller.wait_for(
        lambda: backend()["backend"] == "queues", timeout=20, what="queues chosen"
    )
    assert "ignores set_queue" in str(backend()["reason"])  # the dummy datapath is userspace


def test_queues_and_set_queue_flows_follow_the_reservation(switch: Switch) -> None:
    foreign_before = switch.ovs.vsctl("list", "qos", switch.qos_of("q1-h3"))
    status, made = switch.controller.request(
        "POST", "/v1/reservations", {"src": "h1", "dst": "h2", "bandwidth": "20M", "duration": 600}
    )
    assert status == 201, made
    switch.controller.wait_for(
        lambda: switch.qos_of("q1-h2") != "[]" and switch.qos_of("q1-h1") != "[]",
        timeout=10,
        what="a QoS on both egress ports",
    )
    queues = switch.queues()
    assert queues.count("tegu-owner=tegu_ryu") == 4  # per port: the reservation's and queue 0
    assert 'min-rate="20000000"' in queues and f"tegu-reservation={made['id']}" in queues
    qos = switch.ovs.vsctl("list", "qos", switch.qos_of("q1-h2"))
    assert "linux-htb" in qos and "tegu-owner=tegu_ryu" in qos
    switch.controller.wait_for(
        lambda: len(set(switch.set_queues())) == 1, timeout=10, what="set_queue flows"
    )
    (queue_id,) = set(switch.set_queues())
    assert f"{queue_id}=" in qos  # the flows pick the queue the QoS holds

    switch.ovs.vsctl("clear", "port", "q1-h2", "qos")
    switch.controller.wait_for(
        lambda: switch.qos_of("q1-h2") != "[]", timeout=10, what="the QoS put back"
    )
    assert switch.controller.request("DELETE", f"/v1/reservations/{made['id']}")[0] == 204
    switch.controller.wait_for(
        lambda: switch.qos_of("q1-h1") == "[]" and switch.qos_of("q1-h2") == "[]",
        timeout=10,
        what="the QoS rows gone",
    )
    switch.controller.wait_for(
        lambda: not switch.set_queues(), timeout=10, what="the set_queue flows gone"
    )
    assert "tegu" not in switch.ovs.vsctl("list", "queue")
    assert switch.ovs.vsctl("list", "qos", switch.qos_of("q1-h3")) == foreign_before


def test_a_restart_writes_no_rows(switch: Switch) -> None:
    status, made = switch.controller.request(
        "POST", "/v1/reservations", {"src": "h1", "dst": "h2", "bandwidth": "10M", "duration": 600}
    )
    assert status == 201
    switch.controller.wait_for(
        lambda: switch.qos_of("q1-h2") != "[]", timeout=10, what="the QoS written"
    )
    before = switch.qos_of("q1-h2"), switch.queues()
    after_restart = switch.controller.restart_and_sync_rows(1)
    assert (switch.qos_of("q1-h2"), switch.queues()) == before
    assert "port queue sets" not in after_restart
    assert switch.controller.request("DELETE", f"/v1/reservations/{made['id']}")[0] == 204
