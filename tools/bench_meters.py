#!/usr/bin/env python3
"""How meter settings decide what TCP gets from a reservation (mininet, real traffic, as root).

    .venv/bin/python tools/bench_meters.py

For each (reservation_burst_ms, meter_overhead) it runs the controller with a
trunk topology (h1, h2 on s1; h3, h4 on s2; s1-s2 shaped to 50 Mbit/s),
measures with iperf3 (4 s) what TCP from h1 to h3 gets under the flood
before any reservation, then reserves 20 Mbit/s of it and measures what it
gets alone and while h2 floods h4 with 80 Mbit/s of UDP over the trunk.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mininet.log import setLogLevel
from mininet.topo import Topo
from testbed import Testbed, running_testbed

SETTINGS = [(100, 0), (300, 0), (100, 5), (300, 5)]


class TrunkTopo(Topo):
    def build(self) -> None:  # type: ignore[override]
        s1, s2 = self.addSwitch("s1"), self.addSwitch("s2")
        for host, switch in (("h1", s1), ("h2", s1), ("h3", s2), ("h4", s2)):
            self.addLink(self.addHost(host), switch)
        self.addLink(s1, s2, bw=50)


def tcp(testbed: Testbed, flood: bool) -> float:
    h1, h2, h3, h4 = (testbed.net.get(name) for name in ("h1", "h2", "h3", "h4"))
    process = None
    if flood:
        process = h2.popen(["iperf3", "-c", h4.IP(), "-p", "5002", "-u", "-b", "80M", "-t", "7"])
        time.sleep(1.5)
    report = json.loads(h1.cmd(f"iperf3 -c {h3.IP()} -p 5001 -t 4 -J"))
    if process is not None:
        process.wait(timeout=15)
    time.sleep(0.5)
    return float(report["end"]["sum_received"]["bits_per_second"]) / 1e6


def measure(burst_ms: int, overhead: int) -> tuple[float, float, float]:
    options = {"reservation_burst_ms": str(burst_ms), "meter_overhead": str(overhead)}
    with (
        tempfile.TemporaryDirectory(prefix="bench-meters-", ignore_cleanup_errors=True) as tmp,
        running_testbed(TrunkTopo(), Path(tmp), options) as (testbed, controller),
    ):
        testbed.pingall()
        testbed.iperf_server("h3", 5001)
        testbed.iperf_server("h4", 5002)
        unreserved = tcp(testbed, flood=True)
        body = {
            "src": "h1",
            "dst": "h3",
            "bandwidth": "20M",
            "protocol": "tcp",
            "dst_port": 5001,
            "duration": 300,
        }
        _, made = controller.request("POST", "/v1/reservations", body)
        controller.wait_for(
            lambda: (
                controller.request("GET", f"/v1/reservations/{made['id']}")[1]["enforcement"][
                    "status"
                ]
                == "installed"
            ),
            timeout=15,
            what="installed",
        )
        return unreserved, tcp(testbed, flood=False), tcp(testbed, flood=True)


def main() -> None:
    setLogLevel("error")
    print("burst ms  overhead %  unreserved under flood  TCP alone  TCP under flood  (Mbit/s)")
    for burst_ms, overhead in SETTINGS:
        unreserved, alone, flooded = measure(burst_ms, overhead)
        print(
            f"{burst_ms:>8}  {overhead:>10}  {unreserved:>22.2f}  {alone:>9.2f}  {flooded:>15.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
