"""The tegu_ryu os-ken application: OpenFlow and discovery events in, flows out.

A shim in faucet's sense. Handlers turn os-ken events into plain values, call
``tegu_ryu.controller.Controller``, and carry out what it decides; the one
place that talks to switches is ``_send``. Keeping each switch right is one
mechanism: read back what it holds under our cookie tag, diff against the
desired state, send the difference (``tegu_ryu.openflow.sync``).

os-ken 4.x on native threads ends an app's event loop *silently* when a
handler raises (its ``TaskExit`` is ``Exception``), so every handler here is
``guarded``: a failure is logged with its context and the whole controller
stops with status 1, rather than carry on half-working.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import OrderedDict
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

from tegu_ryu.api.auth import Authenticator
from tegu_ryu.api.server import ApiServer
from tegu_ryu.api.wsgi import Api
from tegu_ryu.config import controller_settings
from tegu_ryu.controller import Controller
from tegu_ryu.openflow import messages
from tegu_ryu.openflow.flows import COOKIE_TAG, COOKIE_TAG_MASK
from tegu_ryu.openflow.sync import SwitchSync
from tegu_ryu.process import STOP
from tegu_ryu.topology.model import PortState
from tegu_ryu.topology.refs import MAX_PORT, LinkId, PortRef, dpid_str

LOG = logging.getLogger("tegu_ryu.app")

_SENT_MEMORY = 1024
HandlerT = TypeVar("HandlerT", bound=Callable[..., None])


TICK_INTERVAL = 0.5  # reservations change state within a second of their start and end


class ConfiguredController(Controller):
    """The process's one Controller, built from configuration (an os-ken context)."""

    def __init__(self) -> None:
        super().__init__(controller_settings(cfg.CONF), now=time.time())


class EventTick(osken_event.EventBase):
    """Time to move reservations on (start, end, broken paths)."""


class EventResync(osken_event.EventBase):
    """Time to re-read every switch's flows and repair drift."""


class EventSettled(osken_event.EventBase):
    """A reconnected switch's links have had time to be rediscovered."""

    def __init__(self, datapath: Any) -> None:
        super().__init__()
        self.datapath = datapath


def guarded(handler: HandlerT) -> HandlerT:
    """Log a handler's failure with the event it was handling, then stop the controller."""

    @functools.wraps(handler)
    def wrapper(self: TeguApp, ev: Any) -> None:
        try:
            handler(self, ev)
        except Exception:
            datapath = getattr(getattr(ev, "msg", None), "datapath", None) or getattr(
                ev, "datapath", None
            )
            dpid = getattr(datapath, "id", None)
            where = f" from switch {dpid_str(dpid)}" if dpid is not None else ""
            LOG.exception("%s failed on %s%s", handler.__name__, type(ev).__name__, where)
            STOP.request(1, f"{handler.__name__} failed on {type(ev).__name__}{where}")

    return wrapper  # type: ignore[return-value]


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
    _CONTEXTS: ClassVar[dict[str, type]] = {"tegu_controller": ConfiguredController}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.controller: Controller = kwargs["tegu_controller"]
        self.datapaths: dict[int, Any] = {}
        self.syncs: dict[int, SwitchSync] = {}
        self._settling: set[int] = set()
        self._sent: OrderedDict[tuple[int, int], str] = OrderedDict()
        self._stopping = threading.Event()
        authenticator = Authenticator.from_config(
            cfg.CONF.auth_mode, cfg.CONF.token_file, cfg.CONF.api_host
        )
        self.api = ApiServer(
            cfg.CONF.api_host, cfg.CONF.api_port, Api(self.controller, authenticator)
        )

    def start(self) -> None:
        super().start()
        self.api.start()
        self.threads.append(hub.spawn(self._timer))

    def stop(self) -> None:
        self._stopping.set()
        self.api.stop()
        super().stop()

    def _timer(self) -> None:
        """Post tick and resync events on time; the work happens on the event thread."""
        next_resync = time.monotonic() + cfg.CONF.resync_interval
        while not self._stopping.wait(TICK_INTERVAL):
            self.send_event(self.name, EventTick())
            if time.monotonic() >= next_resync:
                next_resync += cfg.CONF.resync_interval
                self.send_event(self.name, EventResync())

    @set_ev_cls(EventTick)
    @guarded
    def _tick(self, ev: EventTick) -> None:
        self.controller.tick(time.time())

    # ------------------------------------------------------------- switches

    @set_ev_cls(ofp_event.EventOFPStateChange, [MAIN_DISPATCHER, DEAD_DISPATCHER])
    @guarded
    def _state_change(self, ev: Any) -> None:
        datapath = ev.datapath
        if datapath.id is None:
            return
        if ev.state == MAIN_DISPATCHER:
            LOG.info("switch %s connected from %s", dpid_str(datapath.id), datapath.address)
            self.datapaths[datapath.id] = datapath
            self.syncs[datapath.id] = SwitchSync(datapath.id)
            self._settling.add(datapath.id)
            hub.spawn_after(cfg.CONF.discovery_settle, self._post_settled, datapath)
            ports = [port_state(p) for p in datapath.ports.values() if p.port_no <= MAX_PORT]
            self.controller.switch_connected(datapath.id, ports)
            self._read_flows(datapath.id)
        elif self.datapaths.get(datapath.id) is datapath:
            LOG.info("switch %s disconnected", dpid_str(datapath.id))
            del self.datapaths[datapath.id]
            del self.syncs[datapath.id]
            self._settling.discard(datapath.id)
            self.controller.switch_disconnected(datapath.id)
        self._reconcile_all()

    @set_ev_cls(ofp_event.EventOFPPortStatus, MAIN_DISPATCHER)
    @guarded
    def _port_status(self, ev: Any) -> None:
        msg = ev.msg
        dpid = msg.datapath.id
        if msg.desc.port_no > MAX_PORT:
            return
        if msg.reason == ofproto_v1_3.OFPPR_DELETE:
            self.controller.port_deleted(dpid, msg.desc.port_no)
        else:
            state = port_state(msg.desc)
            LOG.info(
                "switch %s port %d is %s", dpid_str(dpid), state.port, "up" if state.up else "down"
            )
            self.controller.port_updated(dpid, state)
        self._reconcile_all()

    @set_ev_cls(topo_event.EventLinkAdd)
    @guarded
    def _link_add(self, ev: Any) -> None:
        link_id = _link_id(ev.link)
        LOG.info("link %s discovered", link_id)
        self.controller.link_discovered(link_id)
        self._reconcile_all()

    @set_ev_cls(topo_event.EventLinkDelete)
    @guarded
    def _link_delete(self, ev: Any) -> None:
        link_id = _link_id(ev.link)
        LOG.info("link %s lost", link_id)
        self.controller.link_lost(link_id)
        self._reconcile_all()

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    @guarded
    def _packet_in(self, ev: Any) -> None:
        msg = ev.msg
        at = PortRef(msg.datapath.id, msg.match["in_port"])
        outcome = self.controller.packet_in(time.time(), at, bytes(msg.data))
        if outcome.replan:
            self._reconcile_all()
        for out in outcome.packets:
            self._send(out.at.dpid, messages.packet_out(out.at.port, out.data))

    # ------------------------------------------------------- reconciliation

    def _post_settled(self, datapath: Any) -> None:
        self.send_event(self.name, EventSettled(datapath))

    @set_ev_cls(EventSettled)
    @guarded
    def _settled(self, ev: EventSettled) -> None:
        """Adopt the hosts that switches' flows point at, then reconcile for real.

        Every switch's flows are consulted, not just this one's: a host's own
        switch may still be settling, and without its attachment this switch
        would delete its flows towards that host.
        """
        dpid = ev.datapath.id
        if self.datapaths.get(dpid) is not ev.datapath or dpid not in self._settling:
            return
        self._settling.discard(dpid)
        adopted = sum(
            self.controller.adopt_hosts(other, sync.installed())
            for other, sync in self.syncs.items()
        )
        if adopted:
            LOG.info("adopted %d hosts from the flows switches hold", adopted)
        self._reconcile_all()

    @set_ev_cls(ofp_event.EventOFPFlowStatsReply, MAIN_DISPATCHER)
    @guarded
    def _flow_stats(self, ev: Any) -> None:
        msg = ev.msg
        sync = self.syncs.get(msg.datapath.id)
        if sync is None:
            return
        flows = [messages.flow_from_stats(stats) for stats in msg.body]
        more = bool(msg.flags & ofproto_v1_3.OFPMPF_REPLY_MORE)
        if sync.read_part(msg.xid, flows, more):
            dpid = msg.datapath.id
            if not sync.installed():
                self._settling.discard(dpid)  # a fresh switch: nothing to preserve
            count = self._reconcile(dpid)
            if count:
                LOG.info(
                    "sent %d flow changes to switch %s after reading it", count, dpid_str(dpid)
                )

    @set_ev_cls(ofp_event.EventOFPErrorMsg, MAIN_DISPATCHER)
    @guarded
    def _error(self, ev: Any) -> None:
        msg = ev.msg
        dpid = msg.datapath.id
        cause = self._sent.get((dpid, msg.xid), "a message no longer remembered")
        LOG.error(
            "switch %s rejected %s: OpenFlow error type %d code %d",
            dpid_str(dpid),
            cause,
            msg.type,
            msg.code,
        )
        if dpid in self.syncs:
            self.syncs[dpid].distrust()
            self._read_flows(dpid)

    @set_ev_cls(EventResync)
    @guarded
    def _resync(self, ev: EventResync) -> None:
        for dpid, sync in self.syncs.items():
            if not sync.reading:
                self._read_flows(dpid)

    def _read_flows(self, dpid: int) -> None:
        request = messages.flow_stats_request(COOKIE_TAG, COOKIE_TAG_MASK)
        if self._send(dpid, request):
            self.syncs[dpid].read_started(request.xid)

    def _reconcile_all(self) -> None:
        changes = {dpid: self._reconcile(dpid) for dpid in list(self.datapaths)}
        changed = {dpid: n for dpid, n in changes.items() if n}
        if changed:
            LOG.info("sent %d flow changes to %d switches", sum(changed.values()), len(changed))

    def _reconcile(self, dpid: int) -> int:
        """Send what switch ``dpid`` lacks or holds in excess; returns the number of changes."""
        sync = self.syncs[dpid]
        if sync.reading or dpid in self._settling:
            return 0  # the read's completion (or settling) reconciles, with better knowledge
        diff = sync.plan(self.controller.desired_flows(dpid))
        if not diff:
            return 0
        LOG.debug(
            "switch %s: %d flows to add, %d to delete",
            dpid_str(dpid),
            len(diff.add),
            len(diff.delete),
        )
        for flow in diff.add:
            self._send(dpid, messages.flow_add(flow), f"add {flow.description or flow.match}")
        for flow in diff.delete:
            self._send(dpid, messages.flow_delete(flow), f"delete {flow.match}")
        self._send(dpid, messages.barrier_request())
        sync.applied(diff)
        return len(diff.add) + len(diff.delete)

    def _send(self, dpid: int, msg: Any, what: str = "") -> bool:
        """Send one message to a connected switch, remembering it by xid for errors."""
        datapath = self.datapaths.get(dpid)
        if datapath is None:
            return False
        msg.datapath = datapath
        datapath.set_xid(msg)
        self._sent[(dpid, msg.xid)] = what or type(msg).__name__
        while len(self._sent) > _SENT_MEMORY:
            self._sent.popitem(last=False)
        return bool(datapath.send_msg(msg))


def _link_id(link: Any) -> LinkId:
    return LinkId(
        PortRef(link.src.dpid, link.src.port_no), PortRef(link.dst.dpid, link.dst.port_no)
    )
