"""Configuration options, registered on os-ken's oslo.config object.

Every key works the same on the command line (``--api-port 29444``) and in a
``--config-file`` (``api_port = 29444`` under ``[DEFAULT]``), as with
ryu-manager. os-ken's own options (``ofp_listen_host``, ``ofp_tcp_listen_port``,
``verbose``, ...) live on the same object.
"""

from __future__ import annotations

import difflib
import ipaddress
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

from oslo_config import cfg

from tegu_ryu.agents.listener import AgentListener, parse_listen, read_token
from tegu_ryu.agents.registry import AgentRegistry
from tegu_ryu.api.server import ServerLimits
from tegu_ryu.controller import ControllerSettings
from tegu_ryu.enforcement.backends import SETTINGS as ENFORCEMENT_SETTINGS
from tegu_ryu.enforcement.planner import MeterSettings
from tegu_ryu.errors import ConfigurationError, RequestError
from tegu_ryu.ovsdb.rows import TUNNEL_KINDS, BridgeRows
from tegu_ryu.reservations.mirror_admission import MirrorSettings
from tegu_ryu.reservations.mirror_requests import TunnelRequest
from tegu_ryu.reservations.policy import Discount, Fence, Policy
from tegu_ryu.stitching.points import stitch_settings
from tegu_ryu.topology.capacity import CapacityPolicy
from tegu_ryu.topology.refs import RefError, parse_dpid

DEFAULT_API_PORT = 29444  # the port Tegu listened on, so existing clients find us

OPTIONS = [
    cfg.HostAddressOpt(
        "api-host",
        default="127.0.0.1",
        help="Address the REST API listens on (loopback unless you mean it).",
    ),
    cfg.PortOpt("api-port", default=DEFAULT_API_PORT, help="Port the REST API listens on."),
    cfg.IntOpt(
        "api-threads",
        default=8,
        min=1,
        max=256,
        help="Worker threads of the REST API. Slow clients never hold one: a request "
        "reaches a worker only once it has fully arrived.",
    ),
    cfg.IntOpt(
        "api-connection-limit",
        default=1000,
        min=10,
        help="Most connections the REST API keeps open; more wait in the listen backlog.",
    ),
    cfg.IntOpt(
        "api-backlog",
        default=1024,
        min=16,
        help="Listen backlog of the REST API (the kernel caps it at net.core.somaxconn).",
    ),
    cfg.FloatOpt(
        "api-idle-timeout",
        default=60.0,
        min=1.0,
        help="Seconds a REST API connection may stay silent between requests before it is closed.",
    ),
    cfg.FloatOpt(
        "api-request-timeout",
        default=10.0,
        min=1.0,
        help="Seconds a request may take to arrive whole (headers and body) from its "
        "first byte; a client trickling slower is disconnected.",
    ),
    cfg.IntOpt(
        "api-max-body",
        default=1024 * 1024,
        min=1024,
        help="Largest request body in bytes; a larger one gets 413 before it is read.",
    ),
    cfg.IntOpt(
        "api-max-header",
        default=64 * 1024,
        min=1024,
        help="Largest request line plus headers in bytes; larger gets 431.",
    ),
    cfg.StrOpt(
        "static-topology",
        help="JSON file declaring switches, links (with capacities) and hosts; "
        "merged with what LLDP discovers.",
    ),
    cfg.MultiStrOpt(
        "capacity-override",
        default=[],
        help="Capacity of the links leaving one port, DPID:PORT=RATE (e.g. "
        "0000000000000001:3=50M); may be repeated. Wins over everything else.",
    ),
    cfg.StrOpt(
        "capacity-override-default",
        help="Capacity for every link not overridden per port or declared in the "
        "static topology, ignoring what switches report.",
    ),
    cfg.StrOpt(
        "capacity-fallback",
        default="1G",
        help="Capacity of a link whose switch reports no port speed.",
    ),
    cfg.StrOpt(
        "state-dir",
        default="/var/lib/tegu_ryu",
        help="Directory of the reservation database (created on first start).",
    ),
    cfg.FloatOpt(
        "reservation-retention",
        default=7 * 86400.0,
        min=0.0,
        help="Seconds an expired or cancelled reservation stays queryable.",
    ),
    cfg.FloatOpt(
        "link-headroom",
        default=0.0,
        min=0.0,
        max=99.0,
        help="Percent of every link's capacity kept back from reservations (initial value; "
        "admins change it with PUT /v1/settings).",
    ),
    cfg.FloatOpt(
        "link-alarm",
        default=90.0,
        min=0.0,
        max=100.0,
        help="Warn when bookings on a link pass this percent of its capacity.",
    ),
    cfg.StrOpt(
        "discount",
        default="0",
        help="Taken off every request before admission: a percentage (10%%) or a rate (1M).",
    ),
    cfg.FloatOpt(
        "default-fence",
        default=100.0,
        min=0.0,
        max=100.0,
        help="Percent of any link one tenant may hold unless an admin sets its fence "
        "(100 = no limit, 0 = nothing until a fence is set).",
    ),
    cfg.FloatOpt(
        "reservation-burst-ms",
        default=300.0,
        min=1.0,
        help="Burst of a reservation's meter, in milliseconds of its rate (TCP needs some).",
    ),
    cfg.FloatOpt(
        "meter-overhead",
        default=5.0,
        min=0.0,
        max=50.0,
        help="Percent a reservation's meter passes above the reserved rate, for frame "
        "headers, so that the reserved rate is what TCP gets.",
    ),
    cfg.IntOpt(
        "best-effort-burst-kbit",
        default=200,
        min=1,
        help="Burst of the best-effort meter on a reserved link, in kbit.",
    ),
    cfg.StrOpt(
        "auth-mode",
        default="none",
        choices=["none", "token"],
        help="none: every request is the admin tenant 'default' (loopback only); "
        "token: Authorization: Bearer TOKEN, looked up in token_file.",
    ),
    cfg.StrOpt("token-file", help="JSON file of token -> {tenant, roles}."),
    cfg.StrOpt(
        "super-cookie",
        secret=True,
        help="The /tegu/api cookie that cancels any reservation the caller can see "
        "(Tegu's super cookie). No default: unset means there is none.",
    ),
    cfg.FloatOpt(
        "discovery-settle",
        default=3.0,
        min=0.0,
        help="Seconds to leave a newly connected switch's existing flows alone while "
        "LLDP rediscovers its links, so a controller restart changes nothing that works.",
    ),
    cfg.FloatOpt(
        "control-grace",
        default=30.0,
        min=0.0,
        help="Seconds a switch whose OpenFlow connection dropped keeps its links, ports "
        "and the reservations through it as they were (it keeps forwarding with "
        "fail_mode secure); only a port reported down, or this running out, moves them.",
    ),
    cfg.FloatOpt(
        "mirror-min-duration",
        default=60.0,
        min=0.0,
        help="Seconds a mirror's window must last at least.",
    ),
    cfg.StrOpt(
        "mirror-vlans",
        default="3000-4094",
        help="VLAN ids (FIRST-LAST) that mark mirror copies on links between switches, one "
        "per live mirror. Tenants' traffic must not use them.",
    ),
    cfg.ListOpt(
        "mirror-allowed-remotes",
        default=[],
        help="Networks (CIDRs, comma-separated) a mirror may tunnel its copies to over GRE or "
        "VXLAN; empty (the default) allows no tunnels: copies of tenants' traffic leave the "
        "network only where the operator says.",
    ),
    cfg.MultiStrOpt(
        "mirror-label",
        default=[],
        help="A named remote collector, NAME=gre:IP or NAME=vxlan:IP[:KEY], that Tegu's mirror "
        "API accepts as output label:NAME; may be repeated.",
    ),
    cfg.FloatOpt(
        "conformance-interval",
        default=5.0,
        min=0.0,
        help="Seconds between readings of the reservation meters' counters, from which each "
        "reservation's measured rate and drops are shown; 0 to read none.",
    ),
    cfg.StrOpt(
        "metrics-access",
        default="auto",
        choices=["auto", "public", "admin"],
        help="Who may read GET /metrics: public, admin (an admin token), or auto (public when "
        "the API listens on loopback only, else admin).",
    ),
    cfg.StrOpt(
        "enforcement",
        default="auto",
        choices=list(ENFORCEMENT_SETTINGS),
        help="How switches enforce reserved rates: auto (by what each switch says it can do "
        "when it connects: OpenFlow meters where usable, else linux-htb queues on a kernel "
        "datapath an OVSDB server reports, else none, reported), meters (always, for switches "
        "that misreport), queues (linux-htb queues through OVSDB and set_queue; the userspace "
        "datapath ignores them) or dscp (marks only, nothing policed).",
    ),
    cfg.BoolOpt(
        "queue-borrow",
        default=False,
        help="On queue-mode switches, let a reservation's queue use idle capacity beyond its "
        "rate (max-rate = the link's capacity) instead of capping it at the reserved rate.",
    ),
    cfg.MultiStrOpt(
        "enforcement-override",
        default=[],
        help="One switch's enforcement, DPID=auto|meters|queues|dscp; may be repeated.",
    ),
    cfg.MultiStrOpt(
        "ovsdb-remotes",
        default=["unix:/var/run/openvswitch/db.sock"],
        help="OVSDB servers to read bridges' datapath types and the OVS version from "
        "(unix:PATH, tcp:HOST:6640, ssl:HOST:6640); may be repeated; 'none' for no OVSDB.",
    ),
    cfg.StrOpt(
        "dscp-policy",
        default="keep",
        choices=["keep", "reset"],
        help="What happens to the DSCP marking of IP traffic entering the network that no "
        "reservation claims: keep it (the default: here meters, not markings, give "
        "reservations their rate, so a marking buys nothing inside this network), or reset "
        "it to 0 (when the switches' queues or the network beyond trust DSCP; passthru "
        "reservations then let one host's marking through).",
    ),
    cfg.FloatOpt(
        "resync-interval",
        default=10.0,
        min=1.0,
        help="Shortest time in seconds between re-reads of a switch's tegu-owned flows "
        "(drift repair); a switch is re-read no sooner than nine times as long as its last "
        "read took, so that drift repair stays a tenth of the work however many flows it holds.",
    ),
    cfg.StrOpt(
        "agent-listen",
        default="",
        help="HOST:PORT where host agents (tegu-agent) connect, e.g. 127.0.0.1:29055; empty "
        "(the default) for no agents. Needs agent_token_file.",
    ),
    cfg.StrOpt(
        "agent-token-file",
        help="File holding the shared token agents must present (the same file as theirs).",
    ),
    cfg.StrOpt("agent-tls-cert", help="PEM certificate of the agent port; TLS when set."),
    cfg.StrOpt("agent-tls-key", help="PEM private key of agent_tls_cert."),
    cfg.StrOpt(
        "domain",
        help="This controller's domain name, as peer domains know it (WAN stitching); a "
        "remote endpoint is DOMAIN/HOST.",
    ),
    cfg.MultiStrOpt(
        "stitch",
        default=[],
        help="A stitch point toward a peer domain: NAME:DPID:PORT peer=DOMAIN "
        "vlan=FIRST-LAST (or gre=IP / vxlan=IP with keys=FIRST-LAST, PORT then being the "
        "OpenFlow number of the tunnel port tegu_ryu creates) capacity=RATE; may be repeated.",
    ),
    cfg.MultiStrOpt(
        "peer",
        default=[],
        help="A peer domain's controller, DOMAIN=URL of its REST API; may be repeated.",
    ),
    cfg.MultiStrOpt(
        "peer-token-file",
        default=[],
        help="DOMAIN=PATH of the file holding the token this controller and that peer both "
        "present to each other; may be repeated.",
    ),
    cfg.FloatOpt(
        "stitch-hold-timeout",
        default=30.0,
        min=1.0,
        help="Seconds a stitched reservation's segment stays held without both domains "
        "committing, before it lapses by itself.",
    ),
    cfg.FloatOpt(
        "peer-timeout",
        default=5.0,
        min=0.1,
        help="Seconds to wait for a peer controller's answer.",
    ),
    cfg.FloatOpt(
        "peer-retry-interval",
        default=5.0,
        min=0.1,
        help="Seconds between retries of what a peer has not acknowledged yet (a cancel, or "
        "the commit of a change); one retry loop per peer.",
    ),
    cfg.FloatOpt(
        "agent-heartbeat-timeout",
        default=30.0,
        min=1.0,
        help="Seconds an agent may stay silent before it is dropped and shown as gone "
        "(agents send a heartbeat every 10 s by default).",
    ),
]

APP_OPTION = cfg.MultiStrOpt(
    "app",
    positional=True,
    default=[],
    help="os-ken application modules to run (default: the standard tegu_ryu set).",
)

STANDARD_APPS = ["os_ken.topology.switches", "tegu_ryu.app"]


def register_options(conf: cfg.ConfigOpts) -> None:
    """Register tegu_ryu's options and the defaults it wants for os-ken's own."""
    conf.register_cli_opts([*OPTIONS, APP_OPTION])
    conf.set_default("observe_links", True)
    conf.set_default("ofp_listen_host", "127.0.0.1")
    conf.set_default("ofp_tcp_listen_port", 6653)


def refuse_unknown_keys(conf: cfg.ConfigOpts) -> None:
    """ConfigurationError naming the first key of a ``[DEFAULT]`` section that no registered
    option has, with the closest one that exists.

    oslo.config ignores such keys: a typo (``enforcment = queues``) or an option of
    another version (``store = etcd``) would silently leave the default in force.
    Call it once every app that registers options has been loaded. Other sections
    keep oslo.config's own rules.
    """
    known = set(conf._opts)  # the [DEFAULT] options by dest (no public view without values)
    for path in [*conf.config_file, *_files_in(conf.config_dir)]:
        sections: dict[str, dict[str, Any]] = {}
        cfg.ConfigParser(path, sections).parse()
        for key in sections.get("DEFAULT", {}):
            name = key.replace("-", "_")
            if name in known:
                continue
            close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise ConfigurationError(
                f"{path}: unknown option {key!r} in [DEFAULT] (this version has no such "
                f"option{hint})"
            )


def _files_in(directory: str | None) -> list[str]:
    """The ``*.conf`` files of ``--config-dir``, in the order oslo.config reads them."""
    if not directory:
        return []
    return sorted(str(path) for path in Path(directory).glob("*.conf"))


def server_limits(conf: cfg.ConfigOpts) -> ServerLimits:
    """What any one client may take of the REST API server."""
    return ServerLimits(
        threads=conf.api_threads,
        connection_limit=conf.api_connection_limit,
        backlog=conf.api_backlog,
        idle_timeout=conf.api_idle_timeout,
        request_timeout=conf.api_request_timeout,
        max_body_bytes=conf.api_max_body,
        max_header_bytes=conf.api_max_header,
    )


def controller_settings(conf: cfg.ConfigOpts) -> ControllerSettings:
    """Validated controller settings; raises ConfigurationError naming the bad key."""
    capacity = CapacityPolicy.from_config(
        conf.capacity_override, conf.capacity_override_default, conf.capacity_fallback
    )
    try:
        discount = Discount.parse(conf.discount)
    except RequestError as exc:
        raise ConfigurationError(f"discount: {exc.message}") from exc
    policy = Policy(
        headroom_percent=conf.link_headroom,
        alarm_percent=conf.link_alarm,
        discount=discount,
        default_fence=Fence(percent=conf.default_fence),
    )
    return separate_vlans(
        ControllerSettings(
            capacity=capacity,
            state_dir=conf.state_dir,
            static_topology=conf.static_topology,
            policy=policy,
            retention=conf.reservation_retention,
            discovery_settle=conf.discovery_settle,
            control_grace=conf.control_grace,
            meters=MeterSettings(
                reserved_burst_ms=conf.reservation_burst_ms,
                best_effort_burst_kbit=conf.best_effort_burst_kbit,
                overhead_percent=conf.meter_overhead,
            ),
            mirrors=MirrorSettings(
                min_duration=conf.mirror_min_duration,
                tags=_vlan_range(conf.mirror_vlans),
                allowed_remotes=_networks(conf.mirror_allowed_remotes),
                labels=_mirror_labels(conf.mirror_label),
            ),
            reset_dscp=conf.dscp_policy == "reset",
            enforcement=conf.enforcement,
            queue_borrow=conf.queue_borrow,
            enforcement_overrides=_enforcement_overrides(conf.enforcement_override),
            stitching=stitch_settings(
                conf.domain,
                conf.stitch,
                conf.peer,
                conf.peer_token_file,
                hold_timeout=conf.stitch_hold_timeout,
                peer_timeout=conf.peer_timeout,
                retry_interval=conf.peer_retry_interval,
            ),
        )
    )


def separate_vlans(settings: ControllerSettings) -> ControllerSettings:
    """Mirror tags and VLAN stitch labels must not meet: every switch drops frames carrying a
    live mirror's tag that are not its copies, which would drop a stitched segment's traffic."""
    tags = set(settings.mirrors.tags)
    for point in settings.stitching.points.values():
        if point.handoff.kind == "vlan" and tags & set(point.handoff.labels):
            raise ConfigurationError(
                f"stitch {point.name}: its VLAN ids overlap mirror_vlans "
                f"({settings.mirrors.tags.start}-{settings.mirrors.tags.stop - 1})"
            )
    return settings


def metrics_public(access: str, api_host: str) -> bool:
    """Whether ``GET /metrics`` needs no token: ``public``, or ``auto`` on a loopback API."""
    if access != "auto":
        return access == "public"
    try:
        return ipaddress.ip_address(api_host).is_loopback
    except ValueError:
        return api_host == "localhost"


def agent_listener(
    conf: cfg.ConfigOpts,
    registry: AgentRegistry,
    desired_rows: Callable[[int], BridgeRows | None],
) -> AgentListener | None:
    """The agent port as configured (bound, not started), or None when ``agent_listen`` is
    empty; ConfigurationError naming the key that is wrong."""
    try:
        address = parse_listen(conf.agent_listen)
    except ValueError as exc:
        raise ConfigurationError(f"agent_listen: {exc}") from exc
    if address is None:
        return None
    if not conf.agent_token_file:
        raise ConfigurationError("agent_listen needs agent_token_file: agents must prove a token")
    try:
        token = read_token(conf.agent_token_file)
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"agent_token_file: {exc}") from exc
    tls = None
    if conf.agent_tls_cert or conf.agent_tls_key:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            tls.load_cert_chain(conf.agent_tls_cert or "", conf.agent_tls_key or None)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigurationError(f"agent_tls_cert/agent_tls_key: {exc}") from exc
    try:
        return AgentListener(
            address,
            token,
            registry,
            desired_rows,
            tls=tls,
            heartbeat_timeout=conf.agent_heartbeat_timeout,
        )
    except OSError as exc:
        raise ConfigurationError(
            f"agent_listen: cannot listen on {conf.agent_listen}: {exc}"
        ) from exc


def _enforcement_overrides(entries: list[str]) -> dict[int, str]:
    overrides = {}
    for entry in entries:
        dpid_text, _, setting = entry.partition("=")
        try:
            dpid = parse_dpid(dpid_text.strip())
        except RefError as exc:
            raise ConfigurationError(f"enforcement_override: {entry!r}: {exc}") from exc
        if setting.strip() not in ENFORCEMENT_SETTINGS:
            raise ConfigurationError(
                f"enforcement_override: {entry!r}: expected DPID=" + "|".join(ENFORCEMENT_SETTINGS)
            )
        overrides[dpid] = setting.strip()
    return overrides


def _networks(entries: list[str]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    try:
        return tuple(ipaddress.ip_network(entry.strip()) for entry in entries if entry.strip())
    except ValueError as exc:
        raise ConfigurationError(f"mirror_allowed_remotes: {exc}") from exc


def _mirror_labels(entries: list[str]) -> dict[str, TunnelRequest]:
    """``NAME=KIND:IP[:KEY]`` entries as the tunnel outputs a mirror request may give."""
    labels: dict[str, TunnelRequest] = {}
    for entry in entries:
        name, _, target = entry.partition("=")
        kind, _, rest = target.strip().partition(":")
        address, _, key = rest.rpartition(":") if rest.count(":") == 1 else (rest, "", "")
        try:
            ipaddress.ip_address(address)
            if kind not in TUNNEL_KINDS or not name.strip() or (key and not key.isdigit()):
                raise ValueError
        except ValueError:
            raise ConfigurationError(
                f"mirror_label: {entry!r}: expected NAME=gre:IP or NAME=vxlan:IP[:KEY]"
            ) from None
        labels[name.strip()] = TunnelRequest(kind, address, int(key) if key else None)
    return labels


def _vlan_range(text: str) -> range:
    first, sep, last = text.partition("-")
    try:
        low, high = int(first), int(last if sep else first)
    except ValueError:
        low = high = 0
    if not 1 <= low <= high <= 4094:
        raise ConfigurationError(
            f"mirror_vlans: {text!r} is not a VLAN range FIRST-LAST within 1-4094"
        )
    return range(low, high + 1)
