"""The demo names a link the network it built has."""

from __future__ import annotations

from demo_hints import link_to_cut


def test_a_link_on_a_loop_is_preferred_and_a_line_gets_one_of_its_own_links() -> None:
    line = [("s1", "s2"), ("s3", "s2")]
    assert link_to_cut(line) == ("s1", "s2", False)  # no s5 on linear,3; cutting it cuts off
    ring_and_tail = [("s1", "s2"), ("s2", "s3"), ("s3", "s1"), ("s3", "s4")]
    assert link_to_cut(ring_and_tail) == ("s1", "s2", True)
    assert link_to_cut([]) is None
