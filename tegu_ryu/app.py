"""The tegu_ryu os-ken application: OpenFlow and discovery events in, flows and meters out.

A shim in faucet's sense. Handlers turn os-ken events into plain values, call
``tegu_ryu.controller.Controller``, and carry out what it decides; the one
place that talks to switches is ``_send``. Keeping every switch right is one
loop (``_run_pass``): ask the controller for the next pass of changes, send
it with a barrier per switch, and ask again when the barriers are answered.

os-ken 4.x on native threads ends an app's event loop *silently* when a
handler raises (its ``TaskExit`` is ``Exception``), so every handler here is
``guarded``: a failure is logged with its context and the whole controller
stops with status 1, rather than carry on half-working.
"""

from __future__ import annotations

import collections
import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from os_ken import cfg
from os_ken.base import app_manager
from os_ken.controller import event as osken_event
from os_ken.controller import ofp_event
from os_ken.controller.handler import DEAD_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from os_ken.lib import hub
from os_ken.ofproto import ofproto_v1_3
from os_ken.topology import event as topo_event

from tegu_ryu.agents.registry import AgentRegistry
from tegu_ryu.api.server import ApiServer
from tegu_ryu.api.wsgi import Api
from tegu_ryu.assembly import assemble_controller
from tegu_ryu.auth import Authenticator
from tegu_ryu.config import agent_listener, controller_settings, metrics_public, server_limits
from tegu_ryu.controller import Controller
from tegu_ryu.enforcement.planner import serial_of_meter
from tegu_ryu.openflow import discovery, lean_mods, lean_stats, messages
from tegu_ryu.openflow.connections import Connections
from tegu_ryu.openflow.flows import (
    COOKIE_TAG,
    COOKIE_TAG_MASK,
    Meter,
)
from tegu_ryu.openflow.reconcile import Changes, InstalledFlow
from tegu_ryu.openflow.reconciler import owner_serial, wire_order
from tegu_ryu.ovsdb.client import OvsdbView
from tegu_ryu.ovsdb.rows import PORT_PREFIX
from tegu_ryu.ovsdb.watcher import OvsdbWatcher
from tegu_ryu.process import STOP
from tegu_ryu.topology.model import PortState
from tegu_ryu.topology.refs import MAX_PORT, LinkId, PortRef, dpid_str

LOG = logging.getLogger("tegu_ryu.app")

EVENT_QUEUE = 20_000  # events waiting for this app (at most ~1 GB of stats replies)
TICK_INTERVAL = 0.5  # the longest the timer sleeps; it wakes at reservations' edges too
EDGE_MARGIN = 0.002  # seconds past an edge the tick runs, so that its clock is past it
ECHO_INTERVAL = 2.0  # seconds between the controller's own echo requests to each switch
SLOW_HANDLER = 0.1  # seconds; a handler this slow delays every other event, so say so
HandlerT = TypeVar("HandlerT", bound=Callable[..., None])


class ControllerContext:
    """Holds the process's one Controller, assembled from configuration.

    os-ken builds a context by calling its class without arguments, so the
    composition root (``assembly.assemble_controller``) is called from here.
    """

    def __init__(self) -> None:
        self.controller = assemble_controller(controller_settings(cfg.CONF), now=time.time())


class EventTick(osken_event.EventBase):
    """Time to move reservations on (start, end, broken paths) and end settling."""


class EventResync(osken_event.EventBase):
    """Time to re-read every switch's flows and meters and repair drift."""


class EventChanged(osken_event.EventBase):
    """The API changed something the switches must follow."""


class EventProbe(osken_event.EventBase):
    """Time to measure each switch's echo round trip."""


class EventCounters(osken_event.EventBase):
    """Time to read the reservation meters' counters (conformance)."""


def guarded(handler: HandlerT) -> HandlerT:
    """Log a handler's failure with the event it was handling, then stop the controller."""

    @functools.wraps(handler)
    def wrapper(self: TeguApp, ev: Any) -> None:
        began = time.monotonic()
        try:
            handler(self, ev)
            took = time.monotonic() - began
            if took > SLOW_HANDLER:
                LOG.warning(
                    "%s took %.0f ms on %s", handler.__name__, took * 1000, type(ev).__name__
                )
        except Exception:
            datapath = getattr(getattr(ev, "msg", None), "datapath", None) or getattr(
                ev, "datapath", None
            )
            dpid = getattr(datapath, "id", None)
            where = f" from switch {dpid_str(dpid)}" if dpid is not None else ""
            LOG.exception("%s failed on %s%s", handler.__name__, type(ev).__name__, where)
            STOP.request(1, f"{handler.__name__} failed on {type(ev).__name__}{where}")

    return wrapper  # type: ignore[return-value]


def from_current_connection(handler: HandlerT) -> HandlerT:
    """Drop a message that came on a switch's replaced connection (see openflow.connections)."""

    @functools.wraps(handler)
    def wrapper(self: TeguApp, ev: Any) -> None:
        datapath = ev.msg.datapath
        if self.connections.is_current(datapath.id, datapath):
            handler(self, ev)
        else:
            LOG.debug("dropped %s from a replaced connection", type(ev.msg).__name__)

    return wrapper  # type: ignore[return-value]


def fabric_port(port: Any) -> bool:
    """A port the topology knows: a physical one, and not a tunnel port tegu_ryu made for a
    mirror or a stitch point (only a mirror's copies or a stitched segment's traffic go
    there: flooding out of it would send tenants' frames out of the network)."""
    return bool(port.port_no <= MAX_PORT and not port_state(port).name.startswith(PORT_PREFIX))


def port_state(port: Any) -> PortState:
    """Our view of an os-ken OFPPort."""
    ofp = ofproto_v1_3
    name = port.name.decode(errors="replace") if isinstance(port.name, bytes) else port.name
    return PortState(
        port=port.port_no,
        name=name.rstrip("\0"),
        hw_addr=port.hw_addr,
        up=not (port.state & ofp.OFPPS_LINK_DOWN or port.config & ofp.OFPPC_PORT_DOWN),
        speed_bps=port.curr_speed * 1000 or None,
    )


class TeguApp(app_manager.OSKenApp):
    """Keeps switches in the state the controller wants and serves the REST API."""

    OFP_VERSIONS: ClassVar[list[int]] = [ofproto_v1_3.OFP_VERSION]
    _CONTEXTS: ClassVar[dict[str, type]] = {"tegu_controller": ControllerContext}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # os-ken hands this app its events through a queue of 128 that blocks when full,
        # and the putting thread is a switch's receive loop, the one that answers its echo
        # requests: a busy moment here would make Open vSwitch drop the connection.
        self.events = hub.Queue(EVENT_QUEUE)
        self._events_sem = hub.BoundedSemaphore(EVENT_QUEUE)
        lean_stats.install()
        self.controller: Controller = kwargs["tegu_controller"].controller
        self.connections: Connections[Any] = Connections()
        self.sent = self.controller.reconciler.sent  # by xid, for errors (this thread only)
        self._stopping = threading.Event()
        authenticator = Authenticator.from_config(
            cfg.CONF.auth_mode, cfg.CONF.token_file, cfg.CONF.api_host
        )
        limits = server_limits(cfg.CONF)
        self.agents = AgentRegistry()
        self.controller.reservations.engine.endpoint_names = self.agents.endpoint_mac
        self.controller.agent_dpids = self.agents.dpids
        self.agent_listener = agent_listener(
            cfg.CONF, self.agents, lambda dpid: self.controller.desired_rows(dpid, by_agent=True)
        )
        api = Api(
            self.controller,
            authenticator,
            super_cookie=cfg.CONF.super_cookie,
            max_body=limits.max_body_bytes,
            max_waiting=max(1, limits.threads // 2),
            metrics_public=metrics_public(cfg.CONF.metrics_access, cfg.CONF.api_host),
            agents=self.agents,
        )
        self.stitcher = api.stitcher
        self.api = ApiServer(cfg.CONF.api_host, cfg.CONF.api_port, api, limits)
        self._wake = threading.Event()  # a change may have brought the next edge closer
        self._tick_pending = threading.Event()  # posted, not yet handled
        self._watchers: list[OvsdbWatcher] = []
        # The reservations' version and switches' backends the OVSDB writers last looked at.
        self._rows_key: tuple[int, tuple[tuple[int, str], ...]] = (-1, ())
        self.controller.on_change = self._on_change
        self._one_way = discovery.OneWayWatch()
        self._lldp: Any = None  # os-ken's Switches app, once adopted (see openflow/discovery)

    def start(self) -> None:
        super().start()
        self._adopt_discovery()
        self.api.start()
        if self.agent_listener is not None:
            self.agent_listener.start()
        self.threads.append(hub.spawn(self._timer))
        for peer in self.controller.settings.stitching.peers:  # one each: see run_retries
            self.threads.append(hub.spawn(self.stitcher.run_retries, peer, self._stopping))
        for remote in cfg.CONF.ovsdb_remotes:
            if remote.strip().lower() != "none":
                watcher = OvsdbWatcher(
                    remote.strip(),
                    self._ovsdb_view,
                    self._stopping,
                    rows=self.controller,
                    period=cfg.CONF.resync_interval,
                )
                self._watchers.append(watcher)
                self.threads.append(hub.spawn(watcher.run))
        # Plan every switch now, while they are still reconnecting, not when the first one
        # is back (with thousands of reservations that takes a couple of seconds).
        self.send_event(self.name, EventChanged())

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        for watcher in self._watchers:
            watcher.refresh()
        if self.agent_listener is not None:
            self.agent_listener.stop()
        self.api.stop()
        super().stop()

    def _adopt_discovery(self) -> None:
        """Make os-ken's LLDP discovery retry, and keep it off stitch and tunnel ports."""
        settings = self.controller.settings
        silence = discovery.LldpSilence(
            stitch_ports=frozenset(p.port for p in settings.stitching.points.values()),
            tunnel_ports=settings.mirrors.tunnel_ports,
        )
        switches = app_manager.lookup_service_brick("switches")
        if switches is not None and discovery.adopt(switches, silence):
            self._lldp = switches
        else:
            LOG.warning("os-ken's switches app is not discovering links: LLDP is not ours")

    def _watch_discovery(self, now: float) -> None:
        """Say why a link seen one way stays unseen the other way (once per direction)."""
        if self._lldp is None:
            return
        for link in self._one_way.check(self._lldp.links.link_ids(), now):
            data = self._lldp.ports.data(link.src.dpid, link.src.port)
            LOG.warning("%s", discovery.explain_missing(link, data, self._connected, now))

    def _connected(self, dpid: int) -> bool:
        return self.connections.current(dpid) is not None

    def _ovsdb_view(self, view: OvsdbView) -> None:
        """On a watcher's thread: facts that change a switch's backend start a pass."""
        changed = False
        for bridge in view.bridges:
            changed |= self.controller.datapath_facts(
                bridge.dpid, bridge.datapath_type, view.ovs_version, time.time()
            )
        if changed:
            self.send_event(self.name, EventChanged())

    def _on_change(self) -> None:
        """The API changed something: follow it, and let the timer look at the edges again."""
        self.send_event(self.name, EventChanged())
        self._wake.set()

    def _timer(self) -> None:
        """Post ticks at reservations' starts and ends (and every TICK_INTERVAL), resyncs, probes.

        Waking at the edges themselves, not at the next half-second, is what puts
        a reservation's flows on the switches within milliseconds of its start.
        Edges are looked for after the last tick, not after now, so that one
        passing while the timer was woken for something else still gets its
        tick; and a tick is not posted while the last one waits to be handled
        (a burst's reservations end a millisecond apart: one tick does them all).
        """
        monotonic = time.monotonic
        next_tick = next_resync = next_probe = next_counters = monotonic()
        next_resync += cfg.CONF.resync_interval
        last_tick = time.time()
        while not self._stopping.is_set():
            edge = self.controller.next_edge(last_tick)
            if edge is None or self._tick_pending.is_set():
                until_edge = TICK_INTERVAL  # the handled tick wakes this loop again
            else:
                until_edge = edge - time.time() + EDGE_MARGIN
            if self._wake.wait(max(0.0, min(next_tick - monotonic(), until_edge))):
                self._wake.clear()
                continue  # something changed: look at the edges again
            if self._stopping.is_set():
                break
            if not self._tick_pending.is_set():
                self._tick_pending.set()
                last_tick = time.time()
                self.send_event(self.name, EventTick())
            next_tick = monotonic() + TICK_INTERVAL
            if monotonic() >= next_resync:
                next_resync += cfg.CONF.resync_interval
                self.send_event(self.name, EventResync())
            if monotonic() >= next_probe:
                next_probe = monotonic() + ECHO_INTERVAL
                self.send_event(self.name, EventProbe())
            if cfg.CONF.conformance_interval > 0 and monotonic() >= next_counters:
                next_counters = monotonic() + cfg.CONF.conformance_interval
                self.send_event(self.name, EventCounters())

    @set_ev_cls(EventTick)
    @guarded
    def _tick(self, ev: EventTick) -> None:
        self._tick_pending.clear()
        self._wake.set()  # the timer may now post the next one, if an edge passed meanwhile
        if self.controller.tick(time.time()):
            self._run_pass()

    @set_ev_cls(EventChanged)
    @guarded
    def _changed(self, ev: EventChanged) -> None:
        self._run_pass()

    @set_ev_cls(EventProbe)
    @guarded
    def _probe(self, ev: EventProbe) -> None:
        """Echo requests carrying their send time (the replies say how responsive each switch
        is), and a look for link directions LLDP has not found."""
        now = time.time()
        for dpid in self.controller.echo_due(now):
            self._send(dpid, messages.echo_request(now))
        self._watch_discovery(now)

    @set_ev_cls(ofp_event.EventOFPEchoReply, MAIN_DISPATCHER)
    @guarded
    @from_current_connection
    def _echo_reply(self, ev: Any) -> None:
        sent = messages.echo_sent_at(ev.msg.data)
        if sent is not None:
            self.controller.echo_answered(ev.msg.datapath.id, sent, time.time())

    @set_ev_cls(EventResync)
    @guarded
    def _resync(self, ev: EventResync) -> None:
        for dpid in self.controller.resync_due(time.time()):
            self._read(dpid)

    @set_ev_cls(EventCounters)
    @guarded
    def _counters(self, ev: EventCounters) -> None:
        """Read the counters of every switch that holds a reservation's meter."""
        for dpid in self.controller.counter_targets():
            self._send(dpid, messages.meter_stats_request())

    @set_ev_cls(ofp_event.EventOFPMeterStatsReply, MAIN_DISPATCHER)
    @guarded
    @from_current_connection
    def _meter_stats(self, ev: Any) -> None:
        counts = [messages.meter_count(stats) for stats in ev.msg.body]
        self.controller.meters_counted(ev.msg.datapath.id, counts, time.time())

    # ------------------------------------------------------------- switches

    @set_ev_cls(ofp_event.EventOFPStateChange, [MAIN_DISPATCHER, DEAD_DISPATCHER])
    @guarded
    def _state_change(self, ev: Any) -> None:
        datapath = ev.datapath
        if datapath.id is None:
            return
        if ev.state == MAIN_DISPATCHER:
            replaced = self.connections.connected(datapath.id, datapath)
            LOG.info(
                "switch %s connected from %s%s",
                dpid_str(datapath.id),
                datapath.address,
                " (replacing its previous connection)" if replaced is not None else "",
            )
            ports = [port_state(p) for p in datapath.ports.values() if fabric_port(p)]
            self.controller.switch_connected(datapath.id, ports, time.time())
            self._probe_features(datapath.id)
            for watcher in self._watchers:
                watcher.refresh()  # its bridge may be new to the OVSDB view
            self._read(datapath.id)
        elif self.connections.disconnected(datapath.id, datapath):
            LOG.info("switch %s disconnected", dpid_str(datapath.id))
            self.controller.switch_disconnected(datapath.id, time.time())
        else:
            LOG.info("switch %s: an old connection closed (ignored)", dpid_str(datapath.id))
            return
        self._run_pass()

    @set_ev_cls(ofp_event.EventOFPPortStatus, MAIN_DISPATCHER)
    @guarded
    @from_current_connection
    def _port_status(self, ev: Any) -> None:
        msg = ev.msg
        dpid = msg.datapath.id
        if not fabric_port(msg.desc):
            return
        if msg.reason == ofproto_v1_3.OFPPR_DELETE:
            self.controller.port_deleted(dpid, msg.desc.port_no)
        else:
            state = port_state(msg.desc)
            LOG.info(
                "switch %s port %d is %s", dpid_str(dpid), state.port, "up" if state.up else "down"
            )
            self.controller.port_updated(dpid, state)
        self._on_topology_change()

    @set_ev_cls(topo_event.EventLinkAdd)
    @guarded
    def _link_add(self, ev: Any) -> None:
        link_id = _link_id(ev.link)
        LOG.info("link %s discovered", link_id)
        self.controller.link_discovered(link_id)
        self._on_topology_change()

    @set_ev_cls(topo_event.EventLinkDelete)
    @guarded
    def _link_delete(self, ev: Any) -> None:
        link_id = _link_id(ev.link)
        LOG.info("link %s lost", link_id)
        self.controller.link_lost(link_id, time.time())
        self._on_topology_change()

    def _on_topology_change(self) -> None:
        """Reservations on a broken path move (or degrade) at once, then the switches follow."""
        self.controller.tick(time.time())
        self._run_pass()

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    @guarded
    @from_current_connection
    def _packet_in(self, ev: Any) -> None:
        msg = ev.msg
        at = PortRef(msg.datapath.id, msg.match["in_port"])
        outcome = self.controller.packet_in(time.time(), at, bytes(msg.data))
        if outcome.replan:
            self._run_pass()
        for out in outcome.packets:
            self._send(out.at.dpid, messages.packet_out(out.at.port, out.data))

    # ------------------------------------------------------- reconciliation

    def _probe_features(self, dpid: int) -> None:
        """Ask a newly connected switch what meters it has (see ``enforcement/backends.py``)."""
        self._send(dpid, messages.meter_features_request())

    @set_ev_cls(ofp_event.EventOFPMeterFeaturesStatsReply, MAIN_DISPATCHER)
    @guarded
    @from_current_connection
    def _meter_features(self, ev: Any) -> None:
        for stats in ev.msg.body:
            features = messages.meter_features(stats)
            LOG.info("switch %s: %s", dpid_str(ev.msg.datapath.id), features.describe())
            if self.controller.meter_features(ev.msg.datapath.id, features, time.time()):
                self._run_pass()

    def _read(self, dpid: int) -> None:
        """Ask a switch for every tegu-owned flow and its meter table."""
        flows = messages.flow_stats_request(COOKIE_TAG, COOKIE_TAG_MASK)
        meters = messages.meter_config_request()
        if self._send(dpid, flows) and self._send(dpid, meters):
            self.controller.read_started(dpid, flows.xid, meters.xid, time.time())

    @set_ev_cls(ofp_event.EventOFPFlowStatsReply, MAIN_DISPATCHER)
    @guarded
    @from_current_connection
    def _flow_stats(self, ev: Any) -> None:
        msg = ev.msg
        now = time.time()
        entries = []
        for stats in msg.body:
            try:
                entries.append(InstalledFlow(*lean_stats.decode(stats, now)))
            except lean_stats.Undecodable as problem:
                LOG.error(
                    "switch %s sent a flow entry no parser reads: %s",
                    dpid_str(msg.datapath.id),
                    problem,
                )
        more = bool(msg.flags & ofproto_v1_3.OFPMPF_REPLY_MORE)
        if self.controller.flows_read(msg.datapath.id, msg.xid, entries, more, now):
            self._read_done(msg.datapath.id)

    @set_ev_cls(ofp_event.EventOFPMeterConfigStatsReply, MAIN_DISPATCHER)
    @guarded
    @from_current_connection
    def _meter_config(self, ev: Any) -> None:
        msg = ev.msg
        meters = [messages.meter_from_stats(stats) for stats in msg.body]
        more = bool(msg.flags & ofproto_v1_3.OFPMPF_REPLY_MORE)
        if self.controller.meters_read(msg.datapath.id, msg.xid, meters, more, time.time()):
            self._read_done(msg.datapath.id)

    def _read_done(self, dpid: int) -> None:
        """Say what a read-back cost (drift repair grows with the flows), then reconcile."""
        flows, took = self.controller.last_read(dpid)
        LOG.info(
            "switch %s read back: %d tegu flows in %.0f ms", dpid_str(dpid), flows, took * 1000
        )
        self.controller.metrics.record_readback(took)
        self._run_pass()

    @set_ev_cls(ofp_event.EventOFPBarrierReply, MAIN_DISPATCHER)
    @guarded
    @from_current_connection
    def _barrier(self, ev: Any) -> None:
        last = self.controller.barrier_replied(ev.msg.datapath.id, ev.msg.xid)
        LOG.debug("switch %s confirmed pass (last: %s)", dpid_str(ev.msg.datapath.id), last)
        if last:
            self._run_pass()

    @set_ev_cls(ofp_event.EventOFPErrorMsg, MAIN_DISPATCHER)
    @guarded
    @from_current_connection
    def _error(self, ev: Any) -> None:
        msg = ev.msg
        dpid = msg.datapath.id
        what, serial = self.sent.explain(dpid, msg.xid)
        detail = f"rejected {what}: OpenFlow error type {msg.type} code {msg.code}"
        LOG.error("switch %s %s", dpid_str(dpid), detail)
        self.controller.metrics.record_error()
        self.controller.switch_error(dpid, serial, detail)
        self._read(dpid)

    def _run_pass(self) -> None:
        """Send the next phase of changes, if no earlier one awaits confirmation."""
        now = time.time()
        work = self.controller.next_pass(now)
        rows_key = (
            self.controller.reservations.engine.version,
            tuple(sorted(self.controller.desired.modes.items())),
        )
        if rows_key != self._rows_key:  # reservations or backends changed: so may OVSDB rows
            self._rows_key = rows_key
            for watcher in self._watchers:
                watcher.refresh()
            if self.agent_listener is not None:
                self.agent_listener.refresh()  # the agents' rows follow the same desired state
        LOG.debug("pass: %s", {dpid_str(d): len(c) for d, c in work.items()} or "nothing now")
        for dpid, changes in work.items():
            self._send_changes(dpid, changes, now)
        if work:
            LOG.info(
                "sent %d changes to %d switches", sum(len(c) for c in work.values()), len(work)
            )

    def _send_changes(self, dpid: int, changes: Changes, now: float) -> None:
        """One pass to one switch, in order, ending with its barrier, in a single write.

        os-ken hands each message to the connection's sending thread through a
        queue of 16, a thread switch per message; a pass of thousands of
        flow-mods is therefore joined into one buffer (OpenFlow is a byte
        stream) and handed over once.
        """
        datapath = self.connections.current(dpid)
        if datapath is None:
            return
        LOG.debug("switch %s: phase %d, %d changes", dpid_str(dpid), changes.phase(), len(changes))
        out = bytearray()
        verbs: collections.Counter[str] = collections.Counter()
        for verb, item in wire_order(changes):
            verbs[verb] += 1
            xid = datapath.set_xid(_Xid())
            if isinstance(item, Meter):
                command = verb.split()[0]
                out.extend(lean_mods.meter_mod_bytes(item, command, xid))
                serial = serial_of_meter(item.id) if command != "delete" else None
                self.sent.remember(dpid, xid, f"{command} {item}", serial)
                continue
            if verb == "add flow":
                out.extend(lean_mods.flow_add_bytes(item, now, xid))
            else:
                out.extend(lean_mods.flow_delete_bytes(item, xid))
            self.sent.remember(dpid, xid, (verb.split()[0], item), owner_serial(item.cookie))
        barrier = datapath.set_xid(_Xid())
        out.extend(lean_mods.barrier_bytes(barrier))
        self.sent.remember(dpid, barrier, "barrier", None)
        if datapath.send(bytes(out)):
            self.controller.pass_sent(dpid, changes, barrier, now, time.time())
            self.controller.metrics.record_pass(verbs)

    def _send(self, dpid: int, msg: Any, what: str = "", serial: int | None = None) -> bool:
        """Send one message to a connected switch, remembering it by xid for errors."""
        datapath = self.connections.current(dpid)
        if datapath is None:
            return False
        msg.datapath = datapath
        datapath.set_xid(msg)
        self.sent.remember(dpid, msg.xid, what or type(msg).__name__, serial)
        return bool(datapath.send_msg(msg))


class _Xid:
    """Takes the xid os-ken's ``Datapath.set_xid`` hands out, for a message sent as bytes."""

    xid = 0

    def set_xid(self, xid: int) -> None:
        self.xid = xid


def _link_id(link: Any) -> LinkId:
    return LinkId(
        PortRef(link.src.dpid, link.src.port_no), PortRef(link.dst.dpid, link.dst.port_no)
    )
