"""What the demo suggests trying, from the network it actually built."""

from __future__ import annotations

from collections.abc import Iterable

import networkx as nx


def link_to_cut(links: Iterable[tuple[str, str]]) -> tuple[str, str, bool] | None:
    """A link between two switches to take down, and whether it lies on a loop (traffic then
    moves to another path; otherwise the hosts beyond it are cut off). One on a loop is
    preferred; None when no two switches are linked."""
    graph = nx.Graph()
    graph.add_edges_from(tuple(sorted(link)) for link in links)
    if graph.number_of_edges() == 0:
        return None
    cut_off = {tuple(sorted(edge)) for edge in nx.bridges(graph)}
    edges = sorted(tuple(sorted(edge)) for edge in graph.edges)
    on_a_loop = [edge for edge in edges if edge not in cut_off]
    first = (on_a_loop or edges)[0]
    return first[0], first[1], bool(on_a_loop)
