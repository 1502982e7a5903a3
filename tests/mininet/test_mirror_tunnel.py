"""A mirror whose copies are tunnelled over GRE to a collector outside the fabric, with real
traffic: tcpdump in the collector's network namespace sees h1's echo requests encapsulated
while the mirror lasts and nothing from a second after it is cancelled.

s1 (h1, h2) is the controlled switch. The underlay is a standalone userspace bridge ``tun-u1``
of the same ovs-vswitchd holding the local tunnel address 10.99.0.1, with the collector's
namespace behind it at 10.99.0.3 (on the userspace datapath a tunnel port's underlay must be an
OVS bridge: README, "Remote collectors"). The controller reads and writes the machine's own
OVSDB, where mininet's bridges live.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from controller_process import ControllerProcess
from mininet.topo import Topo
from testbed import Testbed, running_testbed, wait_until

UNDERLAY, NAMESPACE = "tun-u1", "tegu-sink"
LOCAL, REMOTE = "10.99.0.1", "10.99.0.3"


class OneSwitch(Topo):
    def build(self) -> None:  # type: ignore[override]
        s1 = self.addSwitch("s1")
        self.addLink(self.addHost("h1"), s1)
        self.addLink(self.addHost("h2"), s1)


def run(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def underlay() -> Iterator[None]:
    """The bridge with the tunnel's local address, and the collector's namespace behind it."""
    run("ovs-vsctl", "--may-exist", "add-br", UNDERLAY, "--", "set", "bridge", UNDERLAY,
        "datapath_type=netdev")  # fmt: skip
    run("ip", "netns", "add", NAMESPACE)
    try:
        run("ip", "link", "add", "tun-u1-c", "type", "veth", "peer", "name", "tun-c0")
        run("ip", "link", "set", "tun-c0", "netns", NAMESPACE)
        run("ovs-vsctl", "add-port", UNDERLAY, "tun-u1-c")
        run("ip", "link", "set", "tun-u1-c", "up")
        run("ip", "netns", "exec", NAMESPACE, "ip", "addr", "add", f"{REMOTE}/24", "dev", "tun-c0")
        run("ip", "netns", "exec", NAMESPACE, "ip", "link", "set", "tun-c0", "up")
        run("ip", "netns", "exec", NAMESPACE, "ethtool", "-K", "tun-c0", "tx", "off")
        run("ip", "addr", "add", f"{LOCAL}/24", "dev", UNDERLAY)
        run("ip", "link", "set", UNDERLAY, "up")
        run("ovs-appctl", "ovs/route/add", f"{REMOTE}/24", UNDERLAY)
        yield
    finally:
        for undo in (
            ["ovs-appctl", "ovs/route/del", f"{REMOTE}/24"],
            ["ovs-vsctl", "--if-exists", "del-br", UNDERLAY],
            ["ip", "link", "del", "tun-u1-c"],
            ["ip", "netns", "del", NAMESPACE],
        ):
            subprocess.run(undo, check=False, capture_output=True)  # whatever was made


@pytest.fixture(scope="module")
def fabric(
    underlay: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Testbed, ControllerProcess]]:
    options = {
        "mirror_min_duration": "2",
        "ovsdb_remotes": "unix:/var/run/openvswitch/db.sock",
        "mirror_allowed_remotes": "10.99.0.0/24",
    }
    with running_testbed(OneSwitch(), tmp_path_factory.mktemp("tunnel"), options) as running:
        assert running[0].pingall() == 0
        yield running


class GreCapture:
    """tcpdump of GRE in the collector's namespace: the time of each encapsulated echo request."""

    def __init__(self, workdir: Path) -> None:
        self.file = workdir / "sink.txt"
        self.process = subprocess.Popen(
            ["ip", "netns", "exec", NAMESPACE, "tcpdump", "-i", "tun-c0", "-n", "-l", "-tt",
             "proto", "gre"],
            stdout=self.file.open("w"),
            stderr=subprocess.PIPE,
        )  # fmt: skip
        assert self.process.stderr is not None
        self.process.stderr.readline()  # "listening on ...": it is capturing
        time.sleep(0.2)

    def requests(self) -> list[float]:
        return [
            float(line.split()[0])
            for line in self.file.read_text().splitlines()
            if "GRE" in line and "echo request" in line
        ]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=5)


def test_the_remote_collector_gets_encapsulated_copies_until_the_mirror_ends(
    fabric: tuple[Testbed, ControllerProcess], tmp_path: Path
) -> None:
    testbed, controller = fabric
    status, made = controller.request(
        "POST",
        "/v1/reservations",
        {
            "type": "mirror",
            "ports": ["h1"],
            "direction": "ingress",
            "output": {"tunnel": "gre", "remote_ip": REMOTE},
            "duration": 120,
        },
    )
    assert status == 201, made
    port = made["output"]["port_name"]
    assert wait_until(lambda: port in run("ovs-vsctl", "list-ports", "s1").split(), timeout=10)
    capture = GreCapture(tmp_path)
    h1, h2 = testbed.net.get("h1"), testbed.net.get("h2")
    try:
        assert wait_until(
            lambda: (
                "0% packet loss" in h1.cmd(f"ping -n -c 1 -W 1 {h2.IP()}")
                and len(capture.requests()) > 0
            ),
            timeout=10,
        ), "no encapsulated copy reached the collector"
        before = len(capture.requests())
        out = h1.cmd(f"ping -n -c 10 -i 0.05 -W 1 {h2.IP()}")
        assert " 0% packet loss" in out
        assert wait_until(lambda: len(capture.requests()) >= before + 10, timeout=10)
        assert controller.request("DELETE", f"/v1/reservations/{made['id']}")[0] == 204
        cancelled = time.time()
        assert wait_until(
            lambda: port not in run("ovs-vsctl", "list-ports", "s1").split(), timeout=10
        ), "the tunnel port outlived its mirror"
        assert " 0% packet loss" in h1.cmd(f"ping -n -c 20 -i 0.05 -W 1 {h2.IP()}")
        assert [t for t in capture.requests() if t > cancelled + 1.0] == []
    finally:
        capture.stop()
