"""Mirrors whose copies are tunnelled to a remote collector, on real ovs-vswitchd and
ovsdb-server: tegu_ryu creates its own GRE/VXLAN port for the mirror's window (tagged in
external_ids), sends the copies into it, removes it at the end, puts it back when deleted by
hand, writes nothing on a restart, and never touches ports it did not create. Tunnel targets
outside ``mirror_allowed_remotes`` are refused."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from controller_process import ControllerProcess
from privateovs import PrivateOvs

pytestmark = pytest.mark.ovs

H1 = ("00:00:00:00:00:01", "10.0.0.1")
H2 = ("00:00:00:00:00:02", "10.0.0.2")
TOPOLOGY = {
    "switches": ["0000000000000061"],
    "hosts": [
        {"name": "h1", "mac": H1[0], "ips": [H1[1]], "attach": "0000000000000061:1"},
        {"name": "h2", "mac": H2[0], "ips": [H2[1]], "attach": "0000000000000061:2"},
    ],
}
BRIDGE = "tun1"


@dataclass
class Switch:
    ovs: PrivateOvs
    controller: ControllerProcess

    def port_names(self) -> set[str]:
        return set(self.ovs.vsctl("list-ports", BRIDGE).split())

    def interface(self, name: str, column: str) -> str:
        return self.ovs.vsctl("get", "interface", name, column).strip()

    def outputs(self) -> str:
        return "\n".join(str(flow) for flow in self.ovs.flows(BRIDGE))


def options(ovs: PrivateOvs) -> dict[str, str]:
    return {
        "ovsdb_remotes": f"unix:{ovs.rundir / 'db.sock'}",
        "mirror_allowed_remotes": "10.99.0.0/24",
        "mirror_min_duration": "1",
        "resync_interval": "1",
        "discovery_settle": "1",
    }


@pytest.fixture(scope="module")
def switch(ovs: PrivateOvs, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Switch]:
    controller = ControllerProcess(
        tmp_path_factory.mktemp("tunnels"), topology=TOPOLOGY, options=options(ovs)
    )
    controller.start()
    ovs.add_bridge(BRIDGE, 0x61, controller.of_port)
    ovs.add_host_port(BRIDGE, "tun1-h1", 1)
    ovs.add_host_port(BRIDGE, "tun1-h2", 2)
    ovs.vsctl(
        "add-port", BRIDGE, "theirs", "--", "set", "interface", "theirs", "type=vxlan",
        "options:remote_ip=10.99.0.7", "options:key=9",
    )  # fmt: skip
    controller.wait_for_sync(1, 0)
    yield Switch(ovs, controller)
    controller.stop()
    ovs.del_bridge(BRIDGE)


def tunnelled_mirror(switch: Switch, **output: object) -> dict[str, object]:
    status, made = switch.controller.request(
        "POST",
        "/v1/reservations",
        {"type": "mirror", "ports": ["h1"], "output": output, "duration": 600},
    )
    assert status == 201, made
    return made


def test_a_tunnel_port_lives_as_long_as_its_mirror_and_carries_the_copies(
    switch: Switch,
) -> None:
    made = tunnelled_mirror(switch, tunnel="gre", remote_ip="10.99.0.3", key=42)
    output = made["output"]
    assert isinstance(output, dict)
    name, ofport = str(output["port_name"]), int(output["port"])
    switch.controller.wait_for(lambda: name in switch.port_names(), timeout=10, what="port")
    assert switch.interface(name, "type") == "gre"
    assert switch.interface(name, "options") == '{key="42", remote_ip="10.99.0.3"}'
    assert switch.interface(name, "ofport") == str(ofport)
    assert "tegu-owner=tegu_ryu" in switch.ovs.vsctl("get", "port", name, "external_ids")
    switch.controller.wait_for(
        lambda: re.search(rf"output:{ofport}\b", switch.outputs()) is not None,
        timeout=10,
        what="the mirror table sending copies into the tunnel",
    )
    status, topology = switch.controller.get("/v1/topology")
    assert status == 200
    (entry,) = [s for s in topology["switches"] if s["dpid"] == "0000000000000061"]
    assert ofport not in [port["port"] for port in entry["ports"]]  # never flooded to
    assert switch.controller.request("DELETE", f"/v1/reservations/{made['id']}")[0] == 204
    switch.controller.wait_for(
        lambda: name not in switch.port_names(), timeout=10, what="the tunnel port gone"
    )
    assert "theirs" in switch.port_names()
    assert switch.interface("theirs", "options") == '{key="9", remote_ip="10.99.0.7"}'


def test_a_port_deleted_by_hand_comes_back_and_a_restart_writes_nothing(
    switch: Switch, ovs: PrivateOvs
) -> None:
    made = tunnelled_mirror(switch, tunnel="vxlan", remote_ip="10.99.0.4")
    name = str(made["output"]["port_name"])  # type: ignore[index]
    switch.controller.wait_for(lambda: name in switch.port_names(), timeout=10, what="port")
    ovs.vsctl("del-port", BRIDGE, name)
    switch.controller.wait_for(
        lambda: name in switch.port_names(), timeout=10, what="the port put back"
    )
    before = switch.ovs.vsctl("get", "port", name, "_uuid")
    after_restart = switch.controller.restart_and_sync_rows(1)
    assert switch.ovs.vsctl("get", "port", name, "_uuid") == before
    assert "tunnel ports" not in after_restart
    assert switch.controller.request("DELETE", f"/v1/reservations/{made['id']}")[0] == 204
    switch.controller.wait_for(
        lambda: name not in switch.port_names(), timeout=10, what="the tunnel port gone"
    )


def test_a_remote_outside_the_allowed_networks_is_refused_and_nothing_is_created(
    switch: Switch,
) -> None:
    ports = switch.port_names()
    status, body = switch.controller.request(
        "POST",
        "/v1/reservations",
        {
            "type": "mirror",
            "ports": ["h1"],
            "output": {"tunnel": "gre", "remote_ip": "192.0.2.9"},
            "duration": 600,
        },
    )
    assert status == 403 and body["error"]["code"] == "forbidden"
    message = body["error"]["message"]
    assert "192.0.2.9" in message and "mirror_allowed_remotes" in message
    status, body = switch.controller.request(
        "POST",
        "/v1/reservations",
        {"type": "mirror", "ports": ["h1"], "output": {"tunnel": "ipip", "remote_ip": "10.99.0.3"}},
    )
    assert status == 400 and body["error"]["details"]["field"] == "output.tunnel"
    assert switch.port_names() == ports
