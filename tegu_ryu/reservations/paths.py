"""Constrained path search over the switch graph (pure).

``constrained_path`` is a label-setting search (Dijkstra) that only follows
links the caller says can carry the request. It asks about a link only when
the link could improve a label, so on a fat-tree a search consults the
calendar for roughly one link per switch, not for every link.

Two objectives:

* ``shortest``: fewest hops;
* ``widest``: the largest bottleneck of free capacity over the window, then
  the fewest hops among equally wide paths.

Ties go to the lower datapath id, so the same state gives the same path.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from tegu_ryu.topology.refs import LinkId, PortRef


class PathMode(str, Enum):
    SHORTEST = "shortest"
    WIDEST = "widest"


@dataclass(frozen=True, slots=True)
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
    adjacency: Mapping[int, Sequence[tuple[int, LinkId]]],
    source: int,
    target: int,
    fits: Callable[[LinkId], bool],
    *,
    mode: PathMode = PathMode.SHORTEST,
    width: Callable[[LinkId], int] | None = None,
    hops_to_target: Mapping[int, int] | None = None,
) -> list[LinkId] | None:
    """Links from switch ``source`` to ``target`` using only links that ``fits``; None if none.

    ``adjacency`` maps each switch to its (neighbour, link) out-links, sorted.
    ``width`` (free bit/s of a link) is needed for ``widest``.
    ``hops_to_target`` (unconstrained hop distances to ``target``) turns the
    shortest search into A*: it then only looks at links that can lie on a
    shortest path, unless capacity forces a detour.
    """
    if source == target:
        return []
    if source not in adjacency or target not in adjacency:
        return None
    if mode is PathMode.WIDEST:
        if width is None:
            raise ValueError("widest paths need the width of each link")
        parent = _widest(adjacency, source, target, fits, width)
    else:
        parent = _shortest(adjacency, source, target, fits, hops_to_target)
    if target not in parent:
        return None
    path = []
    node = target
    while node != source:
        link = parent[node]
        path.append(link)
        node = link.src.dpid
    return path[::-1]


def _shortest(
    adjacency: Mapping[int, Sequence[tuple[int, LinkId]]],
    source: int,
    target: int,
    fits: Callable[[LinkId], bool],
    hops_to_target: Mapping[int, int] | None,
) -> dict[int, LinkId]:
    """A* on hop count (plain Dijkstra without a heuristic); returns the parent links."""

    def estimate(node: int) -> int | None:
        return 0 if hops_to_target is None else hops_to_target.get(node)

    start = estimate(source)
    if start is None:
        return {}
    best = {source: 0}
    parent: dict[int, LinkId] = {}
    queue = [(start, 0, source)]
    done: set[int] = set()
    while queue:
        _, negated_hops, node = heapq.heappop(queue)
        if node in done:
            continue
        done.add(node)
        if node == target:
            break
        hops = -negated_hops + 1
        for neighbour, link in adjacency[node]:
            if neighbour in done or hops >= best.get(neighbour, _UNBOUNDED):
                continue
            remaining = estimate(neighbour)
            if remaining is None or not fits(link):
                continue
            best[neighbour] = hops
            parent[neighbour] = link
            heapq.heappush(queue, (hops + remaining, -hops, neighbour))
    return parent


def _widest(
    adjacency: Mapping[int, Sequence[tuple[int, LinkId]]],
    source: int,
    target: int,
    fits: Callable[[LinkId], bool],
    width: Callable[[LinkId], int],
) -> dict[int, LinkId]:
    """Dijkstra on (largest bottleneck, then fewest hops); returns the parent links."""
    best: dict[int, tuple[int, int]] = {source: (-_UNBOUNDED, 0)}
    parent: dict[int, LinkId] = {}
    queue = [(-_UNBOUNDED, 0, source)]
    done: set[int] = set()
    unreached = (0, _UNBOUNDED)
    while queue:
        negated_bottleneck, hops, node = heapq.heappop(queue)
        if node in done:
            continue
        done.add(node)
        if node == target:
            break
        for neighbour, link in adjacency[node]:
            if neighbour in done or not fits(link):
                continue
            label = (max(negated_bottleneck, -width(link)), hops + 1)
            if label >= best.get(neighbour, unreached):
                continue
            best[neighbour] = label
            parent[neighbour] = link
            heapq.heappush(queue, (label[0], label[1], neighbour))
    return parent


_UNBOUNDED = 2**62
