#!/usr/bin/env python3
"""What a mirror costs the traffic it copies, and how much of it reaches the collector.

    .venv/bin/python tools/bench_mirror.py [--runs 3]     # as root (mininet)

s1 - s2 - s3 (links shaped to 100 Mbit/s): h1 and h2 on s1, the collector c
on s3. Each run measures, with no mirror, then with a mirror of what s1
receives on h1's port sent to c two switches away (best effort, then with
50 Mbit/s booked for the copy):

* TCP from h1 to h2 as fast as it goes (iperf3, 4 s): what the copying
  costs the mirrored traffic (h1 to h2 crosses no shaped link);
* UDP from h1 to h2 at 40 Mbit/s (4 s): the copies c received per packet h1
  sent (interface counters) and what h2 lost.
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

from controller_process import ControllerProcess
from mininet.log import setLogLevel
from mininet.topo import Topo
from testbed import Testbed, running_testbed

CASES = [("no mirror", None), ("mirror, best effort", ""), ("mirror, 50M booked", "50M")]


class MirrorTopo(Topo):
    def build(self) -> None:  # type: ignore[override]
        s1, s2, s3 = (self.addSwitch(f"s{n}") for n in (1, 2, 3))
        self.addLink(self.addHost("h1"), s1)
        self.addLink(self.addHost("h2"), s1)
        self.addLink(self.addHost("c"), s3)
        self.addLink(s1, s2, bw=100)
        self.addLink(s2, s3, bw=100)


def packets(testbed: Testbed, host: str, direction: str) -> int:
    node = testbed.net.get(host)
    return int(node.cmd(f"cat /sys/class/net/{node.defaultIntf()}/statistics/{direction}_packets"))


def run_case(
    testbed: Testbed, controller: ControllerProcess, bandwidth: str | None
) -> tuple[float, float, float]:
    """(TCP Mbit/s h1 -> h2, copies at c per packet h1 sent, % of h1's UDP h2 lost)."""
    rid = None
    if bandwidth is not None:
        body = {
            "type": "mirror",
            "ports": ["h1"],
            "direction": "ingress",
            "output": "c",
            "duration": 120,
        }
        if bandwidth:
            body["bandwidth"] = bandwidth
        status, made = controller.request("POST", "/v1/reservations", body)
        if status != 201:
            raise RuntimeError(f"mirror refused: {made}")
        rid = made["id"]
        controller.wait_for(
            lambda: (
                controller.get(f"/v1/reservations/{rid}")[1]["enforcement"]["status"] == "installed"
            ),
            timeout=10,
            what="mirror installed",
        )
    h1, h2 = testbed.net.get("h1"), testbed.net.get("h2")
    tcp = json.loads(h1.cmd(f"iperf3 -c {h2.IP()} -p 5001 -t 4 -J"))
    time.sleep(0.5)
    sent, copied = packets(testbed, "h1", "tx"), packets(testbed, "c", "rx")
    udp = json.loads(h1.cmd(f"iperf3 -c {h2.IP()} -p 5001 -u -b 40M -t 4 -J"))
    time.sleep(0.5)
    sent, copied = packets(testbed, "h1", "tx") - sent, packets(testbed, "c", "rx") - copied
    if rid is not None:
        controller.request("DELETE", f"/v1/reservations/{rid}")
        time.sleep(1.0)
    return (
        float(tcp["end"]["sum_received"]["bits_per_second"]) / 1e6,
        copied / max(sent, 1),
        float(udp["end"]["sum"]["lost_percent"]),
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    setLogLevel("warning")
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name, _ in CASES}
    with (
        tempfile.TemporaryDirectory(prefix="bench-mirror-", ignore_cleanup_errors=True) as tmp,
        running_testbed(MirrorTopo(), Path(tmp)) as (testbed, controller),
    ):
        testbed.pingall()
        testbed.iperf_server("h2", 5001)
        for _ in range(args.runs):
            for name, bandwidth in CASES:
                results[name].append(run_case(testbed, controller, bandwidth))
    print(
        f"{'case':22} {'TCP h1->h2 Mbit/s':>24}   {'UDP 40M: copies/packet':>24}"
        f"   {'h2 loss %':>9}   ({args.runs} runs, min-max)"
    )
    for name, _ in CASES:
        tcp, ratio, loss = (sorted(values) for values in zip(*results[name], strict=True))
        print(
            f"{name:22} {tcp[0]:7.1f}-{tcp[-1]:7.1f} (med {statistics.median(tcp):6.1f})"
            f"   {ratio[0]:10.3f}-{ratio[-1]:.3f}"
            f"        {loss[0]:4.2f}-{loss[-1]:.2f}"
        )


if __name__ == "__main__":
    main()
