"""The composition root: the controller's parts, built from configuration and wired together.

The core classes receive what they work on (``Controller`` its topology and
reservation service, the service its store) instead of building it, so a
test can hand them an in-memory store or a prepared topology, and another
store backend is a change here alone.
"""

from __future__ import annotations

import threading

from tegu_ryu.controller import Controller, ControllerSettings
from tegu_ryu.reservations.service import ReservationService
from tegu_ryu.reservations.store import ReservationStore, Store
from tegu_ryu.topology.model import Topology
from tegu_ryu.topology.static import load_static_topology


def assemble_controller(
    settings: ControllerSettings, now: float, store: ReservationStore | None = None
) -> Controller:
    """A controller on ``settings``: the static topology loaded, the stored reservations back.

    ``store`` defaults to the SQLite database in ``settings.state_dir``.
    """
    topology = Topology(settings.capacity, control_grace=settings.control_grace)
    if settings.static_topology:
        load_static_topology(settings.static_topology, topology)
    reservations = ReservationService(
        topology,
        store if store is not None else Store(settings.state_dir),
        threading.RLock(),
        settings.policy,
        settings.retention,
        mirrors=settings.mirrors,
        reset_dscp=settings.reset_dscp,
    )
    return Controller(settings, topology, reservations, now)
