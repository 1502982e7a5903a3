"""The agent port in-process: the token, hostile peers, heartbeats, the registry, the rows an
agent is sent and writes (through a fake OVSDB), GET /v1/agents and vm:/iface: endpoints."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import ssl
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import msgpack
import pytest

from tegu_agent.keeper import Keeper
from tegu_agent.session import Agent, Backoff, Settings, heartbeat_interval
from tegu_ryu.agents import protocol
from tegu_ryu.agents.listener import AgentListener, parse_listen
from tegu_ryu.agents.protocol import Interface, InventoryBridge
from tegu_ryu.agents.registry import AgentRegistry
from tegu_ryu.errors import Conflict, NotFound
from tegu_ryu.ovsdb.rows import BridgeRows, PortQueues, RowChanges, TunnelPort
from tegu_ryu.reservations.engine import Engine

from .test_api import Client, sample_api
from .topologies import Builder

TOKEN = "agent-secret"
DPID = 0xA1
TUNNEL = TunnelPort("tegu-t64001", "gre", "10.99.0.3", 7, 64001, "r-1")
WEB = Interface("tap-web", 5, "fe:16:3e:00:00:05", "port-5", "fa:16:3e:00:00:05", "uuid-5", "web")
BRIDGES = (InventoryBridge("br-int", DPID, (WEB,)),)


def wait_until(condition: Callable[[], bool], timeout: float = 5, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


class FakeOvsdb:
    """Bridges and the tegu rows they hold, in memory; writes applied as OVSDB would."""

    def __init__(self) -> None:
        self.bridges = BRIDGES
        self.rows: dict[str, BridgeRows] = {}
        self.writes: list[RowChanges] = []
        self.lock = threading.Lock()

    def read(self, reader: Any) -> Any:
        return self.bridges

    def held(self, bridge: str) -> tuple[BridgeRows, frozenset[int]]:
        with self.lock:
            return self.rows.get(bridge, BridgeRows()), frozenset()

    def ofports(self, bridge: str) -> frozenset[int]:
        return frozenset(i.ofport for b in self.bridges if b.name == bridge for i in b.interfaces)

    def purge_orphans(self) -> int:
        return 0

    def apply(self, changes: RowChanges) -> None:
        with self.lock:
            held = self.rows.get(changes.bridge, BridgeRows())
            tunnels = {t for t in held.tunnels if t.name not in changes.delete_tunnels}
            queues = {p: q for p, q in held.queues.items() if p not in changes.clear_queues}
            queues.update({q.ofport: q for q in changes.set_queues})
            self.rows[changes.bridge] = BridgeRows(
                frozenset(tunnels | set(changes.add_tunnels)), queues
            )
            self.writes.append(changes)

    def close(self) -> None:
        pass


class Rig:
    """A listener on a loopback port whose desired rows a test sets."""

    def __init__(self, heartbeat_timeout: float = 2.0, hello_timeout: float = 1.0) -> None:
        self.registry = AgentRegistry()
        self.desired: dict[int, BridgeRows] = {}
        self.asked: list[int] = []
        self.listener = AgentListener(
            ("127.0.0.1", 0),
            TOKEN.encode(),
            self.registry,
            self.desired_rows,
            hello_timeout=hello_timeout,
            heartbeat_timeout=heartbeat_timeout,
        )
        self.listener.start()

    def desired_rows(self, dpid: int) -> BridgeRows:
        self.asked.append(dpid)
        return self.desired.get(dpid, BridgeRows())

    def connect(self) -> socket.socket:
        sock = socket.create_connection(self.listener.address, timeout=5)
        return sock

    def agent(self, name: str = "compute-1") -> dict[str, Any] | None:
        return next((a for a in self.registry.view() if a["host"] == name), None)


@pytest.fixture
def rig() -> Iterator[Rig]:
    rig = Rig()
    yield rig
    rig.listener.stop()


def closed(sock: socket.socket, timeout: float = 5) -> bool:
    """Whether the peer closed ``sock`` (anything it said before is skipped)."""
    sock.settimeout(timeout)
    try:
        while sock.recv(65536):
            pass
    except (ConnectionResetError, BrokenPipeError):
        pass
    return True


def say_hello(sock: socket.socket, token: str = TOKEN, host: str = "compute-1") -> dict[str, Any]:
    protocol.write_message(sock, protocol.hello(token, host, "test"))
    sock.settimeout(0.1)
    message = protocol.read_message(sock, time.monotonic() + 5)
    assert message is not None
    return message


def test_a_wrong_token_is_refused_and_logged_by_peer(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "tegu_ryu.agents")
    with rig.connect() as sock:
        peer = f"127.0.0.1:{sock.getsockname()[1]}"
        assert say_hello(sock, token="guess") == {"type": "refused", "reason": "wrong token"}
        assert closed(sock)
    wait_until(lambda: "refused" in caplog.text, what="the refusal logged")
    assert f"{peer} refused: wrong token" in caplog.text and "guess" not in caplog.text
    assert rig.registry.view() == []


@pytest.mark.parametrize(
    ("garbage", "said"),
    [
        (b"\x00\x00\x01\x00" + bytes(range(256)) + os.urandom(3836), ""),
        (struct.pack(">I", 100 * 1024 * 1024) + b"x" * 100, "104857600 bytes announced"),
        (protocol.HEADER.pack(3) + msgpack.packb([1, 2]), "must be a map"),
        (protocol.encode({"type": "inventory", "bridges": []}), "expected hello"),
    ],
    ids=["random", "100MB-header", "not-a-map", "no-hello"],
)
def test_garbage_drops_that_connection_only(
    rig: Rig, caplog: pytest.LogCaptureFixture, garbage: bytes, said: str
) -> None:
    caplog.set_level(logging.INFO, "tegu_ryu.agents")
    with rig.connect() as good:
        assert say_hello(good)["type"] == "welcome"
        with rig.connect() as bad:
            bad.sendall(garbage)
            assert closed(bad)
        assert said in caplog.text and "dropped" in caplog.text
        protocol.write_message(good, {"type": "heartbeat"})
        assert protocol.read_message(good, time.monotonic() + 5) == {"type": "heartbeat"}
        record = rig.agent()
        assert record is not None and record["connected"]


def test_a_silent_peer_is_dropped_after_the_hello_timeout(rig: Rig) -> None:
    rig.listener.hello_timeout = 0.3
    with rig.connect() as sock:
        began = time.monotonic()
        sock.sendall(protocol.encode(protocol.hello(TOKEN, "x", "1"))[:5])  # then nothing more
        assert closed(sock)
        assert time.monotonic() - began < 3


def test_heartbeats_keep_an_agent_and_their_absence_marks_it_gone(rig: Rig) -> None:
    rig.listener.heartbeat_timeout = 0.5
    with rig.connect() as sock:
        say_hello(sock)
        for _ in range(4):
            protocol.write_message(sock, {"type": "heartbeat"})
            time.sleep(0.2)
        record = rig.agent()
        assert record is not None and record["connected"]
        wait_until(lambda: not (rig.agent() or {}).get("connected"), what="gone")
        assert closed(sock)


def test_a_reconnecting_agent_replaces_its_old_connection(rig: Rig) -> None:
    with rig.connect() as first, rig.connect() as second:
        say_hello(first)
        say_hello(second)
        assert closed(first)
        record = rig.agent()
        assert record is not None and record["connected"]
        assert record["peer"].endswith(str(second.getsockname()[1]))


def test_rows_are_sent_on_inventory_and_on_refresh_only_when_changed(rig: Rig) -> None:
    rig.desired[DPID] = BridgeRows(frozenset({TUNNEL}))
    with rig.connect() as sock:
        say_hello(sock)
        protocol.write_message(sock, protocol.inventory(list(BRIDGES)))
        message = protocol.read_message(sock, time.monotonic() + 5)
        assert message is not None and protocol.parse_rows(message) == {DPID: rig.desired[DPID]}
        assert rig.registry.dpids() == {DPID}
        rig.listener.refresh()  # nothing changed: nothing sent
        wait_until(lambda: len(rig.asked) >= 2, what="a refresh")
        protocol.write_message(sock, {"type": "heartbeat"})
        assert protocol.read_message(sock, time.monotonic() + 5) == {"type": "heartbeat"}
        rig.desired[DPID] = BridgeRows()
        rig.listener.refresh()
        message = protocol.read_message(sock, time.monotonic() + 5)
        assert message is not None and protocol.parse_rows(message) == {DPID: BridgeRows()}
        protocol.write_message(sock, protocol.applied(DPID, 1, None))
        wait_until(lambda: "applied" in (rig.agent() or {"bridges": [{}]})["bridges"][0])
    wait_until(lambda: rig.registry.dpids() == frozenset(), what="dpids of a gone agent dropped")


def run_agent(
    rig: Rig, ovsdb: FakeOvsdb, **changes: Any
) -> tuple[threading.Event, threading.Thread]:
    settings = Settings(
        controller=rig.listener.address,
        token=TOKEN,
        host="compute-1",
        heartbeat=0.2,
        poll=0.1,
        resync=0.2,
    )
    stopping = threading.Event()
    agent = Agent(replace(settings, **changes), lambda: ovsdb, stopping)
    thread = threading.Thread(target=agent.run, daemon=True)
    thread.start()
    return stopping, thread


def test_the_agent_reports_writes_rows_and_repairs_a_hand_deleted_one(rig: Rig) -> None:
    ovsdb = FakeOvsdb()
    rig.desired[DPID] = BridgeRows(frozenset({TUNNEL}), {5: PortQueues(5, 10**9, ())})
    stopping, thread = run_agent(rig, ovsdb)
    try:
        wait_until(lambda: ovsdb.rows.get("br-int") == rig.desired[DPID], what="rows written")
        record = rig.agent()
        assert record is not None and record["bridges"][0]["interfaces"][0]["vm_name"] == "web"
        assert rig.registry.endpoint_mac("vm:web") == "fa:16:3e:00:00:05"
        with ovsdb.lock:  # deleted by hand
            ovsdb.rows["br-int"] = BridgeRows(queues=rig.desired[DPID].queues)
        wait_until(lambda: ovsdb.rows["br-int"] == rig.desired[DPID], what="the row back")
        rig.desired[DPID] = BridgeRows()
        rig.listener.refresh()
        wait_until(lambda: ovsdb.rows["br-int"] == BridgeRows(), what="the rows removed")
        ovsdb.bridges = (*BRIDGES, InventoryBridge("br-ex", 0xB2, ()))
        wait_until(lambda: rig.registry.dpids() == {DPID, 0xB2}, what="the new bridge")
        wait_until(
            lambda: "applied" in (rig.agent() or {"bridges": [{}]})["bridges"][0], what="report"
        )
    finally:
        stopping.set()
        thread.join(5)
    assert not thread.is_alive()


def test_the_agent_retries_a_refusal_and_a_missing_controller(rig: Rig) -> None:
    stopping, thread = run_agent(rig, FakeOvsdb(), token="wrong")
    time.sleep(0.3)
    stopping.set()
    thread.join(5)
    assert not thread.is_alive() and rig.registry.view() == []


def test_backoff_doubles_to_its_cap_with_jitter() -> None:
    backoff = Backoff(1.0, 30.0)
    delays = [backoff.delay() for _ in range(8)]
    assert 0.5 <= delays[0] <= 1.0 and 1.0 <= delays[1] <= 2.0
    assert all(15.0 <= d <= 30.0 for d in delays[5:])
    backoff.reset()
    assert backoff.delay() <= 1.0


def test_the_keeper_touches_nothing_until_told_and_reports_a_missing_bridge() -> None:
    keeper, ovsdb = Keeper(), FakeOvsdb()
    assert keeper.apply(ovsdb, {DPID: "br-int"}, quiet=False) == []
    keeper.want({0xDEAD: BridgeRows(frozenset({TUNNEL}))})
    [result] = keeper.apply(ovsdb, {DPID: "br-int"}, quiet=True)
    assert result.error is not None and "000000000000dead" in result.error
    assert ovsdb.writes == []


def test_the_registry_resolves_vm_and_iface_names() -> None:
    registry = AgentRegistry()
    session = registry.connected("compute-1", "1", "127.0.0.1:1", 0.0)
    registry.inventory("compute-1", session, BRIDGES)
    plain = Interface("eth1", 2, "02:00:00:00:00:02")
    registry.inventory(
        "compute-2",
        registry.connected("compute-2", "1", "127.0.0.1:2", 0.0),
        (InventoryBridge("br0", 0xB0, (plain,)),),
    )
    assert registry.endpoint_mac("vm:web") == registry.endpoint_mac("vm:uuid-5")
    assert registry.endpoint_mac("iface:port-5") == "fa:16:3e:00:00:05"
    assert registry.endpoint_mac("iface:eth1") == "02:00:00:00:00:02"  # no VM: the port's MAC
    assert registry.endpoint_mac("vm:nope") is None
    registry.gone("compute-1", session)
    assert registry.dpids() == {0xB0}
    assert registry.endpoint_mac("vm:web") is not None  # a restarting agent's VMs still resolve
    assert not registry.inventory("compute-1", session - 1, ())  # a stale session changes nothing
    twin = Interface("tap9", 9, "fa:16:3e:00:00:09", vm_name="web", vm_uuid="uuid-9")
    registry.inventory(
        "compute-3",
        registry.connected("compute-3", "1", "127.0.0.1:3", 0.0),
        (InventoryBridge("br1", 0xB1, (twin,)),),
    )
    with pytest.raises(Conflict) as ambiguous:
        registry.endpoint_mac("vm:web")  # two VMs called web: which one is not guessed
    assert ambiguous.value.code == "ambiguous_endpoint"
    assert registry.endpoint_mac("vm:uuid-9") == "fa:16:3e:00:00:09"


def test_named_endpoints_resolve_through_the_hook() -> None:
    builder = Builder()
    builder.link(1, 2)
    host = builder.host(1)
    engine = Engine(builder.connect_all())
    with pytest.raises(NotFound, match="names no VM or interface") as refused:
        engine.resolve("vm:web", "src", external_ok=False)
    assert refused.value.code == "unknown_endpoint"
    engine.endpoint_names = {"vm:web": host.mac, "iface:gone": "02:00:00:00:99:99"}.get
    endpoint = engine.resolve("vm:web", "src", external_ok=False)
    assert (endpoint.given, endpoint.mac, endpoint.attach) == ("vm:web", host.mac, host.attach)
    with pytest.raises(NotFound, match="has not seen on the network"):
        engine.resolve("iface:gone", "dst", external_ok=False)


def test_get_agents_is_for_admins(tmp_path: Path) -> None:
    client = Client(sample_api(tmp_path))
    registry = client.api.agents
    session = registry.connected("compute-1", "0.1.0", "127.0.0.1:5", 1_800_000_000.0)
    registry.inventory("compute-1", session, BRIDGES)
    registry.applied("compute-1", session, protocol.Applied(DPID, 2, None), 1_800_000_001.0)
    status, body = client.call("GET", "/v1/agents", token="admin-token")
    assert status == 200
    [agent] = body["agents"]
    assert agent["host"] == "compute-1" and agent["bridges"][0]["dpid"] == f"{DPID:016x}"
    assert agent["bridges"][0]["applied"]["written"] == 2
    assert client.call("GET", "/v1/agents", token="acme-token")[0] == 403


def test_listen_addresses() -> None:
    assert parse_listen("") is None
    assert parse_listen("127.0.0.1:29055") == ("127.0.0.1", 29055)
    assert parse_listen("[::1]:29055") == ("::1", 29055)
    for bad in ("29055", "host:", "host:99999", ":5"):
        with pytest.raises(ValueError, match="HOST:PORT"):
            parse_listen(bad)


def test_tls_carries_the_agent_and_a_plain_client_is_dropped(tmp_path: Path) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate")
    cert, key = tmp_path / "agent.pem", tmp_path / "agent.key"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    registry = AgentRegistry()
    listener = AgentListener(
        ("127.0.0.1", 0), TOKEN.encode(), registry, lambda dpid: BridgeRows(), tls=server
    )
    listener.start()
    stopping = threading.Event()
    settings = Settings(
        listener.address, TOKEN, "compute-tls", 0.2, 0.1, 0.2,
        ssl.create_default_context(cafile=str(cert)), "localhost",
    )  # fmt: skip
    thread = threading.Thread(target=Agent(settings, FakeOvsdb, stopping).run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: registry.dpids() == {DPID}, what="the agent over TLS")
        with socket.create_connection(listener.address, timeout=5) as plain:
            plain.sendall(protocol.encode(protocol.hello(TOKEN, "plain", "1")))
            assert closed(plain)
        assert [a["host"] for a in registry.view()] == ["compute-tls"]
    finally:
        stopping.set()
        thread.join(5)
        listener.stop()


def test_a_peer_gone_right_after_its_hello_leaves_no_agent_behind(rig: Rig) -> None:
    for _ in range(20):
        sock = rig.connect()
        protocol.write_message(sock, protocol.hello(TOKEN, "flaky", "1"))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()  # a reset, before or while the welcome is written
    wait_until(
        lambda: not any(a["connected"] for a in rig.registry.view()),
        timeout=rig.listener.heartbeat_timeout + 3,
        what="no connected agent",
    )


def test_a_hello_larger_than_a_hello_is_dropped_before_its_token_is_read(rig: Rig) -> None:
    with rig.connect() as sock:
        sock.sendall(protocol.HEADER.pack(protocol.MAX_HELLO + 1) + b"x" * 100)
        assert closed(sock)
    assert rig.registry.view() == []


def test_the_agent_beats_at_least_three_times_per_controller_timeout() -> None:
    assert heartbeat_interval(10.0, {"heartbeat_timeout": 30.0}) == 10.0
    assert heartbeat_interval(30.0, {"heartbeat_timeout": 30.0}) == 10.0
    assert heartbeat_interval(10.0, {"heartbeat_timeout": 6}) == 2.0
    assert heartbeat_interval(10.0, {}) == 10.0
    assert heartbeat_interval(10.0, {"heartbeat_timeout": True}) == 10.0
