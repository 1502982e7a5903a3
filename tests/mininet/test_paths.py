"""Reserved traffic takes the path admission chose: iperf3 over a diamond whose short side
is booked. s1 - s2 - s4 (short) and s1 - s3 - s5 - s4 (long), every switch link 50 Mbit/s."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from controller_process import ControllerProcess
from mininet.topo import Topo
from testbed import Testbed, running_testbed

from .test_enforcement import reserve, wait_installed


class DiamondTopo(Topo):
    """s1 - s2 - s4 (short) and s1 - s3 - s5 - s4 (long), every switch link 50 Mbit/s."""

    def build(self) -> None:  # type: ignore[override]
        s = {n: self.addSwitch(f"s{n}") for n in range(1, 6)}
        self.addLink(self.addHost("h1"), s[1])
        self.addLink(self.addHost("h4"), s[4])
        for a, b in ((1, 2), (2, 4), (1, 3), (3, 5), (5, 4)):
            self.addLink(s[a], s[b], bw=50)


@pytest.fixture(scope="module")
def diamond(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Testbed, ControllerProcess]]:
    workdir, options = tmp_path_factory.mktemp("diamond"), {"conformance_interval": "1"}
    with running_testbed(DiamondTopo(), workdir, options) as (testbed, controller):
        assert testbed.pingall() == 0
        yield testbed, controller


def tx_bytes(testbed: Testbed, switch: str, neighbour: str) -> int:
    node = testbed.net.get(switch)
    intf = next(
        i
        for i in node.intfList()
        if i.link and neighbour in (i.link.intf1.node.name, i.link.intf2.node.name)
    )
    return int(node.cmd(f"cat /sys/class/net/{intf.name}/statistics/tx_bytes"))


def test_traffic_takes_the_longer_path_when_the_shorter_is_booked(
    diamond: tuple[Testbed, ControllerProcess],
) -> None:
    testbed, controller = diamond
    blocker = reserve(controller, src="h1", dst="h4", bandwidth="40M", protocol="udp", duration=120)
    assert [hop["dpid"] for hop in blocker["path"]["out"]] == [
        testbed.dpid(s) for s in ("s1", "s2", "s4")
    ]
    made = reserve(
        controller, src="h1", dst="h4", bandwidth="20M", protocol="tcp", dst_port=5001, duration=120
    )
    assert [hop["dpid"] for hop in made["path"]["out"]] == [
        testbed.dpid(s) for s in ("s1", "s3", "s5", "s4")
    ]
    wait_installed(controller, made["id"])
    h1, h4 = testbed.net.get("h1"), testbed.net.get("h4")
    testbed.iperf_server("h4", 5001)
    short_before, long_before = tx_bytes(testbed, "s1", "s2"), tx_bytes(testbed, "s1", "s3")
    # A fixed amount, not a fixed time: how much TCP moves in a second depends on spare CPU.
    report = json.loads(h1.cmd(f"iperf3 -c {h4.IP()} -p 5001 -n 2M -J"))
    received = int(report["end"]["sum_received"]["bytes"])
    long_delta = tx_bytes(testbed, "s1", "s3") - long_before
    short_delta = tx_bytes(testbed, "s1", "s2") - short_before
    assert received > 1_000_000
    assert long_delta >= received, "the reserved TCP went over s1-s3 (headers make it more)"
    assert short_delta < received / 10, "and not over the booked s1-s2"
