#!/usr/bin/env python3
"""How meter settings decide what TCP gets from a reservation (mininet, real traffic, as root).

    .venv/bin/python tools/bench_meters.py [--runs N]

For each (reservation_burst_ms, meter_overhead) it runs the controller with a
trunk topology (h1, h2 on s1; h3, h4 on s2; s1-s2 shaped to 50 Mbit/s),
measures with iperf3 (4 s) what TCP from h1 to h3 gets under the flood
before any reservation, then reserves 20 Mbit/s of it and measures what it
gets alone and while h2 floods h4 with 80 Mbit/s of UDP over the trunk.
With ``--runs N`` each measurement is taken N times and shown as min-max
(median). These are the tight figures (reserved TCP within a few percent of
its rate) that ``tests/mininet/test_enforcement.py`` does not assert: they
need a quiet machine, the userspace datapath forwarding on the same cores.
"""

from __future__ import annotations

import argparse
import json
import statistics
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


def measure(burst_ms: int, overhead: int, runs: int) -> tuple[list[float], ...]:
    options = {"reservation_burst_ms": str(burst_ms), "meter_overhead": str(overhead)}
    with (
        tempfile.TemporaryDirectory(prefix="bench-meters-", ignore_cleanup_errors=True) as tmp,
        running_testbed(TrunkTopo(), Path(tmp), options) as (testbed, controller),
    ):
        testbed.pingall()
        testbed.iperf_server("h3", 5001)
        testbed.iperf_server("h4", 5002)
        unreserved = [tcp(testbed, flood=True) for _ in range(runs)]
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
        alone = [tcp(testbed, flood=False) for _ in range(runs)]
        return unreserved, alone, [tcp(testbed, flood=True) for _ in range(runs)]


def spread(values: list[float]) -> str:
    """One value as it is; several as min-max (median)."""
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{min(values):.2f}-{max(values):.2f} ({statistics.median(values):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1, help="measurements of each kind")
    args = parser.parse_args()
    setLogLevel("error")
    width = 22 if args.runs > 1 else 9
    print(
        f"burst ms  overhead %  {'unreserved under flood':>{width}}  {'TCP alone':>{width}}  "
        f"{'TCP under flood':>{width}}  (Mbit/s)"
    )
    for burst_ms, overhead in SETTINGS:
        unreserved, alone, flooded = measure(burst_ms, overhead, args.runs)
        print(
            f"{burst_ms:>8}  {overhead:>10}  {spread(unreserved):>{width}}  "
            f"{spread(alone):>{width}}  {spread(flooded):>{width}}",
            flush=True,
        )


if __name__ == "__main__":
    main()
