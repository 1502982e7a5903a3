"""Tegu's ``/tegu/api`` text protocol, on the same engine and store as the v1 API.

Scripts written against Tegu (``tegu_req``, ``curl -d ping .../tegu/api``)
keep working: several commands per body, ``auth=TOKEN`` or ``X-Auth-Tegu``,
HTTP 200 with the status inside the ``reqstate``/``endstate`` envelope, and
Tegu's comments. What Tegu got wrong is fixed: every reply is valid JSON,
``listres`` shows only the caller's reservations, cancelling needs both the
tenant's ownership and the reservation's cookie (or the configured super
cookie, which has no default), and no date is too far in the future.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tegu_ryu import __version__
from tegu_ryu.auth import Authenticator
from tegu_ryu.compat.callers import CallerRefused, caller
from tegu_ryu.compat.pledges import tegu_state
from tegu_ryu.compat.syntax import (
    HostName,
    SyntaxProblem,
    key_values,
    parse_bandwidth,
    parse_bandwidths,
    parse_host,
    parse_window,
    split_commands,
    split_pair,
)
from tegu_ryu.compat.tegu_passthru import PassthruRefused, passthru_pledge, passthru_request
from tegu_ryu.compat.tegu_steer import SteerRefused, steer_pledge, steer_request
from tegu_ryu.compat.tegu_stitch import stitch_pledge
from tegu_ryu.controller import Controller
from tegu_ryu.enforcement.planner import reservation_meter_id
from tegu_ryu.errors import Conflict, RequestError
from tegu_ryu.reservations.model import (
    DSCP_CLASSES,
    Bandwidth,
    BandwidthReservation,
    Direction,
    Endpoint,
    Kind,
    Match,
    PassthruReservation,
    RemoteEnd,
    Reservation,
    SteeringReservation,
    StitchReservation,
    StitchRole,
)
from tegu_ryu.reservations.paths import PathMode
from tegu_ryu.reservations.policy import Discount, Fence
from tegu_ryu.reservations.requests import ReservationRequest
from tegu_ryu.stitching.coordinator import Stitcher
from tegu_ryu.stitching.protocol import SegmentRequest
from tegu_ryu.tenancy import Principal
from tegu_ryu.timefmt import format_time
from tegu_ryu.topology.refs import dpid_str

LOG = logging.getLogger(__name__)

PTYPES = {Kind.BANDWIDTH: 0, Kind.ONEWAY: 3}
VERBOSE_SUBSYSTEMS = {
    "tegu": "tegu_ryu", "master": "tegu_ryu",
    "resmgr": "tegu_ryu.reservations", "res_mgr": "tegu_ryu.reservations",
    "net": "tegu_ryu.reservations.engine", "network": "tegu_ryu.reservations.engine",
    "fq": "tegu_ryu.app", "fq_mgr": "tegu_ryu.app", "fqmgr": "tegu_ryu.app",
    "agent": "tegu_ryu.app",
    "http": "tegu_ryu.api", "http_api": "tegu_ryu.api",
    "lib": "os_ken", "gizmos": "os_ken",
}  # fmt: skip


class Refused(Exception):
    """A command that failed; the message is the ``comment`` Tegu clients read."""


@dataclass
class Outcome:
    status: str
    comment: str
    details: Any = None


class TeguApi:
    """Runs ``/tegu/api`` bodies; every reply is the Tegu envelope."""

    def __init__(
        self,
        controller: Controller,
        authenticator: Authenticator,
        super_cookie: str | None,
        clock: Callable[[], float] = time.time,
        stitcher: Stitcher | None = None,
    ) -> None:
        self.controller = controller
        self.stitcher = stitcher
        self._domains = frozenset(stitcher.settings.peers) if stitcher is not None else frozenset()
        self.service = controller.reservations
        self.authenticator = authenticator
        self.super_cookie = super_cookie
        self.clock = clock
        self._commands: dict[str, Callable[[Principal | None, list[str]], Outcome]] = {
            "ping": self._ping,
            "reserve": self._reserve,
            "ow_reserve": self._ow_reserve,
            "owreserve": self._ow_reserve,
            "cancelres": self._cancel,
            "listres": self._listres,
            "listhosts": self._listhosts,
            "listconns": self._listconns,
            "graph": self._graph,
            "listulcaps": self._listulcaps,
            "listulcap": self._listulcaps,
            "setulcap": self._setulcap,
            "setdiscount": self._setdiscount,
            "qdump": self._qdump,
            "chkpt": self._chkpt,
            "pause": self._pause,
            "resume": self._resume,
            "refresh": self._refresh,
            "verbose": self._verbose,
            "steer": self._steer,
            "passthru": self._passthru,
        }

    def handle(self, method: str, body: str, header_token: str | None) -> dict[str, Any]:
        """The envelope for a POST/PUT (commands) or DELETE (``reservation <id|all> [cookie]``);
        a GET gets Tegu's "GET requests are unsupported"."""
        if method == "GET":
            return {
                "reqstate": [],
                "endstate": {"status": "ERROR", "comment": "GET requests are unsupported"},
            }
        try:
            commands = split_commands(body)
        except SyntaxProblem as problem:
            return _envelope([Outcome("ERROR", str(problem))], requests=[1])
        if not commands:
            return {"reqstate": [], "endstate": {"status": "ERROR", "comment": "missing command"}}
        outcomes = []
        for index, command in enumerate(commands):
            words = command.words if method != "DELETE" else ["cancelres", *command.words[1:]]
            if method == "DELETE" and command.words[0] != "reservation":
                outcomes.append(Outcome("ERROR", f"unrecognised delete action: {command.text}"))
                continue
            try:
                who = caller(
                    self.authenticator, header_token, command, self._domains, self._tenant_of
                )
            except CallerRefused as refused:
                outcomes.append(Outcome("ERROR", str(refused)))
                continue
            outcomes.append(self._run(words, who, index))
        if method == "DELETE":  # Tegu numbered these as strings, and counted them
            return _envelope(
                outcomes,
                requests=[str(n) for n in range(1, len(commands) + 1)],
                suffix=f" in {len(commands)} requests",
            )
        return _envelope(outcomes, requests=list(range(1, len(commands) + 1)))

    def _run(self, words: list[str], who: Principal | None, index: int) -> Outcome:
        handler = self._commands.get(words[0])
        if handler is None:  # Tegu's words, with its (0-based) record number
            return Outcome(
                "ERROR",
                f"unrecognised put and/or post action: request {index}, {words[0]}: "
                f"whole req=({' '.join(words)})",
            )
        try:
            return handler(who, words[1:])
        except (Refused, SyntaxProblem) as problem:
            return Outcome("ERROR", str(problem))
        except RequestError as error:
            return Outcome("ERROR", _tegu_comment(error))

    # ------------------------------------------------------------ commands

    def _ping(self, who: Principal | None, args: list[str]) -> Outcome:
        return Outcome("OK", "", f"pong: tegu_ryu {__version__}")

    def _reserve(self, who: Principal | None, args: list[str]) -> Outcome:
        return self._make(who, args, Kind.BANDWIDTH)

    def _ow_reserve(self, who: Principal | None, args: list[str]) -> Outcome:
        return self._make(who, args, Kind.ONEWAY)

    def _make(self, who: Principal | None, args: list[str], kind: Kind) -> Outcome:
        principal = _authorised(who, "reserve")
        options, positional = key_values(args)
        if len(positional) < 5:
            names = ["bandw", "window", "hosts", "cookie", "dscp"][len(positional) :]
            raise Refused(f"missing parameters: ({', '.join(names)})")
        bandwidth_text, window_text, hosts_text, cookie, dscp_text = positional[:5]
        now = self.clock()
        out, inbound = parse_bandwidths(bandwidth_text)
        if out < 1 or (kind is Kind.BANDWIDTH and inbound < 1):
            raise Refused("invalid bandwidth; bw-in and bw-out must be greater than zero")
        first, second = (parse_host(h) for h in split_pair(hosts_text))
        if self.stitcher is not None and first.project in self.stitcher.settings.peers:
            raise Refused(
                f"{first.project} is another domain: name the local host first and the far host "
                f"second (h1,{first.project}/{first.host})"
            )
        if self.stitcher is not None and second.project in self.stitcher.settings.peers:
            if kind is Kind.ONEWAY:
                raise Refused("a reservation to another domain carries both directions")
            segment = SegmentRequest(
                StitchRole.ORIGIN,
                first.host,
                RemoteEnd(second.project, second.host),
                Bandwidth(out, inbound),
                parse_window(window_text, now),
            )
            stitched = self.stitcher.reserve(principal, segment)
            status = self.controller.enforcement(stitched)["status"]
            comment = f"stitched reservation accepted; label {stitched.label} to {second.project}"
            return Outcome("OK", comment, stitch_pledge(stitched, now, status))
        if kind is Kind.ONEWAY and first.external:
            first, second = second, first
        if first.external:
            raise Refused(
                f"h1 validation failed: an external address cannot be the source: {hosts_text}"
            )
        if second.external and kind is Kind.BANDWIDTH:
            kind = Kind.ONEWAY  # Tegu's "half reservation": only the way out can be protected
        window = parse_window(window_text, now)
        request = ReservationRequest(
            kind=kind,
            src=first.host,
            dst=second.host,
            bandwidth=Bandwidth(out=out, in_=0 if kind is Kind.ONEWAY else inbound),
            window=window,
            match=_match(options, first, second),
            dscp=_dscp(dscp_text),
            dscp_exit=dscp_text.startswith("global_") or kind is Kind.ONEWAY,
            path_mode=PathMode.SHORTEST,
            name=None,
            cookie=cookie,
        )
        return self.service.admit(principal, request, now, lambda r: self._accepted(r, now))

    def _accepted(self, reservation: BandwidthReservation, now: float) -> Outcome:
        """The reply to an admitted reservation: built before it is stored, never after."""
        if reservation.kind is Kind.ONEWAY:
            return Outcome("OK", "one way reservation accepted", self._pledge(reservation, now))
        hops = sum(len(route.hops) for route in reservation.routes.values())
        comment = f"reservation accepted; reservation path has {hops} entries"
        return Outcome("OK", comment, self._pledge(reservation, now))

    def _steer(self, who: Principal | None, args: list[str]) -> Outcome:
        principal = _authorised(who, "steer")
        now = self.clock()
        try:
            request = steer_request(args, now)
        except SteerRefused as refused:
            raise Refused(str(refused)) from refused

        def accepted(steering: SteeringReservation) -> Outcome:
            comment = (
                f"steering reservation accepted; reservation has {len(steering.chain)} middleboxes"
            )
            return Outcome("OK", comment, steer_pledge(steering, now, self._project_of(steering)))

        return self.service.admit_steering(principal, request, now, accepted)

    def _passthru(self, who: Principal | None, args: list[str]) -> Outcome:
        principal = _authorised(who, "passthru")
        now = self.clock()
        try:
            request = passthru_request(args, now)
        except PassthruRefused as refused:
            raise Refused(str(refused)) from refused

        def accepted(passthru: PassthruReservation) -> Outcome:
            pledge = passthru_pledge(passthru, now, self._project_of(passthru)(passthru.host))
            return Outcome("OK", "passthru reservation accepted", pledge)

        return self.service.admit_passthru(principal, request, now, accepted)

    def _cancel(self, who: Principal | None, args: list[str]) -> Outcome:
        principal = _authorised(who, "cancelres")
        if not args:
            raise Refused("missing parameters: (id|all) [cookie]")
        target, cookie = args[0], args[1] if len(args) > 1 else ""
        now = self.clock()
        super_cookie = self.super_cookie is not None and cookie == self.super_cookie
        if target == "all":
            live = [
                r
                for r in self.service.visible(principal)
                if isinstance(r, BandwidthReservation | SteeringReservation | PassthruReservation)
                and not r.state.final
            ]  # mirrors are ended through Tegu's mirror API
            chosen = [
                r
                for r in live
                if super_cookie or (r.cookie_digest is not None and r.cookie_matches(cookie))
            ]
            for reservation in chosen:
                self.service.cancel(principal, reservation.id, now)
            return Outcome(
                "OK",
                f"{len(chosen)} reservations were cancelled",
                {"cancelled": [r.id for r in chosen]},
            )
        pledge = self.service.get(principal, target)
        if isinstance(pledge, StitchReservation) and self.stitcher is not None:
            self.stitcher.cancel(principal, target)  # and the peer domain's side
            return Outcome(
                "OK",
                "reservation successfully deleted",
                f"stitched reservation was cancelled (deleted) here and at {pledge.remote.domain}",
            )
        if not isinstance(pledge, BandwidthReservation | SteeringReservation | PassthruReservation):
            raise Refused(f"{target} is a mirror: end it with DELETE /tegu/mirrors/NAME/")
        if not super_cookie and not pledge.cookie_matches(cookie):
            raise Refused(
                "reservation delete failed: not authorised to access or delete reservation: "
                + target
            )
        self.service.cancel(principal, target, now)
        return Outcome(
            "OK",
            "reservation successfully deleted",
            f"reservation was cancelled (deleted): {target}",
        )

    def _listres(self, who: Principal | None, args: list[str]) -> Outcome:
        principal = _authorised(who, "listres")
        now = self.clock()
        live = [r for r in self.service.visible(principal) if not r.state.final]
        pledges = []  # mirrors are listed by Tegu's mirror API, not here
        for r in live:
            if isinstance(r, BandwidthReservation):
                pledges.append(self._pledge(r, now))
            elif isinstance(r, SteeringReservation):
                pledges.append(steer_pledge(r, now, self._project_of(r)))
            elif isinstance(r, PassthruReservation):
                pledges.append(passthru_pledge(r, now, self._project_of(r)(r.host)))
            elif isinstance(r, StitchReservation):
                status = self.controller.enforcement(r)["status"]
                pledges.append(stitch_pledge(r, now, status))
        return Outcome("OK", "", {"reservations": pledges})

    def _listhosts(self, who: Principal | None, args: list[str]) -> Outcome:
        _authorised(who, "listhosts", admin=True)
        hosts = self._hosts_of(key_values(args)[0].get("project"))
        return Outcome("OK", "", [_host_json(h) for h in hosts])

    def _listconns(self, who: Principal | None, args: list[str]) -> Outcome:
        _authorised(who, "listconns")  # where a host is plugged in is not for strangers
        if not args:
            raise Refused("missing parameters: (host)")
        hosts = self.controller.topology_view()["hosts"]
        assert isinstance(hosts, list)
        wanted = parse_host(args[0]).host
        for host in hosts:
            if wanted in (host["name"], host["mac"], *host["ips"]):
                found = _host_json(host)
                return Outcome(
                    "OK", "", {"host": {k: found[k] for k in ("ip4", "ip6", "mac", "conns")}}
                )
        raise Refused(f"did not find host: {args[0]}")

    def _graph(self, who: Principal | None, args: list[str]) -> Outcome:
        """Tegu's network graph: switches, their links with the booked time slices, hosts."""
        _authorised(who, "graph", admin=True)
        now = self.clock()
        elements: dict[str, dict[str, Any]] = {}
        for link, usable, alarm, steps in self.service.allotments(now):
            element = elements.setdefault(
                dpid_str(link.src.dpid), {"id": dpid_str(link.src.dpid), "links": []}
            )
            element["links"].append(
                {
                    "id": f"{link.src}-{link.dst}",
                    "sw1": dpid_str(link.src.dpid),
                    "sw1port": link.src.port,
                    "sw2": dpid_str(link.dst.dpid),
                    "sw2port": link.dst.port,
                    "allotment": {
                        "max_capacity": usable,
                        "alarm": alarm,
                        "timeslices": [
                            {
                                "commence": int(start),
                                "conclude": int(end),
                                "amt": amount,
                                "fences": [],
                                "queues": [],
                            }
                            for start, end, amount in steps
                        ],
                    },
                    "mlag": "",
                    "up": link.up,
                }
            )
        for host in self._hosts_of(key_values(args)[0].get("project")):
            element = elements.setdefault(host["dpid"], {"id": host["dpid"], "links": []})
            element.setdefault("conn_hosts", []).append(
                {"host": host["name"] or host["mac"], "port": host["port"], "vmid": _vmid(host)}
            )
        return Outcome("OK", "", {"netele": [elements[k] for k in sorted(elements)]})

    def _hosts_of(self, projects: str | None) -> list[dict[str, Any]]:
        """Known hosts, only those of the given projects (``project=p1,p2``) if asked."""
        hosts = self.controller.topology_view()["hosts"]
        assert isinstance(hosts, list)
        if not projects:
            return hosts
        wanted = set(projects.split(","))
        tenants = {h.mac: h.tenant for h in self.controller.topology.hosts()}
        return [h for h in hosts if tenants.get(h["mac"]) in wanted]

    def _listulcaps(self, who: Principal | None, args: list[str]) -> Outcome:
        principal = _authorised(who, "listulcaps", admin=True)
        fences = self.service.fences(principal)
        default = self.service.policy().default_fence
        rows = [{"name": "default", **_ulcap(default)}]
        rows += [{"name": tenant, **_ulcap(fence)} for tenant, fence in sorted(fences.items())]
        return Outcome("OK", "", rows)

    def _setulcap(self, who: Principal | None, args: list[str]) -> Outcome:
        principal = _authorised(who, "setulcap", admin=True)
        if len(args) < 2:
            raise Refused("missing parameters: (project) (value)")
        tenant, value = args[0], args[1].rstrip("%")
        try:
            percent = float(value)
        except ValueError as exc:
            raise Refused(f"invalid user link cap: {args[1]}") from exc
        if percent == -1:
            self.service.clear_fence(principal, tenant)
            return Outcome("OK", f"user link cap deleted for {tenant}")
        if not 0 <= percent <= 100:
            raise Refused(f"invalid user link cap: {args[1]} (0 to 100, or -1 to delete)")
        self.service.set_fence(principal, tenant, {"percent": percent})
        return Outcome("OK", f"user link cap set for {tenant}: {percent:g}")

    def _setdiscount(self, who: Principal | None, args: list[str]) -> Outcome:
        principal = _authorised(who, "setdiscount", admin=True)
        if not args:
            raise Refused("missing parameters: (value)")
        value = parse_bandwidth(args[0])
        discount = Discount(percent=value) if 0 < value <= 100 else Discount(bps=value)
        self.service.set_discount(principal, discount)
        return Outcome("OK", f"discount amount set to {args[0]}")

    def _qdump(self, who: Principal | None, args: list[str]) -> Outcome:
        """The meters now on the switches: ``switch/port,id,meter,min_bps,max_bps,priority``."""
        principal = _authorised(who, "qdump", admin=True)
        now = self.clock()
        rows = []
        for reservation in self.service.visible(principal):  # a copy, taken under the lock
            if (
                not isinstance(reservation, BandwidthReservation)
                or reservation.state_at(now).value != "active"
            ):
                continue
            for direction, route in reservation.routes.items():
                hop = route.hops[0]
                port = hop.out_port if hop.out_port is not None else "base"
                bps = reservation.bandwidth.of(direction)
                queue = reservation_meter_id(reservation, direction)
                rows.append(
                    f"{dpid_str(hop.dpid)}/{port},{reservation.id}.{direction.value},{queue},"
                    f"{bps},{bps},200"
                )
        return Outcome("OK", "active queues", {"queues": sorted(rows)})

    def _chkpt(self, who: Principal | None, args: list[str]) -> Outcome:
        principal = _authorised(who, "chkpt", admin=True)
        where = self.service.checkpoint(principal, self.clock())
        return Outcome("OK", f"checkpoint was written: {where}")

    def _pause(self, who: Principal | None, args: list[str]) -> Outcome:
        _authorised(who, "pause", admin=True)
        if not self.controller.reservations.set_paused(True):
            return Outcome(
                "WARN",
                "",
                "reservations already in a paused state; use resume to return to normal operation",
            )
        return Outcome("OK", "", "reservations are paused: their flows are being removed")

    def _resume(self, who: Principal | None, args: list[str]) -> Outcome:
        _authorised(who, "resume", admin=True)
        if not self.controller.reservations.set_paused(False):
            return Outcome("WARN", "", "reservation processing already in a normal state")
        return Outcome("OK", "", "reservations are resumed: their flows are being installed")

    def _refresh(self, who: Principal | None, args: list[str]) -> Outcome:
        principal = _authorised(who, "refresh", admin=True)
        if not args:
            raise Refused("missing parameters: (host)")
        changed = []
        for name in args:
            changed += self.service.refresh(principal, parse_host(name).host, self.clock())
        return Outcome("OK", f"{len(changed)} reservations were refreshed", [r.id for r in changed])

    def _verbose(self, who: Principal | None, args: list[str]) -> Outcome:
        _authorised(who, "verbose", admin=True)
        if not args or not (args[0].isascii() and args[0].isdigit()):
            raise Refused("missing parameters: (level) [subsystem]")
        subsystem = args[1] if len(args) > 1 else "tegu"
        if subsystem not in VERBOSE_SUBSYSTEMS:  # Tegu's words (its list was never complete)
            return Outcome(
                "ERROR",
                "",
                "unrecognised subsystem name given; must be one of: "
                "agent, osif, resmgr, http, fqmgr, or net",
            )
        level = logging.DEBUG if int(args[0]) > 0 else logging.INFO
        logging.getLogger(VERBOSE_SUBSYSTEMS[subsystem]).setLevel(level)
        if len(args) == 1:  # Tegu's own words for the master level
            return Outcome("OK", "", f"verbose set: master level to {int(args[0])}")
        return Outcome("OK", "", f"verbose set: {subsystem} now {int(args[0])}")

    # ------------------------------------------------------------- replies

    def _host_text(self, reservation: BandwidthReservation, end: Endpoint, port: int | None) -> str:
        """``project/host:port{vlan}`` as Tegu wrote it: the host's project (its tenant in the
        static topology; the reservation's owner when it has none), ``:0`` for no port."""
        if end.attach is None:  # an address outside the network, as Tegu's "!//address"
            return f"!//{end.given}:{port or 0}"
        text = f"{self._project_of(reservation)(end)}/{end.given}:{port or 0}"
        if reservation.match.vlan:
            text += f"{{{reservation.match.vlan}}}"
        return text

    def _tenant_of(self, given: str) -> str | None:
        """The tenant of the host named ``given`` (address, MAC or name) in the topology."""
        host = self.controller.topology.host_named(given)
        return None if host is None else host.tenant

    def _project_of(self, reservation: Reservation) -> Callable[[Endpoint | None], str]:
        """A host's project as Tegu wrote it: its ``tenant`` in the static topology, else the
        reservation's owner."""

        def project(end: Endpoint | None) -> str:
            mac = None if end is None else end.mac
            host = self.controller.topology.host_by_mac(mac) if mac else None
            return host.tenant if host is not None and host.tenant else reservation.owner

        return project

    def _pledge(self, reservation: BandwidthReservation, now: float) -> dict[str, Any]:
        """A reservation as Tegu showed one (never with its cookie)."""
        word, remaining = tegu_state(reservation, now)
        common = {
            "state": word,
            "time": remaining,
            "id": reservation.id,
            "qid": reservation.id,
            "dscp": reservation.dscp or 0,
            "protocol": reservation.match.protocol or "",
            "ptype": PTYPES[reservation.kind],
            "enforcement": self.controller.enforcement(reservation)["status"],
        }
        if reservation.reason:
            common["reason"] = reservation.reason
        src = self._host_text(reservation, reservation.src, reservation.match.src_port)
        dst = self._host_text(reservation, reservation.dst, reservation.match.dst_port)
        if reservation.kind is Kind.ONEWAY:
            return {**common, "bandwout": reservation.bandwidth.out, "src": src, "dest": dst}
        return {
            **common,
            "bandwin": reservation.bandwidth.in_,
            "bandwout": reservation.bandwidth.out,
            "host1": src,
            "host2": dst,
            "dscp_koe": reservation.dscp_exit,
            "start": format_time(reservation.window.start),
            "end": format_time(reservation.window.end),
        }


def _authorised(who: Principal | None, command: str, admin: bool = False) -> Principal:
    if who is None or (admin and not who.admin):
        raise Refused(f"you are not authorised to submit a {command} command")
    return who


def _match(options: dict[str, str], first: HostName, second: HostName) -> Match:
    protocol = options.get("proto")
    if protocol not in (None, "tcp", "udp"):
        raise Refused(f"invalid protocol: {protocol} (tcp or udp)")
    if first.vlan and second.vlan and first.vlan != second.vlan:
        raise Refused("the two hosts name different VLANs")
    return Match(
        protocol=protocol, src_port=first.port, dst_port=second.port, vlan=first.vlan or second.vlan
    )


def _dscp(text: str) -> int:
    name = text.removeprefix("global_")
    if name in ("0", ""):
        return DSCP_CLASSES["voice"]
    if name not in DSCP_CLASSES:
        raise Refused("traffic classification string is not valid: use voice, control or data")
    return DSCP_CLASSES[name]


def _vmid(host: dict[str, Any]) -> str:
    return str(host["name"] or host["mac"])


def _host_json(host: dict[str, Any]) -> dict[str, Any]:
    ip4 = [ip for ip in host["ips"] if ipaddress.ip_address(ip).version == 4]
    ip6 = [ip for ip in host["ips"] if ipaddress.ip_address(ip).version == 6]
    return {
        "name": host["name"] or host["mac"],
        "vmid": host["name"] or host["mac"],
        "mac": host["mac"],
        "ip4": ip4[0] if ip4 else "",
        "ip6": ip6[0] if ip6 else "",
        "conns": [{"switch": host["dpid"], "port": host["port"]}],
    }


def _ulcap(fence: Fence) -> dict[str, Any]:
    """A fence as Tegu's fence list showed one: the cap (percent of each link) in ``max``;
    ``bps`` when the cap is absolute."""
    cap = fence.percent if fence.percent is not None else 100
    return {"max": int(cap) if cap == int(cap) else cap, "min": 0, "value": 0, "bps": fence.bps}


def _tegu_comment(error: RequestError) -> str:
    """Our error in the words Tegu clients look for, with our explanation after them."""
    if isinstance(error, Conflict) and error.code == "duplicate" and error.details:
        return f"reservation duplicates existing reservation: {error.details['reservation']}"
    if isinstance(error, Conflict) and error.code in ("no_capacity", "fence"):
        arrow = "->" if (error.details or {}).get("direction") == Direction.OUT.value else "<-"
        return (
            f"reservation rejected: unable to generate a path: no capacity (h1{arrow}h2): "
            + error.message
        )
    if isinstance(error, Conflict) and error.code == "no_path":
        return f"reservation rejected: unable to generate a path: no path: {error.message}"
    if error.code == "unknown_endpoint":
        return f"unable to map host name to a known IP address: host unknown: {error.message}"
    return error.message


def _envelope(outcomes: list[Outcome], requests: list[Any], suffix: str = "") -> dict[str, Any]:
    states = []
    for outcome, request in zip(outcomes, requests, strict=False):
        state: dict[str, Any] = {
            "status": outcome.status,
            "request": request,
            "comment": outcome.comment,
        }
        if outcome.details is not None:
            state["details"] = outcome.details
        states.append(state)
    errors = sum(1 for o in outcomes if o.status == "ERROR")
    return {
        "reqstate": states,
        "endstate": {
            "status": "ERROR" if errors else "OK",
            "comment": f"{errors} errors processing requests{suffix}",
        },
    }
