#!/usr/bin/env python3
"""What a reservation's meter counters say it carried and dropped, against what was sent.

    .venv/bin/python tools/bench_conformance.py [--runs 3]     # as root (mininet)

h1 on s1, h3 on s2, the s1-s2 trunk shaped to 50 Mbit/s; a 20 Mbit/s
reservation for UDP from h1 to h3 (port 5003), counters read every second.
Each run sends UDP with iperf3 for 4 s at 20 Mbit/s, then at 40 Mbit/s, and
reads the reservation's ``measured`` in the middle of each stream.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mininet.log import setLogLevel
from mininet.topo import Topo
from testbed import running_testbed

RATES = ("20M", "40M")


class TrunkTopo(Topo):
    def build(self) -> None:  # type: ignore[override]
        s1, s2 = self.addSwitch("s1"), self.addSwitch("s2")
        self.addLink(self.addHost("h1"), s1)
        self.addLink(self.addHost("h3"), s2)
        self.addLink(s1, s2, bw=50)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    setLogLevel("warning")
    seen: dict[str, list[tuple[float, float]]] = {rate: [] for rate in RATES}
    with (
        tempfile.TemporaryDirectory(prefix="bench-conformance-", ignore_cleanup_errors=True) as tmp,
        running_testbed(TrunkTopo(), Path(tmp), {"conformance_interval": "1"}) as (
            testbed,
            controller,
        ),
    ):
        h1, h3 = testbed.net.get("h1"), testbed.net.get("h3")
        testbed.iperf_server("h3", 5003)
        body = {"src": "h1", "dst": "h3", "bandwidth": "20M", "duration": 3600}
        status, made = controller.request(
            "POST", "/v1/reservations?wait=10", {**body, "protocol": "udp", "dst_port": 5003}
        )
        if status != 201 or made["enforcement"]["status"] != "installed":
            raise RuntimeError(f"reservation not installed: {made}")
        for _ in range(args.runs):
            for rate in RATES:
                sender = h1.popen(
                    ["iperf3", "-c", h3.IP(), "-p", "5003", "-u", "-b", rate, "-t", "4"]
                )
                time.sleep(2.6)  # the last reading covers a whole second of the stream
                measured = controller.get(f"/v1/reservations/{made['id']}")[1]["measured"]["out"]
                sender.wait(timeout=20)
                seen[rate].append((measured["rate_bps"] / 1e6, measured["dropped_bps"] / 1e6))
                time.sleep(1)
    print(f"UDP sent    carried Mbit/s    dropped Mbit/s   (20 Mbit/s reserved; {args.runs} runs)")
    for rate in RATES:
        carried = sorted(c for c, _ in seen[rate])
        dropped = sorted(d for _, d in seen[rate])
        span = f"{carried[0]:5.1f}-{carried[-1]:5.1f}       {dropped[0]:5.1f}-{dropped[-1]:5.1f}"
        print(f"{rate:>8}    {span}")


if __name__ == "__main__":
    main()
