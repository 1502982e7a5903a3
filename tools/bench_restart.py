#!/usr/bin/env python3
"""Restart benchmark: N reservations on the switches, the controller restarted, what it costs.

    .venv/bin/python tools/bench_restart.py                 # as root; 10,000 reservations
    .venv/bin/python tools/bench_restart.py --count 2000 --kill

The six-bridge line of ``tools/bench_install.py`` (a private ovs-vswitchd,
dummy datapath) and a real tegu-manager. N reservations of 1 Mbit/s, h1 to h3
and h1 to h6 on distinct ports (9 flows each, on 3 or 6 switches), posted by
8 clients and waited for until installed. Then the controller is stopped
(SIGTERM, or SIGKILL with ``--kill``) and started again on the same state,
and the benchmark prints:

* time until the API answers again;
* time until every switch is connected and read back and every reservation
  reports ``installed``;
* the changes the controller sent after the restart (the README promises
  none), and the switch disconnects seen (Open vSwitch drops a controller
  that does not answer its echo requests within ``inactivity_probe``);
* what reading back cost: flows read and milliseconds, per switch and per flow.
"""

from __future__ import annotations

import argparse
import re
import shutil
import signal
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_install import BRIDGES, build, ready, static_topology
from controller_process import ControllerProcess
from privateovs import PrivateOvs

CLIENTS = 8


def post_all(controller: ControllerProcess, count: int) -> None:
    session = requests.Session()

    def post(n: int) -> None:
        body = {
            "src": "h1",
            "dst": "h3" if n % 2 else "h6",
            "bandwidth": "1M",
            "duration": 86400,
            "protocol": "tcp",
            "dst_port": n // 2 + 1,
        }
        reply = session.post(f"{controller.url}/v1/reservations", json=body, timeout=60)
        if reply.status_code != 201:
            raise RuntimeError(f"reservation refused: {reply.text}")

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        list(pool.map(post, range(count)))


def enforcement_counts(controller: ControllerProcess) -> dict[str, int]:
    """How many reservations report each enforcement status (every page)."""
    counts: dict[str, int] = {}
    cursor = ""
    while True:
        reply = requests.get(
            f"{controller.url}/v1/reservations?limit=10000{cursor}", timeout=120
        ).json()
        for reservation in reply["reservations"]:
            status = reservation["enforcement"]["status"]
            counts[status] = counts.get(status, 0) + 1
        if not reply["next"]:
            return counts
        cursor = f"&cursor={reply['next']}"


def all_installed(controller: ControllerProcess, count: int) -> bool:
    try:
        return enforcement_counts(controller).get("installed", 0) == count
    except requests.RequestException:
        return False


def restart(controller: ControllerProcess, count: int, kill: bool) -> dict[str, float]:
    """Stop (SIGTERM, or SIGKILL) and start again; seconds to each milestone."""
    stopped = time.perf_counter()
    if kill and controller.process is not None:
        controller.process.send_signal(signal.SIGKILL)
        controller.process.wait()
        controller.process = None
    else:
        controller.stop()
    restarted = time.perf_counter()
    controller.start()
    api_up = time.perf_counter() - restarted
    controller.wait_for(lambda: ready(controller), timeout=600, what="switches read back")
    synced = time.perf_counter() - restarted
    controller.wait_for(lambda: all_installed(controller, count), timeout=600, what="installed")
    return {
        "stop": restarted - stopped,
        "api": api_up,
        "synced": synced,
        "installed": time.perf_counter() - restarted,
    }


def report(
    count: int, kill: bool, installed_in: float, took: dict[str, float], *, log: str, ovs_log: str
) -> None:
    sent = sum(int(n) for n in re.findall(r"sent (\d+) changes", log))
    disconnects = len(re.findall(r"switch \w+ disconnected", log))
    probes = len(re.findall(r"inactivity probe", ovs_log))
    reads = [
        (int(f), int(m)) for f, m in re.findall(r"read back: (\d+) tegu flows in (\d+) ms", log)
    ]
    flows_read = sum(f for f, _ in reads)
    read_ms = sum(m for _, m in reads)
    slowest = max((m for _, m in reads), default=0)
    per_flow = read_ms / flows_read * 1000 if flows_read else 0.0
    print(f"{count} reservations on {BRIDGES} switches, installed in {installed_in:.1f} s")
    print(f"restart after {'SIGKILL' if kill else 'SIGTERM'} (stopped in {took['stop']:.1f} s):")
    print(f"  API up after                       {took['api']:6.2f} s")
    print(f"  every switch read back and synced  {took['synced']:6.2f} s")
    print(f"  every reservation installed        {took['installed']:6.2f} s")
    print(f"  changes sent after the restart     {sent}")
    print(f"  switch disconnects (controller)    {disconnects}")
    print(f"  inactivity-probe drops (ovs log)   {probes}")
    print(
        f"  read-backs: {len(reads)}, {flows_read} flows in {read_ms} ms "
        f"({per_flow:.0f} us per flow; slowest switch {slowest} ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--kill", action="store_true", help="SIGKILL instead of SIGTERM")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-restart-"))
    ovs = PrivateOvs(workdir / "ovs")
    ovs.start()
    controller = ControllerProcess(
        workdir / "controller",
        topology=static_topology(),
        options={"capacity_override_default": "100G"},
    )
    try:
        controller.start()
        build(ovs, controller.of_port)
        controller.wait_for(lambda: ready(controller), timeout=30, what="bridges synced")
        began = time.perf_counter()
        post_all(controller, args.count)
        controller.wait_for(
            lambda: all_installed(controller, args.count), timeout=3600, what="all installed"
        )
        installed_in = time.perf_counter() - began
        ovs_log_before, log_before = len(ovs.log()), len(controller.log())
        took = restart(controller, args.count, args.kill)
        time.sleep(3)  # anything sent late would show in the log now
        log, ovs_log = controller.log()[log_before:], ovs.log()[ovs_log_before:]
    finally:
        controller.stop()
        ovs.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    report(args.count, args.kill, installed_in, took, log=log, ovs_log=ovs_log)


if __name__ == "__main__":
    main()
