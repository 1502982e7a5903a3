"""Constrained path search over the switch graph (pure).

``constrained_path`` is a label-setting search (Dijkstra) that only follows
links the caller says can carry the request. It asks about a link only when
the link could improve a label, so on a fat-tree a search consults the
calendar for roughly one link per switch, not for every link.

Two objectives:

* ``shortest``: least total weight (hop count unless links carry a weight);
* ``widest``: the largest bottleneck of free capacity over the window, then
  the least weight among equally wide paths.

Ties go to the lower datapath id, so the same state gives the same path.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum

import networkx as nx

from tegu_ryu.topology.refs import LinkId, PortRef


class PathMode(str, Enum):
    SHORTEST = "shortest"
    WIDEST = "widest"


@dataclass(frozen=True)
class Hop:
    """Where a reservation's traffic enters and leaves one switch.

    ``out_port`` is None where the traffic leaves the way base forwarding
    sends it (one-way reservations to addresses outside the network).
    """

    dpid: int
    in_port: int
    out_port: int | None


def hops_along(src: PortRef, dst: PortRef, links: Sequence[LinkId]) -> tuple[Hop, ...]:
    """The per-switch hops of a path from host port ``src`` to host port ``dst``."""
    hops = []
    arrive = src
    for link in links:
        hops.append(Hop(arrive.dpid, arrive.port, link.src.port))
        arrive = link.dst
    hops.append(Hop(arrive.dpid, arrive.port, dst.port))
    return tuple(hops)


def constrained_path(
    graph: nx.MultiDiGraph,
    source: int,
    target: int,
    fits: Callable[[LinkId], bool],
    *,
    mode: PathMode = PathMode.SHORTEST,
    width: Callable[[LinkId], int] | None = None,
) -> list[LinkId] | None:
    """Links from switch ``source`` to ``target`` using only links that ``fits``; None if none.

    ``width`` (free bit/s of a link) is needed for ``widest``.
    """
    if source == target:
        return []
    if source not in graph or target not in graph:
        return None
    if mode is PathMode.WIDEST and width is None:
        raise ValueError("widest paths need the width of each link")
    unbounded = 2**63
    # label: (negated bottleneck, total weight, node); smaller is better
    best: dict[int, tuple[int, float]] = {source: (-unbounded, 0.0)}
    parent: dict[int, LinkId] = {}
    queue: list[tuple[int, float, int]] = [(-unbounded, 0.0, source)]
    done: set[int] = set()
    while queue:
        neg_bottleneck, distance, node = heapq.heappop(queue)
        if node in done:
            continue
        done.add(node)
        if node == target:
            break
        for _, neighbour, link, weight in sorted(
            graph.out_edges(node, keys=True, data="weight", default=1), key=_edge_order
        ):
            if neighbour in done:
                continue
            new_distance = distance + weight
            if mode is PathMode.SHORTEST:
                label = (0, new_distance)
                if label >= best.get(neighbour, (0, float("inf"))) or not fits(link):
                    continue
            else:
                if not fits(link):
                    continue
                assert width is not None
                label = (max(neg_bottleneck, -width(link)), new_distance)
                if label >= best.get(neighbour, (0, float("inf"))):
                    continue
            best[neighbour] = label
            parent[neighbour] = link
            heapq.heappush(queue, (label[0], label[1], neighbour))
    if target not in parent:
        return None
    path = []
    node = target
    while node != source:
        link = parent[node]
        path.append(link)
        node = link.src.dpid
    return path[::-1]


def _edge_order(edge: tuple[int, int, LinkId, float]) -> tuple[int, int]:
    _, neighbour, link, _ = edge
    return (neighbour, link.src.port)
