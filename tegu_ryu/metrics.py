"""Prometheus metrics: what the controller decided, sent and holds, for ``GET /metrics``.

Events (admissions, API requests, passes, flow- and meter-mods, errors,
read-backs) are counted as they happen by the parts that see them, through
the small ``record_*`` methods here, so that the core needs no Prometheus
types. State (reservations by kind and state, switches connected, what each
link has booked now and at its peak over the next day, alarms) is read from
the controller when Prometheus scrapes, by ``StateCollector``: nothing is kept
twice. Each controller has its own registry (tests build many).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client import Counter as PromCounter
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tegu_ryu.reservations.model import Direction

if TYPE_CHECKING:
    from tegu_ryu.controller import Controller

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
READ_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
DAY = 86400.0
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class Metrics:
    """The controller's registry and the event instruments that feed it."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._state: StateCollector | None = None
        r = self.registry
        self.admissions = PromCounter(
            "tegu_admissions", "Admission decisions by kind and outcome (accepted, or the "
            "refusal's code)", ["kind", "outcome"], registry=r,
        )  # fmt: skip
        self.admission_seconds = Histogram(
            "tegu_admission_seconds", "Time to decide an admission (path search and booking)",
            buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.api_requests = PromCounter(
            "tegu_api_requests", "API requests by route, method and status",
            ["route", "method", "status"], registry=r,
        )  # fmt: skip
        self.api_seconds = Histogram(
            "tegu_api_request_seconds", "Time to answer an API request, by route", ["route"],
            buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.passes = PromCounter(
            "tegu_reconcile_passes", "Reconcile passes that sent changes to a switch", registry=r
        )
        self.flow_mods = PromCounter(
            "tegu_flow_mods", "Flow-mods sent, by command", ["command"], registry=r
        )
        self.meter_mods = PromCounter(
            "tegu_meter_mods", "Meter-mods sent, by command", ["command"], registry=r
        )
        self.openflow_errors = PromCounter(
            "tegu_openflow_errors", "OpenFlow errors switches answered with", registry=r
        )
        self.readbacks = PromCounter(
            "tegu_readbacks", "Complete read-backs of a switch's flows and meters", registry=r
        )
        self.ovsdb_bridge_syncs = PromCounter(
            "tegu_ovsdb_bridge_syncs",
            "Times the OVSDB sync compared a bridge with its desired rows (written or not)",
            registry=r,
        )
        self.ovsdb_row_changes = PromCounter(
            "tegu_ovsdb_row_changes",
            "Changes to tegu_ryu's OVSDB rows written (tunnel ports, port queue sets)",
            registry=r,
        )
        self.readback_seconds = Histogram(
            "tegu_readback_seconds", "Time a read-back took", buckets=READ_BUCKETS, registry=r
        )

    def watch(self, controller: Controller, clock: Callable[[], float] = time.time) -> None:
        """Read the controller's state at every scrape, at ``clock``'s time (the API's)."""
        if self._state is not None:
            self.registry.unregister(self._state)
        self._state = StateCollector(controller, clock)
        self.registry.register(self._state)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    # ---------------------------------------------------------------- events

    def record_admission(self, kind: str, outcome: str, seconds: float) -> None:
        self.admissions.labels(kind, outcome).inc()
        self.admission_seconds.observe(seconds)

    def record_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """One API request; a method no route has is counted as ``other``, so that a client
        sending made-up methods cannot grow the metrics without bound."""
        method = method if method in METHODS else "other"
        self.api_requests.labels(route, method, str(status)).inc()
        self.api_seconds.labels(route).observe(seconds)

    def record_pass(self, commands: Counter[str]) -> None:
        """One pass to one switch: how many changes of each ``verb`` (``add flow``, ...)."""
        self.passes.inc()
        for verb, count in commands.items():
            command, _, what = verb.partition(" ")
            (self.meter_mods if what == "meter" else self.flow_mods).labels(command).inc(count)

    def record_error(self) -> None:
        self.openflow_errors.inc()

    def record_rows(self, changes: int) -> None:
        self.ovsdb_bridge_syncs.inc()
        self.ovsdb_row_changes.inc(changes)

    def record_readback(self, seconds: float) -> None:
        self.readbacks.inc()
        self.readback_seconds.observe(seconds)


class StateCollector(Collector):
    """Gauges read from the controller when Prometheus scrapes."""

    def __init__(self, controller: Controller, clock: Callable[[], float]) -> None:
        self.controller = controller
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        controller = self.controller
        now = self.clock()
        reservations = GaugeMetricFamily(
            "tegu_reservations", "Reservations by kind and state", labels=["kind", "state"]
        )
        with controller.lock:
            counts = Counter(
                (r.type, r.state.value)
                for r in controller.reservations.engine.reservations.values()
            )
            alarms = len(controller.reservations.engine.alarms)
            measured = [
                (r.id, r.owner, direction.value, last)
                for r in controller.reservations.engine.reservations.values()
                if not r.state.final
                for direction in (Direction.OUT, Direction.IN)
                if (last := controller.conformance.measured(r.serial, direction)) is not None
            ]
            switches = controller.topology.switch_ids()
            connected = sum(1 for dpid in switches if controller.topology.is_connected(dpid))
        for (kind, state), count in sorted(counts.items()):
            reservations.add_metric([kind, state], count)
        yield reservations
        yield GaugeMetricFamily(
            "tegu_switches_connected",
            "Switches with an OpenFlow connection now",
            value=connected,
        )
        labels = ["src", "dst"]
        usable = GaugeMetricFamily("tegu_link_usable_bps", "What a link may book", labels=labels)
        booked = GaugeMetricFamily(
            "tegu_link_booked_bps", "What a link has booked now", labels=labels
        )
        peak = GaugeMetricFamily(
            "tegu_link_peak_24h_bps", "The most a link has booked over the next day", labels=labels
        )
        for link, room, now_peak, day_peak in controller.reservations.links(now, DAY):
            names = [str(link.src), str(link.dst)]
            usable.add_metric(names, room)
            booked.add_metric(names, now_peak.amount)
            peak.add_metric(names, day_peak.amount)
        yield usable
        yield booked
        yield peak
        names = ["reservation", "tenant", "direction"]
        carried = GaugeMetricFamily(
            "tegu_reservation_rate_bps",
            "What a reservation's meter passed over the last interval",
            labels=names,
        )
        dropped = GaugeMetricFamily(
            "tegu_reservation_dropped_bps",
            "What a reservation's meter dropped over the last interval",
            labels=names,
        )
        for rid, tenant, direction, last in measured:
            carried.add_metric([rid, tenant, direction], last.rate_bps)
            dropped.add_metric([rid, tenant, direction], last.dropped_bps)
        yield carried
        yield dropped
        yield GaugeMetricFamily(
            "tegu_alarms",
            "Alarms remembered (a link booked past its alarm level)",
            value=alarms,
        )
