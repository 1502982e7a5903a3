#!/usr/bin/env python3
"""Install benchmark: from POST /v1/reservations to flows and meters confirmed on the switches.

    .venv/bin/python tools/bench_install.py            # as root; the README figures
    .venv/bin/python tools/bench_install.py --quick    # 50 per path, burst of 200

A private ovs-vswitchd (dummy datapath) runs six bridges in a line, b1..b6,
joined by patch ports, with h1 on b1, h3 on b3 and h6 on b6; a real
tegu-manager controls them. It measures:

* latency, one reservation at a time, from the POST to its answer saying
  ``enforcement.status == "installed"`` (``POST ...?wait=5``: every switch of
  the path has answered the barrier after its flows and meters): h1-h3
  (3 switches) and h1-h6 (6 switches), p50 and p99;
* a burst: N reservations posted by 8 concurrent clients, and the time until
  all are installed, as reservations/s and flows/s;
* beside it, on the same bridges, how fast ``ovs-ofctl add-flows`` installs
  the same number of flows: the switch's own limit, and our ratio to it.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from controller_process import ControllerProcess
from privateovs import PrivateOvs

BRIDGES = 6
CLIENTS = 8
HOSTS = {"h1": 1, "h3": 3, "h6": 6}


def static_topology() -> dict[str, object]:
    return {
        "switches": [f"{n:016x}" for n in range(1, BRIDGES + 1)],
        "hosts": [
            {
                "name": name,
                "mac": f"00:00:00:00:00:{bridge:02x}",
                "ips": [f"10.0.0.{bridge}"],
                "attach": f"{bridge:016x}:1",
            }
            for name, bridge in HOSTS.items()
        ],
    }


def build(ovs: PrivateOvs, of_port: int) -> None:
    for n in range(1, BRIDGES + 1):
        ovs.add_bridge(f"b{n}", n, of_port)
    for name, bridge in HOSTS.items():
        ovs.add_host_port(f"b{bridge}", name, 1)
    for n in range(1, BRIDGES):
        ovs.add_patch(f"b{n}", 3, f"b{n + 1}", 2)


def ready(controller: ControllerProcess) -> bool:
    status, topo = controller.get("/v1/topology")
    if status != 200:
        return False
    connected = [s for s in topo["switches"] if s["connected"]]
    links = sum(link["up"] for link in topo["links"])
    return (
        len(connected) == BRIDGES
        and links == 2 * (BRIDGES - 1)
        and all(s["sync"] == "synced" for s in connected)
    )


_SESSIONS = threading.local()


def post(controller: ControllerProcess, dst: str, port: int, wait: float = 0) -> dict[str, Any]:
    """One reservation, on this thread's own keep-alive connection (as a real client would);
    with ``wait``, answered once its switches hold it."""
    if not hasattr(_SESSIONS, "session"):
        _SESSIONS.session = requests.Session()
    body = {
        "src": "h1",
        "dst": dst,
        "bandwidth": "1M",
        "duration": 3600,
        "protocol": "tcp",
        "dst_port": port,
    }
    url = f"{controller.url}/v1/reservations" + (f"?wait={wait}" if wait else "")
    reply = _SESSIONS.session.post(url, json=body, timeout=60)
    if reply.status_code != 201:
        raise RuntimeError(f"reservation refused: {reply.text}")
    made: dict[str, Any] = reply.json()
    return made


def installed(controller: ControllerProcess, rid: str) -> bool:
    return bool(
        controller.request("GET", f"/v1/reservations/{rid}")[1]["enforcement"]["status"]
        == "installed"
    )


def latencies(controller: ControllerProcess, dst: str, count: int, first_port: int) -> list[float]:
    result = []
    for n in range(count):
        began = time.perf_counter()
        made = post(controller, dst, first_port + n, wait=5)
        while made["enforcement"]["status"] != "installed":
            made = controller.request("GET", f"/v1/reservations/{made['id']}?wait=5")[1]
        result.append(time.perf_counter() - began)
    return result


def burst(controller: ControllerProcess, count: int, first_port: int) -> tuple[float, float, int]:
    """``count`` reservations posted by 8 clients at once: seconds until all are installed,
    seconds until the last was answered, and how many there were."""
    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        ids = {
            made["id"]
            for made in pool.map(lambda n: post(controller, "h6", first_port + n), range(count))
        }
    answered = time.perf_counter() - began
    while (waiting := _first_pending(controller)) is not None:
        while not installed(controller, waiting):
            time.sleep(0.005)
    return time.perf_counter() - began, answered, len(ids)


def _first_pending(controller: ControllerProcess) -> str | None:
    """A reservation whose flows are not all confirmed yet, if there is one.

    The listing stops at the first it finds, and is asked again only once that
    one is installed, so watching costs the controller little while it installs.
    """
    query = "/v1/reservations?state=active&enforcement=pending&limit=1"
    found = controller.request("GET", query)[1]["reservations"]
    return str(found[0]["id"]) if found else None


def raw_add_flows(ovs: PrivateOvs, workdir: Path, flows_per_bridge: dict[str, int]) -> float:
    """Seconds ovs-ofctl add-flows takes for the same number of flows on the same bridges."""
    total = 0.0
    for bridge, count in flows_per_bridge.items():
        path = workdir / f"{bridge}.flows"
        lines = [
            f"table=7,priority=1000,cookie=0x42,tcp,in_port=2,nw_src=10.9.{n // 250}.{n % 250},"
            f"nw_dst=10.0.0.6,tp_dst={n % 60000 + 1},actions=output:3"
            for n in range(count)
        ]
        path.write_text("\n".join(lines) + "\n")
        began = time.perf_counter()
        ovs.ofctl("add-flows", bridge, str(path))
        total += time.perf_counter() - began
        ovs.ofctl("del-flows", bridge, "cookie=0x42/-1")
    return total


def reservation_flows(ovs: PrivateOvs) -> dict[str, int]:
    counts = {}
    for n in range(1, BRIDGES + 1):
        bridge = f"b{n}"
        counts[bridge] = sum(1 for f in ovs.flows(bridge) if f.cookie >> 40 == 0x7E9002)
    return counts


def ms(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    each, burst_size = (50, 200) if args.quick else (200, 1000)
    workdir = Path(tempfile.mkdtemp(prefix="bench-install-"))
    ovs = PrivateOvs(workdir / "ovs")
    ovs.start()
    controller = ControllerProcess(
        workdir / "controller",
        topology=static_topology(),
        options={
            "capacity_override_default": "100G",
            "discovery_settle": "0.5",
        },
    )
    try:
        controller.start()
        build(ovs, controller.of_port)
        controller.wait_for(lambda: ready(controller), timeout=30, what="bridges synced")
        three = latencies(controller, "h3", each, first_port=1)
        six = latencies(controller, "h6", each, first_port=10_000)
        before = reservation_flows(ovs)
        seconds, answered, count = burst(controller, burst_size, first_port=20_000)
        after = reservation_flows(ovs)
        burst_flows = {b: after[b] - before[b] for b in after}
        flows = sum(burst_flows.values())
        raw = raw_add_flows(ovs, workdir, burst_flows)
    finally:
        controller.stop()
        ovs.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"path     p50 ms  p99 ms  (POST to installed on every switch, {each} sequential each)")
    print(f"3 hops   {ms(three, 0.5):6.1f}  {ms(three, 0.99):6.1f}")
    print(f"6 hops   {ms(six, 0.5):6.1f}  {ms(six, 0.99):6.1f}")
    print(
        f"burst of {count}: {seconds:.2f} s = {count / seconds:.0f} reservations/s, "
        f"{flows} flows = {flows / seconds:.0f} flows/s (the last request answered after "
        f"{answered:.2f} s)"
    )
    print(
        f"ovs-ofctl add-flows, same {flows} flows on the same bridges: {raw:.2f} s = "
        f"{flows / raw:.0f} flows/s; tegu_ryu reaches {raw / seconds:.0%} of it"
    )
    print(f"(median latency over both paths: {statistics.median(three + six) * 1000:.1f} ms)")


if __name__ == "__main__":
    main()
