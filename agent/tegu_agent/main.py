"""``tegu-agent``: options, logging and signals around ``session.Agent``.

Exit status: 0 after SIGTERM or SIGINT; 2 for bad options or an unreadable
token or CA file. A controller or OVSDB that is down is not an error: the
agent waits for them, retrying with backoff, and says so in its log.
"""

from __future__ import annotations

import argparse
import logging
import signal
import socket
import ssl
import sys
import threading
from types import FrameType

from tegu_agent.session import Agent, Settings
from tegu_ryu import __version__
from tegu_ryu.agents.listener import parse_listen, read_token
from tegu_ryu.ovsdb.client import OvsdbClient

LOG = logging.getLogger("tegu_agent")
DEFAULT_OVSDB = "unix:/var/run/openvswitch/db.sock"
EXIT_USAGE = 2


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tegu-agent",
        description="Report this host's Open vSwitch bridges and VMs to a tegu_ryu controller "
        "and write the OVSDB rows it asks for.",
    )
    p.add_argument("--controller", required=True, help="HOST:PORT of the agent_listen port")
    p.add_argument("--token-file", required=True, help="file holding the shared agent token")
    p.add_argument("--ovsdb", default=DEFAULT_OVSDB, help="local OVSDB (default %(default)s)")
    p.add_argument("--host-name", default=socket.gethostname(), help="default: the host name")
    p.add_argument("--tls-ca", help="CA file: speak TLS and check the controller's certificate")
    p.add_argument("--tls-server-name", help="name in the controller's certificate (default HOST)")
    p.add_argument("--heartbeat", type=float, default=10.0, help="seconds (default 10)")
    p.add_argument(
        "--resync", type=float, default=10.0, help="seconds between row checks (default 10)"
    )
    p.add_argument(
        "--poll", type=float, default=3.0, help="seconds between inventory reads (default 3)"
    )
    p.add_argument("--verbose", action="store_true", help="log debug messages")
    p.add_argument("--version", action="version", version=f"tegu-agent {__version__}")
    return p


def settings(args: argparse.Namespace) -> Settings:
    """Settings from parsed options; ValueError or OSError saying what is wrong."""
    address = parse_listen(args.controller)
    if address is None:
        raise ValueError("--controller is empty")
    for name in ("heartbeat", "resync", "poll"):
        if not getattr(args, name) > 0:
            raise ValueError(f"--{name} must be a positive number of seconds")
    tls = None
    if args.tls_ca:
        tls = ssl.create_default_context(cafile=args.tls_ca)
    return Settings(
        controller=address,
        token=read_token(args.token_file).decode(),
        host=args.host_name,
        heartbeat=args.heartbeat,
        poll=args.poll,
        resync=args.resync,
        tls=tls,
        tls_server_name=args.tls_server_name,
    )


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        chosen = settings(args)
    except (ValueError, OSError, ssl.SSLError) as exc:
        print(f"tegu-agent: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    stopping = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        LOG.info("received %s: stopping", signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    LOG.info(
        "tegu-agent %s for host %s: controller %s, OVSDB %s",
        __version__,
        chosen.host,
        args.controller,
        args.ovsdb,
    )
    Agent(chosen, lambda: OvsdbClient(args.ovsdb), stopping).run()
    LOG.info("stopped")
    return 0
