"""Handoff labels booked over time: a VLAN id or tunnel key per reservation per stitch point.

A label is exclusive, not shared like capacity: two reservations on one
stitch point never carry the same label at overlapping instants, or the far
side could not tell their traffic apart. What is taken is whatever the live
stitched reservations on the point hold; so a cancel, an expiry or a restart
frees or restores labels with no bookkeeping of its own to get wrong. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable

from tegu_ryu.reservations.window import Window


def free_label(
    labels: range, taken: Iterable[tuple[int, Window]], window: Window, wanted: int | None = None
) -> int | None:
    """The lowest label of ``labels`` no booking in ``taken`` holds at any instant of ``window``
    (or ``wanted`` alone, when given); None when there is none."""
    busy = {label for label, held in taken if held.overlaps(window)}
    if wanted is not None:
        return wanted if wanted in labels and wanted not in busy else None
    if len(busy) < len(labels):
        for label in labels:
            if label not in busy:
                return label
    return None
