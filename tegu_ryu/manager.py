"""``tegu-manager``: load and run os-ken applications, as ryu-manager did.

os-ken 4.x ships no manager of its own, so this is ours: parse options with
oslo.config (command line and ``--config-file`` alike), configure logging,
instantiate the apps, then wait until a signal or a failed handler asks us to
stop, close the apps and exit with a status that says which it was.
"""

from __future__ import annotations

import gc
import logging
import os
import resource
import signal
import sys
import threading
from types import FrameType

import os_ken.log
import os_ken.topology.switches
from os_ken import cfg as osken_cfg
from os_ken.base import app_manager
from oslo_config import cfg

from tegu_ryu import __version__
from tegu_ryu.config import STANDARD_APPS, refuse_unknown_keys, register_options
from tegu_ryu.errors import ConfigurationError
from tegu_ryu.process import STOP

LOG = logging.getLogger("tegu_ryu.manager")

EXIT_USAGE = 2
CLOSE_TIMEOUT = 10.0
FILES_BESIDE_THE_API = 1024  # switch connections, the database, logs
# Python's collector scans every live object each time 700 new ones survive; with
# tens of thousands of reservations, flows and calendar steps alive, that cost a
# third of planning every switch (measured: 3.6 s to 1.9 s for 10,000 reservations).
GC_THRESHOLDS = (50_000, 20, 100)


def configure_logging() -> None:
    """os-ken's log options (--verbose, --log-file, --use-syslog, ...), in our format.

    One line per record, with the thread, since os-ken work happens on several.
    """
    os_ken.log.init_log()
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s")
    for handler in logging.getLogger().handlers:
        handler.setFormatter(formatter)
    # waitress warns each time a request waits for a worker, which a burst makes routine.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)


def raise_file_limit(wanted: int) -> None:
    """Let the process hold ``wanted`` descriptors (API connections, switches, files) if it may.

    Many distributions start services with a soft limit of 1024, below the
    API's own connection limit; the hard limit is usually far higher.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    if soft != resource.RLIM_INFINITY and soft < wanted:
        LOG.warning(
            "only %d file descriptors allowed (hard limit); api_connection_limit may not be "
            "reached",
            soft,
        )


def run(argv: list[str]) -> int:
    """Start the controller and block until it stops; returns the exit status."""
    conf = osken_cfg.CONF
    register_options(conf)
    try:
        conf(args=argv, project="tegu", prog="tegu-manager", version=__version__)
    except cfg.Error as exc:
        print(f"tegu-manager: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as exc:  # oslo.config has printed the problem, or --help/--version
        return EXIT_USAGE if exc.code else 0
    configure_logging()
    raise_file_limit(conf.api_connection_limit + FILES_BESIDE_THE_API)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        STOP.request(0, f"received {signal.Signals(signum).name}")

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    apps = list(conf.app) or STANDARD_APPS
    manager = app_manager.AppManager.get_instance()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        manager.load_apps(apps)
        refuse_unknown_keys(conf)  # once the apps have registered their options
        contexts = manager.create_contexts()
        manager.instantiate_apps(**contexts)
    except (ConfigurationError, OSError) as exc:
        LOG.error("cannot start: %s", exc)
        return EXIT_USAGE
    gc.freeze()  # what was loaded lives as long as the process: no collection need scan it
    LOG.info(
        "tegu_ryu %s running apps %s; OpenFlow on %s:%s, API on http://%s:%s",
        __version__,
        ", ".join(apps),
        conf.ofp_listen_host,
        conf.ofp_tcp_listen_port,
        conf.api_host,
        conf.api_port,
    )
    while not STOP.wait(1.0):
        pass
    LOG.info("stopping: %s", STOP.reason)
    if not close_apps(manager, timeout=CLOSE_TIMEOUT):
        LOG.warning("os-ken apps did not stop within %.0f s; exiting anyway", CLOSE_TIMEOUT)
    return STOP.exit_status


def close_apps(manager: app_manager.AppManager, timeout: float) -> bool:
    """Close every app, giving up after ``timeout``; True if all closed in time.

    os-ken stops an app (joining its threads) before it calls the app's
    close(). The topology Switches app's LLDP and link loops only wake from
    close(), so on native threads they would block the stop forever; we wake
    them first.
    """
    for app in manager.applications.values():
        for name in ("lldp_event", "link_event"):
            event = getattr(app, name, None)
            if event is not None:
                app.is_active = False
                event.set()
    closer = threading.Thread(target=manager.close, name="tegu-close", daemon=True)
    closer.start()
    closer.join(timeout)
    return not closer.is_alive()


def main() -> None:
    """Console-script entry point.

    os-ken's OpenFlow listener and connection threads cannot be joined, so
    after the apps are closed and the logs flushed the process exits directly.
    """
    status = run(sys.argv[1:])
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
