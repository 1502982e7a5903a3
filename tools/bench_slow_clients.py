#!/usr/bin/env python3
"""How the REST API fares with slow, silent and crowding clients (a real tegu-manager).

Opens IDLE silent connections and TRICKLING ones that send a header byte every
200 ms, then times GET /v1/health while they hang on; then CLIENTS concurrent
clients each make REQUESTS requests on fresh connections and the resets and
timeouts are counted. Prints the figures README "Limits and failure behaviour"
quotes.

    .venv/bin/python tools/bench_slow_clients.py [--idle 200] [--trickling 200]
        [--clients 100] [--requests 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from controller_process import ControllerProcess
from slow_clients import slow_clients

STATIC = Path(__file__).resolve().parents[1] / "conf" / "static-topology.json"


def health_ms(url: str) -> float:
    began = time.perf_counter()
    requests.get(f"{url}/v1/health", timeout=10).raise_for_status()
    return (time.perf_counter() - began) * 1000


def crowd(url: str, clients: int, per_client: int) -> tuple[int, int, float]:
    """(answered, failed, seconds) for ``clients`` threads making fresh-connection requests."""
    answered, failed = [0], [0]
    lock = threading.Lock()

    def client() -> None:
        for _ in range(per_client):
            try:
                ok = requests.get(
                    f"{url}/v1/health", timeout=10, headers={"Connection": "close"}
                ).ok
            except requests.RequestException:
                ok = False
            with lock:
                answered[0] += ok
                failed[0] += not ok

    threads = [threading.Thread(target=client) for _ in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answered[0], failed[0], time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=int, default=200)
    parser.add_argument("--trickling", type=int, default=200)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tegu-bench-slow-") as work:
        controller = ControllerProcess(Path(work), options={"static_topology": str(STATIC)})
        controller.start()
        try:
            quiet = [health_ms(controller.url) for _ in range(50)]
            address = ("127.0.0.1", controller.api_port)
            with slow_clients(address, args.idle, args.trickling):
                time.sleep(1)  # let the trickling clients get going
                busy = [health_ms(controller.url) for _ in range(50)]
            answered, failed, took = crowd(controller.url, args.clients, args.requests)
        finally:
            controller.stop()
    print(
        f"health, quiet:                  p50 {statistics.median(quiet):.1f} ms, "
        f"max {max(quiet):.1f} ms"
    )
    print(
        f"health, {args.idle} idle + {args.trickling} trickling sockets: "
        f"p50 {statistics.median(busy):.1f} ms, max {max(busy):.1f} ms"
    )
    print(
        f"{args.clients} concurrent clients x {args.requests} requests: {answered} answered, "
        f"{failed} failed (reset or timeout), {answered / took:.0f} requests/s"
    )


if __name__ == "__main__":
    main()
