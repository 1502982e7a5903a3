#!/usr/bin/env python3
"""Admission benchmark: the pure engine on large synthetic networks, no switches.

    .venv/bin/python tools/bench_admission.py                 # the README table
    .venv/bin/python tools/bench_admission.py --quick         # a smaller run

For each topology (k=8 and k=16 fat-trees, a 200-switch random graph) and
each preload size, it books that many reservations with random endpoints,
rates (10 Mbit/s to 1 Gbit/s) and windows (10 min to a day) spread over a
week on 10 Gbit/s links, then times fresh requests one by one, a fifth of
them for 9.5 Gbit/s so that rejections are measured too: decisions per
second, p50/p99 latency of accepted and rejected requests, and the resident
memory of the process that ran it (one process per row).

The last row is the opposite load: a line of four switches with eight hosts
at each end and 25 Gbit/s links, where every reservation is 1 Mbit/s for an
hour starting within the same minute, so all of them cross the same trunk at
once and its calendar holds tens of thousands of steps.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import logging
import multiprocessing
import random
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import networkx as nx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tegu_ryu.errors import Conflict
from tegu_ryu.reservations.engine import Engine
from tegu_ryu.reservations.model import Bandwidth, Kind, Match
from tegu_ryu.reservations.paths import PathMode
from tegu_ryu.reservations.requests import ReservationRequest
from tegu_ryu.reservations.window import Window
from tegu_ryu.topology.capacity import CapacityPolicy
from tegu_ryu.topology.model import PortState, Topology
from tegu_ryu.topology.refs import LinkId, PortRef

WEEK = 7 * 86400
NOW = 1_800_000_000.0
TENANTS = [f"tenant{n}" for n in range(20)]


class NetworkBuilder:
    def __init__(self, capacity: str = "10G") -> None:
        self.topology = Topology(CapacityPolicy.from_config([], capacity, "10G"))
        self.ports: dict[int, int] = {}
        self.hosts = 0

    def port(self, dpid: int) -> int:
        self.ports[dpid] = self.ports.get(dpid, 0) + 1
        return self.ports[dpid]

    def link(self, a: int, b: int) -> None:
        forward = LinkId(PortRef(a, self.port(a)), PortRef(b, self.port(b)))
        self.topology.link_discovered(forward)
        self.topology.link_discovered(forward.reversed())

    def host(self, dpid: int) -> None:
        self.hosts += 1
        n = self.hosts
        mac = f"02:00:00:{n >> 16 & 255:02x}:{n >> 8 & 255:02x}:{n & 255:02x}"
        self.topology.host_seen(
            mac, PortRef(dpid, self.port(dpid)), f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
        )

    def finish(self) -> Topology:
        for dpid, count in self.ports.items():
            self.topology.switch_connected(dpid, [PortState(port=p) for p in range(1, count + 1)])
        return self.topology


def fat_tree(k: int) -> Topology:
    builder = NetworkBuilder()
    half = k // 2
    ids = iter(range(1, 10**6))
    cores = [next(ids) for _ in range(half * half)]
    for _ in range(k):
        aggs = [next(ids) for _ in range(half)]
        edges = [next(ids) for _ in range(half)]
        for i, agg in enumerate(aggs):
            for j in range(half):
                builder.link(agg, cores[i * half + j])
            for edge in edges:
                builder.link(agg, edge)
        for edge in edges:
            for _ in range(half):
                builder.host(edge)
    return builder.finish()


def random_graph(nodes: int, seed: int) -> Topology:
    """A connected random graph with average degree about 4, and one host per switch."""
    graph = nx.connected_watts_strogatz_graph(nodes, 4, 0.3, seed=seed)
    builder = NetworkBuilder()
    for a, b in graph.edges():
        builder.link(a + 1, b + 1)
    for node in graph.nodes():
        builder.host(node + 1)
    return builder.finish()


def dense_line() -> Topology:
    """s1 - s2 - s3 - s4 at 25 Gbit/s, hosts 1-8 on s1 and 9-16 on s4."""
    builder = NetworkBuilder("25G")
    for a in range(1, 4):
        builder.link(a, a + 1)
    for edge in (1, 4):
        for _ in range(8):
            builder.host(edge)
    return builder.finish()


def spread_request(
    rng: random.Random, hosts: list[str], serial: int, greedy: float = 0.0
) -> tuple[str, ReservationRequest]:
    """A request between two random hosts; with probability ``greedy`` one for 9.5 Gbit/s."""
    src, dst = rng.sample(hosts, 2)
    start = NOW + rng.uniform(0, WEEK)
    duration = rng.choice([600, 1800, 3600, 4 * 3600, 86400])
    rate = rng.choice([10, 50, 100, 200, 500, 1000]) * 10**6
    if rng.random() < greedy:
        rate = 9_500 * 10**6
    return rng.choice(TENANTS), _request(src, dst, rate, Window(start, start + duration), serial)


def dense_request(
    rng: random.Random, hosts: list[str], serial: int, greedy: float = 0.0
) -> tuple[str, ReservationRequest]:
    """1 Mbit/s for an hour from within the same minute, one end on s1 and the other on s4."""
    src, dst = rng.choice(hosts[:8]), rng.choice(hosts[8:])
    start = NOW + rng.uniform(0, 60)
    rate = 9_500 * 10**6 if rng.random() < greedy else 10**6
    return rng.choice(TENANTS), _request(src, dst, rate, Window(start, start + 3600), serial)


def _request(src: str, dst: str, rate: int, window: Window, serial: int) -> ReservationRequest:
    return ReservationRequest(
        kind=Kind.BANDWIDTH,
        src=src,
        dst=dst,
        bandwidth=Bandwidth(rate, rate // 4),
        window=window,
        match=Match(protocol="tcp", dst_port=1 + serial % 65000),
        dscp=None,
        path_mode=PathMode.SHORTEST,
        name=None,
    )


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class Result:
    name: str
    switches: int
    links: int
    preload: int
    booked: int
    preload_seconds: float
    accepted: list[float]
    rejected: list[float]
    memory_mib: float


def run(
    name: str, topology: Topology, preload: int, requests: int, seed: int, *, dense: bool
) -> Result:
    rng = random.Random(seed)
    random_request = dense_request if dense else spread_request
    engine = Engine(topology)
    hosts = [h.ips[0] for h in topology.hosts()]
    serial = 0
    started = time.perf_counter()
    for _ in range(preload):
        serial += 1
        owner, request = random_request(rng, hosts, serial)
        with contextlib.suppress(Conflict):
            engine.create(NOW, owner, request)
    preload_seconds = time.perf_counter() - started
    accepted: list[float] = []
    rejected: list[float] = []
    gc.collect()
    for _ in range(requests):
        serial += 1
        owner, request = random_request(rng, hosts, serial, greedy=0.2)
        began = time.perf_counter()
        try:
            engine.create(NOW, owner, request)
            accepted.append(time.perf_counter() - began)
        except Conflict:
            rejected.append(time.perf_counter() - began)
    return Result(
        name=name,
        switches=len(topology.switch_ids()),
        links=len(topology.links()),
        preload=preload,
        booked=len(engine.reservations) - len(accepted),
        preload_seconds=preload_seconds,
        accepted=accepted,
        rejected=rejected,
        memory_mib=rss_mib(),
    )


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000


def main() -> None:
    logging.getLogger("tegu_ryu").setLevel(logging.ERROR)  # alarms are expected here
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="10k preload and 300 requests only")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    sizes = [10_000] if args.quick else [10_000, 100_000]
    requests = 300 if args.quick else args.requests
    networks = [
        ("fat-tree k=8", lambda: fat_tree(8), sizes, False),
        ("fat-tree k=16", lambda: fat_tree(16), sizes, False),
        ("random 200", lambda: random_graph(200, args.seed), sizes, False),
        ("dense line", dense_line, [2_000] if args.quick else [20_000], True),
    ]
    print(
        f"{'topology':<14} {'sw':>4} {'links':>5} {'preload':>8} {'booked':>7} {'load s':>7} "
        f"{'dec/s':>6} {'p50 ms':>7} {'p99 ms':>7} {'acc p99':>8} {'rej p99':>8} {'acc %':>6} "
        f"{'RSS MiB':>8}"
    )
    fork = multiprocessing.get_context("fork")
    for name, build, preloads, dense in networks:
        for size in preloads:
            # A fresh process per run, so that its memory figure is its own.
            with fork.Pool(1) as pool:
                result = pool.apply(
                    run, (name, build(), size, requests, args.seed), {"dense": dense}
                )
            everything = result.accepted + result.rejected
            rate = len(everything) / sum(everything)
            print(
                f"{result.name:<14} {result.switches:>4} {result.links:>5} {result.preload:>8} "
                f"{result.booked:>7} {result.preload_seconds:>7.1f} {rate:>6.0f} "
                f"{percentile(everything, 0.5):>7.2f} {percentile(everything, 0.99):>7.2f} "
                f"{percentile(result.accepted, 0.99):>8.2f} "
                f"{percentile(result.rejected, 0.99):>8.2f} "
                f"{100 * len(result.accepted) / len(everything):>6.1f} {result.memory_mib:>8.0f}",
                flush=True,
            )
            print(f"{'':<14} median {statistics.median(everything) * 1000:.2f} ms", file=sys.stderr)


if __name__ == "__main__":
    main()
