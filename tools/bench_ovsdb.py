#!/usr/bin/env python3
"""How fast tegu_ryu's OVSDB rows follow the reservations, and what a restart writes.

    .venv/bin/python tools/bench_ovsdb.py [--reservations 200] [--mirrors 20]   # as root

A private ovsdb-server and ovs-vswitchd (dummy datapath, ``tools/privateovs.py``)
with one bridge of 64 host ports, under a tegu-manager that enforces with
queues on it (``enforcement_override = DPID=queues``) and may tunnel mirror
copies to 10.99.0.0/24. It prints:

* queue rows: from the POST of one reservation to its QoS and Queue rows being
  in OVSDB (median and worst of 20, 0.2 s apart: back to back, the sync's
  0.1 s spacing would be measured), then the time for a burst of N
  reservations to all have their queues;
* tunnel ports: from the POST of a mirror with a GRE output to its port in
  OVSDB, and from its DELETE to the port gone (median and worst);
* repair: from a QoS cleared by hand to it being back (resync_interval 1 s);
* restart: the OVSDB row changes a restart with everything in place writes
  (the controller's log), and the time until it has looked.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from controller_process import ControllerProcess
from privateovs import PrivateOvs

DPID, BRIDGE, PORTS = 0x91, "bq1", 64


def topology() -> dict[str, object]:
    return {
        "switches": [f"{DPID:016x}"],
        "hosts": [
            {
                "name": f"h{n}",
                "mac": f"00:00:00:00:01:{n:02x}",
                "ips": [f"10.1.0.{n}"],
                "attach": f"{DPID:016x}:{n}",
            }
            for n in range(1, PORTS + 1)
        ],
    }


def wait(condition: object, timeout: float = 30.0) -> float:
    """Seconds until ``condition()`` held (polled every 5 ms); raises after ``timeout``."""
    start = time.monotonic()
    while not condition():  # type: ignore[operator]
        if time.monotonic() - start > timeout:
            raise TimeoutError("the rows did not follow")
        time.sleep(0.005)
    return time.monotonic() - start


def figures(label: str, samples: list[float]) -> None:
    print(
        f"{label:44s} median {statistics.median(samples) * 1000:7.1f} ms   "
        f"worst {max(samples) * 1000:7.1f} ms   ({len(samples)})"
    )


def queues_held(ovs: PrivateOvs) -> int:
    return ovs.vsctl("--bare", "--columns=_uuid", "list", "queue").count("-") // 4


def bench_queues(controller: ControllerProcess, ovs: PrivateOvs, burst: int) -> None:
    single = []
    for n in range(20):
        time.sleep(0.2)  # apart: the sync writes at most once per 0.1 s (watcher.SPACING)
        held = queues_held(ovs)
        body = {"src": "h1", "dst": f"h{2 + n}", "bandwidth": "1M", "duration": 3600}
        status, made = controller.request("POST", "/v1/reservations", body)
        assert status == 201, made
        single.append(wait(lambda held=held: queues_held(ovs) >= held + 2))
    figures("one reservation: POST to its queues", single)
    held = queues_held(ovs)
    start = time.monotonic()
    for n in range(burst):
        src, dst = 2 + n % (PORTS - 1), 2 + (n + 1 + n // (PORTS - 1)) % (PORTS - 1)
        body = {
            "src": f"h{src}",
            "dst": f"h{1 if src == dst else dst}",
            "bandwidth": "100k",
            "duration": 3600,
        }
        status, made = controller.request("POST", "/v1/reservations", body)
        assert status == 201, made
    posted = time.monotonic() - start
    wait(lambda: queues_held(ovs) >= held + 2 * burst, timeout=120)
    print(
        f"burst of {burst} reservations: posted in {posted:.2f} s, every queue in OVSDB "
        f"after {time.monotonic() - start:.2f} s"
    )


def bench_tunnels(controller: ControllerProcess, ovs: PrivateOvs, mirrors: int) -> None:
    added, removed = [], []
    for _ in range(mirrors):
        time.sleep(0.2)
        body = {
            "type": "mirror",
            "ports": ["h1"],
            "output": {"tunnel": "gre", "remote_ip": "10.99.0.3"},
            "duration": 600,
        }
        status, made = controller.request("POST", "/v1/reservations", body)
        assert status == 201, made
        name = made["output"]["port_name"]
        added.append(wait(lambda name=name: name in ovs.vsctl("list-ports", BRIDGE)))
        time.sleep(0.2)
        start = time.monotonic()
        assert controller.request("DELETE", f"/v1/reservations/{made['id']}")[0] == 204
        wait(lambda name=name: name not in ovs.vsctl("list-ports", BRIDGE))
        removed.append(time.monotonic() - start)
    figures("tunnelled mirror: POST to its GRE port", added)
    figures("tunnelled mirror: DELETE to the port gone", removed)


def bench_repair_and_restart(controller: ControllerProcess, ovs: PrivateOvs) -> None:
    repairs = []
    for _ in range(5):
        ovs.vsctl("clear", "port", "bq1-h2", "qos")
        repairs.append(wait(lambda: ovs.vsctl("get", "port", "bq1-h2", "qos").strip() != "[]"))
    figures("QoS cleared by hand to put back", repairs)
    after = controller.restart_and_sync_rows(1, syncs=3)
    writes = [line for line in after.splitlines() if "ovsdb.watcher" in line and "OVSDB" in line]
    print(f"restart with {queues_held(ovs)} queues in place: {len(writes)} OVSDB writes")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reservations", type=int, default=200)
    parser.add_argument("--mirrors", type=int, default=20)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-ovsdb-"))
    (workdir / "ovs").mkdir()
    (workdir / "controller").mkdir()
    ovs = PrivateOvs(workdir / "ovs")
    ovs.start()
    controller = ControllerProcess(
        workdir / "controller",
        topology=topology(),
        options={
            "ovsdb_remotes": f"unix:{ovs.rundir / 'db.sock'}",
            "enforcement_override": f"{DPID:016x}=queues",
            "mirror_allowed_remotes": "10.99.0.0/24",
            "mirror_min_duration": "1",
            "resync_interval": "1",
            "discovery_settle": "1",
        },
    )
    try:
        controller.start()
        ovs.add_bridge(BRIDGE, DPID, controller.of_port)
        for n in range(1, PORTS + 1):
            ovs.add_host_port(BRIDGE, f"bq1-h{n}", n)
        controller.wait_for_sync(1, 0)
        bench_queues(controller, ovs, args.reservations)
        bench_tunnels(controller, ovs, args.mirrors)
        bench_repair_and_restart(controller, ovs)
    finally:
        controller.stop()
        ovs.stop()


if __name__ == "__main__":
    main()
