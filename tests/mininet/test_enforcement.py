"""Reservations kept with real traffic: iperf3 through OVS (userspace datapath), tc-shaped links.

Trunk: h1, h2 on s1; h3, h4 on s2; the s1-s2 trunk shaped to 50 Mbit/s.
h2 floods h4 with 80 Mbit/s of UDP over the same trunk while h1 sends TCP
to h3. (The diamond, two paths one of them booked, is ``test_paths.py``: one
mininet testbed per module, so that two never run at once.)
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Iterator
from typing import Any

import pytest
from controller_process import ControllerProcess
from mininet.topo import Topo
from testbed import Testbed, running_testbed

RESERVED_MBPS = 20.0


class TrunkTopo(Topo):
    def build(self) -> None:  # type: ignore[override]
        s1, s2 = self.addSwitch("s1"), self.addSwitch("s2")
        for host, switch in (("h1", s1), ("h2", s1), ("h3", s2), ("h4", s2)):
            self.addLink(self.addHost(host), switch)
        self.addLink(s1, s2, bw=50)


@pytest.fixture(scope="module")
def trunk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Testbed, ControllerProcess]]:
    workdir, options = tmp_path_factory.mktemp("trunk"), {"conformance_interval": "1"}
    with running_testbed(TrunkTopo(), workdir, options) as (testbed, controller):
        assert testbed.pingall() == 0
        yield testbed, controller


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


def test_a_reservation_shows_what_it_carried_and_what_it_dropped(
    trunk: tuple[Testbed, ControllerProcess],
) -> None:
    """UDP at 20M through a 20M reservation is carried whole; at 40M, half is dropped."""
    testbed, controller = trunk
    h1, h3 = testbed.net.get("h1"), testbed.net.get("h3")
    testbed.iperf_server("h3", 5003)
    made = reserve(
        controller, src="h1", dst="h3", bandwidth="20M", duration=120, protocol="udp", dst_port=5003
    )
    wait_installed(controller, made["id"])

    def measured_while_sending(rate: str) -> tuple[float, float]:
        sender = h1.popen(["iperf3", "-c", h3.IP(), "-p", "5003", "-u", "-b", rate, "-t", "4"])
        try:
            time.sleep(2.6)  # well inside the stream: the last reading covered a full second of it
            seen = controller.get(f"/v1/reservations/{made['id']}")[1]["measured"]["out"]
        finally:
            sender.wait(timeout=20)
        return seen["rate_bps"] / 1e6, seen["dropped_bps"] / 1e6

    carried, dropped = measured_while_sending("20M")
    assert 15 < carried < 25 and dropped < 3, (carried, dropped)
    carried, dropped = measured_while_sending("40M")
    assert 15 < carried < 25 and 12 < dropped < 26, (carried, dropped)
