#!/usr/bin/env python3
"""Window edges: how long after a reservation's start its flows are on the switch, and after
its end they are gone.

    .venv/bin/python tools/bench_edges.py [--runs 10]      # as root

A private ovs-vswitchd (dummy datapath) with the three-bridge line of
``tools/bench_install.py`` style (h1 on b1, h3 on b3) and a real tegu-manager.
Each run books a reservation that starts 1.5 s ahead and lasts 1.5 s, then
polls ``ovs-ofctl dump-flows`` on the ingress bridge (every few milliseconds)
for the reservation's cookie: the first poll that sees its flows, after the
start, and the first that no longer sees them, after the end. Prints the
delays (what a tenant would see: enforcement late, or lingering).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from controller_process import ControllerProcess
from privateovs import PrivateOvs

HOSTS = {"h1": 1, "h3": 3}


def topology() -> dict[str, object]:
    return {
        "switches": [f"{n:016x}" for n in (1, 2, 3)],
        "hosts": [
            {"name": name, "mac": f"00:00:00:00:00:{bridge:02x}", "ips": [f"10.0.0.{bridge}"],
             "attach": f"{bridge:016x}:1"}
            for name, bridge in HOSTS.items()
        ],
    }  # fmt: skip


def holds(ovs: PrivateOvs, cookie: int) -> bool:
    return any(f.cookie == cookie for f in ovs.flows("b1"))


def first_change(ovs: PrivateOvs, cookie: int, present: bool, timeout: float) -> float:
    """The moment (Unix seconds) the switch first shows the flows present (or absent)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        seen = time.time()
        if holds(ovs, cookie) == present:
            return seen
        time.sleep(0.002)
    raise TimeoutError(f"flows never {'appeared' if present else 'left'}")


def ms(values: list[float]) -> str:
    return f"p50 {statistics.median(values) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-edges-"))
    ovs = PrivateOvs(workdir / "ovs")
    ovs.start()
    controller = ControllerProcess(
        workdir / "controller",
        topology=topology(),
        options={"capacity_override_default": "1G"},
    )
    starts: list[float] = []
    ends: list[float] = []
    try:
        controller.start()
        for n in (1, 2, 3):
            ovs.add_bridge(f"b{n}", n, controller.of_port)
        for name, bridge in HOSTS.items():
            ovs.add_host_port(f"b{bridge}", name, 1)
        ovs.add_patch("b1", 2, "b2", 2)
        ovs.add_patch("b2", 3, "b3", 2)
        controller.wait_for(
            lambda: (
                sum(link["up"] for link in controller.get("/v1/topology")[1]["links"]) == 4
                and all(
                    s["sync"] == "synced" for s in controller.get("/v1/topology")[1]["switches"]
                )
            ),
            timeout=30,
            what="three bridges synced",
        )
        for run in range(args.runs):
            start = time.time() + 1.5
            status, made = controller.request(
                "POST",
                "/v1/reservations",
                {"src": "h1", "dst": "h3", "bandwidth": "1M", "start": start, "duration": 1.5,
                 "protocol": "tcp", "dst_port": 1000 + run},
            )  # fmt: skip
            if status != 201:
                raise RuntimeError(f"refused: {made}")
            before = {f.cookie for f in ovs.flows("b1")}
            appeared, cookie = first_new_cookie(ovs, before, timeout=5)
            starts.append(appeared - start)
            ends.append(first_change(ovs, cookie, present=False, timeout=5) - (start + 1.5))
    finally:
        controller.stop()
        ovs.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"{args.runs} reservations of 1.5 s on a 3-switch path, polled on the ingress bridge:")
    print(f"  flows on the switch after the start:  {ms(starts)}")
    print(f"  flows gone from it after the end:     {ms(ends)}")


def first_new_cookie(ovs: PrivateOvs, before: set[int], timeout: float) -> tuple[float, int]:
    """When a flow with a cookie not in ``before`` first shows, and that cookie (the new
    reservation's: its serial is not in the API, so it is recognised by being new)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        seen = time.time()
        new = {f.cookie for f in ovs.flows("b1")} - before
        if new:
            return seen, min(new)
        time.sleep(0.002)
    raise TimeoutError("the reservation's flows never appeared")


if __name__ == "__main__":
    main()
