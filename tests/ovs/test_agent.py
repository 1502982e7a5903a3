"""tegu-agent on a real Open vSwitch (the private one): it reports the bridge's VM ports to a
tegu-manager, where ``vm:NAME`` then names a reservation's endpoint, and it writes the rows
an agent listener hands it into OVSDB, again after a hand delete, and removes them."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agent_process import AgentProcess
from controller_process import ControllerProcess, free_port
from privateovs import PrivateOvs

from tegu_ryu.agents.listener import AgentListener
from tegu_ryu.agents.registry import AgentRegistry
from tegu_ryu.ovsdb.rows import BridgeRows, TunnelPort

pytestmark = pytest.mark.ovs

TOKEN = "agent-token-for-ovs-tests"
DPID = 0x61
WEB, DB = "fa:16:3e:00:00:0a", "fa:16:3e:00:00:0b"
TUNNEL = TunnelPort("tegu-t64010", "vxlan", "10.99.0.3", 5, 64010, "r-agent")
TOPOLOGY = {
    "switches": [f"{DPID:016x}"],
    "links": [],
    "hosts": [
        {"name": "web-host", "mac": WEB, "ips": ["10.0.9.1"], "attach": f"{DPID:016x}:1"},
        {"name": "db-host", "mac": DB, "ips": ["10.0.9.2"], "attach": f"{DPID:016x}:2"},
    ],
}


@pytest.fixture(scope="module")
def bridge(ovs: PrivateOvs) -> Iterator[str]:
    ovs.add_bridge("agent1", DPID, free_port())  # no controller there: OpenFlow is not the point
    for ofport, (vm, mac) in enumerate((("web", WEB), ("db", DB)), start=1):
        name = f"agent1-{vm}"
        ovs.add_host_port("agent1", name, ofport)
        ovs.vsctl(
            "set", "interface", name, f"external_ids:vm-name={vm}",
            f'external_ids:attached-mac="{mac}"', f"external_ids:iface-id=port-{vm}",
            f"external_ids:vm-uuid=uuid-{vm}",
        )  # fmt: skip
    yield "agent1"
    ovs.del_bridge("agent1")


def agent_for(ovs: PrivateOvs, workdir: Path, address: str) -> AgentProcess:
    return AgentProcess(workdir, address, TOKEN, f"unix:{ovs.rundir / 'db.sock'}")


def test_the_inventory_reaches_the_controller_and_vm_names_resolve(
    ovs: PrivateOvs, bridge: str, tmp_path: Path
) -> None:
    (tmp_path / "agent.token").write_text(TOKEN)
    listen = f"127.0.0.1:{free_port()}"
    controller = ControllerProcess(
        tmp_path / "controller",
        options={"agent_listen": listen, "agent_token_file": str(tmp_path / "agent.token")},
        topology=TOPOLOGY,
    )
    controller.start()
    agent = agent_for(ovs, tmp_path / "agent", listen)
    agent.start()
    try:

        def reported() -> list[dict[str, Any]]:
            status, body = controller.get("/v1/agents")
            agents = body["agents"] if status == 200 else []
            return [b for a in agents for b in a["bridges"] if b["dpid"] == f"{DPID:016x}"]

        controller.wait_for(lambda: bool(reported()), 30, "the agent's bridge")
        [seen] = reported()
        web = next(i for i in seen["interfaces"] if i.get("vm_name") == "web")
        assert seen["name"] == bridge
        assert web["ofport"] == 1 and web["attached_mac"] == WEB and web["iface_id"] == "port-web"
        assert web["vm_uuid"] == "uuid-web" and web["mac"]  # mac_in_use, set by ovs-vswitchd

        body = {"src": "vm:web", "dst": "iface:port-db", "bandwidth": "10M", "duration": 600}
        status, created = controller.request("POST", "/v1/reservations", body)
        assert status == 201, created
        assert created["src"]["given"] == "vm:web" and created["src"]["mac"] == WEB
        assert created["dst"]["mac"] == DB
        status, refused = controller.request(
            "POST", "/v1/reservations", {**body, "src": "vm:nobody"}
        )
        assert status == 404 and refused["error"]["code"] == "unknown_endpoint"
        assert "vm:nobody" in refused["error"]["message"]
    finally:
        agent.stop()
        controller.stop()


def wait(condition: Any, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_rows_handed_to_the_agent_are_written_kept_and_removed(
    ovs: PrivateOvs, bridge: str, tmp_path: Path
) -> None:
    desired = {DPID: BridgeRows(frozenset({TUNNEL}))}
    registry = AgentRegistry()
    listener = AgentListener(
        ("127.0.0.1", 0),
        TOKEN.encode(),
        registry,
        lambda dpid: desired.get(dpid, BridgeRows()),
    )
    listener.start()
    host, port = listener.address
    agent = agent_for(ovs, tmp_path, f"{host}:{port}")
    agent.start()

    def ports() -> list[str]:
        return ovs.vsctl("list-ports", bridge).split()

    try:
        wait(lambda: TUNNEL.name in ports(), "the tunnel port written by the agent")
        assert ovs.vsctl("get", "interface", TUNNEL.name, "ofport").strip() == "64010"
        ids = ovs.vsctl("get", "port", TUNNEL.name, "external_ids")
        assert "tegu-owner=tegu_ryu" in ids and "r-agent" in ids
        ovs.vsctl("del-port", bridge, TUNNEL.name)  # by hand
        assert TUNNEL.name not in ports()
        wait(lambda: TUNNEL.name in ports(), "the tunnel port back after one resync")
        desired[DPID] = BridgeRows()
        listener.refresh()
        wait(lambda: TUNNEL.name not in ports(), "the tunnel port removed")
        assert {"agent1-web", "agent1-db"} <= set(ports())  # the others are untouched
        [record] = registry.view()
        applied = record["bridges"][0]["applied"]
        assert applied["error"] is None, json.dumps(record)
    finally:
        agent.stop()
        listener.stop()
    assert "1 tunnel ports added" in agent.log()
