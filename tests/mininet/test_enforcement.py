"""Reservations kept with real traffic: iperf3 through OVS (userspace datapath), tc-shaped links.

Trunk: h1, h2 on s1; h3, h4 on s2; the s1-s2 trunk shaped to 50 Mbit/s.
h2 floods h4 with 80 Mbit/s of UDP over the same trunk while h1 sends TCP
to h3. Diamond: two paths from s1 to s4, the short one already booked.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from controller_process import ControllerProcess, free_port
from mininet.topo import Topo
from testbed import Testbed

RESERVED_MBPS = 20.0


class TrunkTopo(Topo):
    def build(self) -> None:  # type: ignore[override]
        s1, s2 = self.addSwitch("s1"), self.addSwitch("s2")
        for host, switch in (("h1", s1), ("h2", s1), ("h3", s2), ("h4", s2)):
            self.addLink(self.addHost(host), switch)
        self.addLink(s1, s2, bw=50)


class DiamondTopo(Topo):
    """s1 - s2 - s4 (short) and s1 - s3 - s5 - s4 (long), every switch link 50 Mbit/s."""

    def build(self) -> None:  # type: ignore[override]
        s = {n: self.addSwitch(f"s{n}") for n in range(1, 6)}
        self.addLink(self.addHost("h1"), s[1])
        self.addLink(self.addHost("h4"), s[4])
        for a, b in ((1, 2), (2, 4), (1, 3), (3, 5), (5, 4)):
            self.addLink(s[a], s[b], bw=50)


def running(topo: Topo, workdir: Path, links: int) -> Iterator[tuple[Testbed, ControllerProcess]]:
    of_port = free_port()
    testbed = Testbed.build(topo, of_port=of_port)
    controller = ControllerProcess(
        workdir,
        topology=testbed.static_topology(),
        options={"capacity_override": testbed.capacity_overrides()},
        of_port=of_port,
    )
    try:
        controller.start()
        testbed.start()
        controller.wait_for(
            lambda: sum(lk["up"] for lk in controller.get("/v1/topology")[1]["links"]) == links,
            timeout=30,
            what=f"{links} directed links",
        )
        assert testbed.pingall() == 0
        yield testbed, controller
    finally:
        testbed.stop()
        controller.stop()


@pytest.fixture(scope="module")
def trunk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Testbed, ControllerProcess]]:
    yield from running(TrunkTopo(), tmp_path_factory.mktemp("trunk"), links=2)


@pytest.fixture(scope="module")
def diamond(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Testbed, ControllerProcess]]:
    yield from running(DiamondTopo(), tmp_path_factory.mktemp("diamond"), links=10)


def tcp_under_flood(testbed: Testbed) -> tuple[float, float]:
    """Mbit/s h1's TCP got to h3 over 4 s, and what h2's UDP flood delivered to h4 meanwhile.

    The flood offers 80 Mbit/s to the 50 Mbit/s trunk; what it delivers says
    whether the trunk really was contested while the TCP ran.
    """
    h1, h2, h3, h4 = (testbed.net.get(name) for name in ("h1", "h2", "h3", "h4"))
    testbed.iperf_server("h3", 5001)
    testbed.iperf_server("h4", 5002)
    flood = h2.popen(["iperf3", "-c", h4.IP(), "-p", "5002", "-u", "-b", "80M", "-t", "7", "-J"])
    try:
        time.sleep(1.5)
        report = json.loads(h1.cmd(f"iperf3 -c {h3.IP()} -p 5001 -t 4 -J"))
    finally:
        flooded, _ = flood.communicate(timeout=15)
    flood_sum = json.loads(flooded)["end"]["sum"]
    sent = flood_sum["bits_per_second"] / 1e6
    assert sent > 70, f"the flood only reached {sent:.1f} Mbit/s; the measurement means nothing"
    delivered = sent * (1 - flood_sum["lost_percent"] / 100)
    return float(report["end"]["sum_received"]["bits_per_second"]) / 1e6, delivered


def reserve(controller: ControllerProcess, **fields: Any) -> dict[str, Any]:
    status, made = controller.request("POST", "/v1/reservations", fields)
    assert status == 201, made
    return made


def wait_installed(controller: ControllerProcess, rid: str) -> None:
    controller.wait_for(
        lambda: (
            controller.request("GET", f"/v1/reservations/{rid}")[1]["enforcement"]["status"]
            == "installed"
        ),
        timeout=15,
        what=f"{rid} installed",
    )


def reserved_tcp_flows(testbed: Testbed, switch: str) -> list[str]:
    """The flows on a switch that pick out h1's TCP to port 5001 (only a reservation adds those)."""
    dump = testbed.net.get(switch).cmd(
        f"ovs-ofctl -O OpenFlow13 dump-flows {switch} tcp,tp_dst=5001 --no-stats"
    )
    return [line for line in dump.splitlines() if "tp_dst=5001" in line]


def test_a_reservation_keeps_its_rate_against_a_flood_from_its_start(
    trunk: tuple[Testbed, ControllerProcess],
) -> None:
    """Before its start the reservation is only on the calendar; from its start it holds 20 Mbit/s.

    Throughput without a reservation varies too much here (2 to 24 Mbit/s,
    see tools/bench_meters.py) to assert on; what the flood delivered while
    the reserved TCP ran shows the trunk was contested. The userspace datapath
    forwards on the same two cores as everything else, so one 4 s run now and
    then falls short for want of CPU (the flood then falls short too): the
    median of three runs is what must reach 90 % of the reservation, which
    unprotected TCP (median 5.5 Mbit/s) never comes near.
    """
    testbed, controller = trunk
    start = time.time() + 6
    made = reserve(
        controller, src="h1", dst="h3", bandwidth=f"{RESERVED_MBPS:g}M", protocol="tcp",
        dst_port=5001, start=start, duration=120,
    )  # fmt: skip
    status = controller.request("GET", f"/v1/reservations/{made['id']}")[1]["enforcement"]
    assert status["status"] == "scheduled"
    assert reserved_tcp_flows(testbed, "s1") == []
    assert time.time() < start, "the check before the start ran late"
    controller.wait_for(lambda: time.time() > start, timeout=15, what="the start")
    wait_installed(controller, made["id"])
    assert reserved_tcp_flows(testbed, "s1") != []
    runs = [tcp_under_flood(testbed) for _ in range(3)]
    for with_reservation, flood_delivered in runs:
        print(f"TCP under flood: {with_reservation:.2f} Mbit/s reserved; "
              f"the flood delivered {flood_delivered:.2f}")  # fmt: skip
    assert statistics.median(r for r, _ in runs) >= 0.9 * RESERVED_MBPS
    assert max(r for r, _ in runs) <= 1.1 * RESERVED_MBPS, "the meter lets through no more"
    assert statistics.median(f for _, f in runs) > 20, "the flood filled what the rest left"


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
    report = json.loads(h1.cmd(f"iperf3 -c {h4.IP()} -p 5001 -t 2 -J"))
    received = int(report["end"]["sum_received"]["bytes"])
    long_delta = tx_bytes(testbed, "s1", "s3") - long_before
    short_delta = tx_bytes(testbed, "s1", "s2") - short_before
    assert received > 1_000_000
    assert long_delta >= received, "the reserved TCP went over s1-s3 (headers make it more)"
    assert short_delta < received / 10, "and not over the booked s1-s2"
