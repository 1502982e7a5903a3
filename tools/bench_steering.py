#!/usr/bin/env python3
"""What a steering chain costs the traffic it steers: round-trip time and TCP throughput.

    .venv/bin/python tools/bench_steering.py [--runs 3]     # as root (mininet)

s1 - s2 (unshaped): h1 and the middlebox mb1 on s1, h2 and mb2 on s2. The
middleboxes are Linux hosts forwarding by IP (``ip_forward=1``, redirects
off). Each run measures h1 to h2 with no chain, then with all their IP
traffic steered (both ways) through mb1, then through mb1 and mb2:

* ping, 50 echoes 20 ms apart: the median round trip, and what each
  middlebox adds to it;
* TCP as fast as it goes (iperf3, 3 s): Mbit/s through the chain.

On this machine everything (switches, hosts, routers) shares two cores, so
the throughput says what the chain costs here, not what a middlebox can do.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from controller_process import ControllerProcess
from mininet.log import setLogLevel
from mininet.topo import Topo
from testbed import Testbed, running_testbed

CHAINS = [("direct", []), ("through mb1", ["mb1"]), ("through mb1, mb2", ["mb1", "mb2"])]
IPERF_PORT = 5201


class ChainTopo(Topo):
    def build(self) -> None:  # type: ignore[override]
        s1, s2 = self.addSwitch("s1"), self.addSwitch("s2")
        self.addLink(self.addHost("h1"), s1)
        self.addLink(self.addHost("mb1"), s1)
        self.addLink(self.addHost("h2"), s2)
        self.addLink(self.addHost("mb2"), s2)
        self.addLink(s1, s2)


def run_chain(
    testbed: Testbed, controller: ControllerProcess, chain: list[str]
) -> tuple[float, float]:
    """(median ping RTT in ms, TCP Mbit/s) from h1 to h2 through ``chain``."""
    rid = None
    if chain:
        body = {"type": "steering", "src": "h1", "dst": "h2", "chain": chain, "duration": 600}
        status, made = controller.request("POST", "/v1/reservations?wait=10", body)
        if status != 201 or made["enforcement"]["status"] != "installed":
            raise RuntimeError(f"chain not installed: {made}")
        rid = made["id"]
    h1, h2 = testbed.net.get("h1"), testbed.net.get("h2")
    try:
        out = h1.cmd(f"ping -n -c 50 -i 0.02 {h2.IP()}")
        rtts = [float(ms) for ms in re.findall(r"time=([\d.]+) ms", out)]
        if len(rtts) < 45:
            raise RuntimeError(f"ping lost more than 10%: {out[-300:]}")
        report = json.loads(h1.cmd(f"iperf3 -c {h2.IP()} -p {IPERF_PORT} -t 3 -J"))
        mbps = report["end"]["sum_received"]["bits_per_second"] / 1e6
    finally:
        if rid is not None:
            controller.request("DELETE", f"/v1/reservations/{rid}")
    return statistics.median(rtts), mbps


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    setLogLevel("warning")
    results: dict[str, list[tuple[float, float]]] = {name: [] for name, _ in CHAINS}
    with (
        tempfile.TemporaryDirectory(prefix="bench-steering-", ignore_cleanup_errors=True) as tmp,
        running_testbed(ChainTopo(), Path(tmp)) as (testbed, controller),
    ):
        for name in ("mb1", "mb2"):
            testbed.router(name)
        testbed.pingall()
        testbed.iperf_server("h2", IPERF_PORT)
        for _ in range(args.runs):
            for name, chain in CHAINS:
                results[name].append(run_chain(testbed, controller, chain))
    direct = statistics.median(rtt for rtt, _ in results["direct"])
    print(
        f"{'h1 to h2':18} {'ping RTT ms (median)':>22} {'added per middlebox':>20}"
        f"   {'TCP Mbit/s':>22}   ({args.runs} runs, min-max)"
    )
    for name, chain in CHAINS:
        rtt, tcp = (sorted(values) for values in zip(*results[name], strict=True))
        added = (statistics.median(rtt) - direct) / len(chain) if chain else 0.0
        print(
            f"{name:18} {rtt[0]:9.3f}-{rtt[-1]:.3f} ms {added:16.3f} ms"
            f"   {tcp[0]:7.1f}-{tcp[-1]:7.1f} (med {statistics.median(tcp):6.1f})"
        )


if __name__ == "__main__":
    main()
