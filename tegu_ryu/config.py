"""Configuration options, registered on os-ken's oslo.config object.

Every key works the same on the command line (``--api-port 29444``) and in a
``--config-file`` (``api_port = 29444`` under ``[DEFAULT]``), as with
ryu-manager. os-ken's own options (``ofp_listen_host``, ``ofp_tcp_listen_port``,
``verbose``, ...) live on the same object.
"""

from __future__ import annotations

from oslo_config import cfg

from tegu_ryu.controller import ControllerSettings
from tegu_ryu.topology.capacity import CapacityPolicy

DEFAULT_API_PORT = 29444  # the port Tegu listened on, so existing clients find us

OPTIONS = [
    cfg.HostAddressOpt(
        "api-host",
        default="127.0.0.1",
        help="Address the REST API listens on (loopback unless you mean it).",
    ),
    cfg.PortOpt("api-port", default=DEFAULT_API_PORT, help="Port the REST API listens on."),
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
    cfg.FloatOpt(
        "discovery-settle",
        default=3.0,
        min=0.0,
        help="Seconds to leave a newly connected switch's existing flows alone while "
        "LLDP rediscovers its links, so a controller restart changes nothing that works.",
    ),
    cfg.FloatOpt(
        "resync-interval",
        default=10.0,
        min=1.0,
        help="Seconds between re-reads of every switch's tegu-owned flows (drift repair).",
    ),
]

APP_OPTION = cfg.MultiStrOpt(
    "app",
    positional=True,
    default=[],
    help="os-ken application modules to run (default: the standard tegu_ryu set).",
)

STANDARD_APPS = ["os_ken.topology.switches", "apps.tegu"]


def register_options(conf: cfg.ConfigOpts) -> None:
    """Register tegu_ryu's options and the defaults it wants for os-ken's own."""
    conf.register_cli_opts([*OPTIONS, APP_OPTION])
    conf.set_default("observe_links", True)
    conf.set_default("ofp_listen_host", "127.0.0.1")
    conf.set_default("ofp_tcp_listen_port", 6653)


def controller_settings(conf: cfg.ConfigOpts) -> ControllerSettings:
    """Validated controller settings; raises ConfigurationError naming the bad key."""
    capacity = CapacityPolicy.from_config(
        conf.capacity_override, conf.capacity_override_default, conf.capacity_fallback
    )
    return ControllerSettings(capacity=capacity, static_topology=conf.static_topology)
