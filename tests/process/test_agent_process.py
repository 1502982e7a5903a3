"""tegu-agent and tegu-manager as separate processes on loopback: the agent's inventory
arrives, a wrong token is refused and logged, garbage on the agent port hurts nothing else,
and an agent killed with SIGKILL and started again is listed again."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agent_process import AgentProcess, BareOvsdb
from controller_process import ControllerProcess, free_port

TOKEN = "a-long-shared-agent-token"
DPID = 0xA01


@pytest.fixture(scope="module")
def ovsdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BareOvsdb]:
    if shutil.which("ovsdb-server") is None:
        pytest.skip("needs ovsdb-server (tools/setup installs Open vSwitch)")
    server = BareOvsdb(tmp_path_factory.mktemp("ovsdb"))
    server.start()
    server.vsctl("add-br", "br-int", "--", "set", "bridge", "br-int", f"datapath_id={DPID:016x}")
    server.vsctl(
        "add-port", "br-int", "tap-web", "--", "set", "interface", "tap-web", "ofport=5",
        'mac_in_use="fe:16:3e:00:00:05"', "external_ids:vm-name=web",
        'external_ids:attached-mac="fa:16:3e:00:00:05"', "external_ids:iface-id=port-5",
    )  # fmt: skip
    yield server
    server.stop()


@pytest.fixture
def controller(tmp_path: Path) -> Iterator[ControllerProcess]:
    (tmp_path / "agent.token").write_text(TOKEN + "\n")
    process = ControllerProcess(
        tmp_path,
        options={
            "agent_listen": f"127.0.0.1:{free_port()}",
            "agent_token_file": str(tmp_path / "agent.token"),
            "agent_heartbeat_timeout": "5",
        },
    )
    process.start()
    yield process
    process.stop()


def agent_port(controller: ControllerProcess) -> int:
    return int(str(controller.options["agent_listen"]).rpartition(":")[2])


def agents(controller: ControllerProcess) -> list[dict[str, Any]]:
    status, body = controller.get("/v1/agents")
    return list(body["agents"]) if status == 200 else []


def connected(controller: ControllerProcess, host: str = "compute-1") -> dict[str, Any] | None:
    found = [a for a in agents(controller) if a["host"] == host and a["connected"]]
    return found[0] if found and found[0]["bridges"] else None


def inventory(agent: dict[str, Any]) -> list[dict[str, Any]]:
    return [{k: b[k] for k in ("name", "dpid", "interfaces")} for b in agent["bridges"]]


def start_agent(
    controller: ControllerProcess, ovsdb: BareOvsdb, tmp_path: Path, token: str = TOKEN
) -> AgentProcess:
    agent = AgentProcess(
        tmp_path / "agent", f"127.0.0.1:{agent_port(controller)}", token, ovsdb.remote
    )
    agent.start()
    return agent


def test_the_controller_runs_this_tree(controller: ControllerProcess) -> None:
    assert "agents: listening on 127.0.0.1" in controller.log()


def test_inventory_arrives_and_a_kill_and_restart_loses_nothing(
    controller: ControllerProcess, ovsdb: BareOvsdb, tmp_path: Path
) -> None:
    agent = start_agent(controller, ovsdb, tmp_path)
    try:
        controller.wait_for(lambda: connected(controller) is not None, 20, "the agent listed")
        first = connected(controller)
        assert first is not None
        [bridge] = first["bridges"]
        assert bridge["name"] == "br-int" and bridge["dpid"] == f"{DPID:016x}"
        assert bridge["interfaces"] == [
            {
                "name": "tap-web",
                "ofport": 5,
                "mac": "fe:16:3e:00:00:05",
                "iface_id": "port-5",
                "attached_mac": "fa:16:3e:00:00:05",
                "vm_name": "web",
            }
        ]
        agent.kill()
        controller.wait_for(lambda: connected(controller) is None, 10, "the agent gone")
        assert [a["connected"] for a in agents(controller)] == [False]
        time.sleep(1.1)  # so that the new connection's time differs at the second
        agent.start()
        controller.wait_for(lambda: connected(controller) is not None, 20, "the agent back")
        again = connected(controller)
        assert again is not None and inventory(again) == inventory(first)
        assert again["connected_since"] > first["connected_since"]
    finally:
        agent.stop()
    assert "connected to controller" in agent.log()


def test_a_wrong_token_is_refused_and_logged(
    controller: ControllerProcess, ovsdb: BareOvsdb, tmp_path: Path
) -> None:
    agent = start_agent(controller, ovsdb, tmp_path, token="not-the-token")
    try:
        controller.wait_for(
            lambda: "refused: wrong token" in controller.log(), 20, "the refusal logged"
        )
        assert agents(controller) == []
        assert "not-the-token" not in controller.log()
        time.sleep(0.5)
        assert "refused this agent: wrong token" in agent.log()
    finally:
        agent.stop()


@pytest.mark.parametrize(
    ("garbage", "said"),
    [
        (os.urandom(100_000), "dropped"),
        (struct.pack(">I", 100 * 1024 * 1024) + b"\0" * 1000, "104857600 bytes announced"),
    ],
    ids=["random-bytes", "100MB-header"],
)
def test_garbage_on_the_agent_port_is_dropped(
    controller: ControllerProcess, garbage: bytes, said: str
) -> None:
    with socket.create_connection(("127.0.0.1", agent_port(controller)), timeout=10) as sock:
        with contextlib.suppress(ConnectionResetError, BrokenPipeError):
            sock.sendall(garbage)  # may be dropped before it has all of it
        sock.settimeout(10)
        with contextlib.suppress(ConnectionResetError):
            assert sock.recv(100) == b""  # closed by the controller
    controller.wait_for(lambda: said in controller.log(), 10, "the drop logged")
    assert controller.get("/v1/health")[0] == 200
    assert controller.process is not None and controller.process.poll() is None
