"""``tegu req`` (also installed as ``tegu_req``): Tegu's tegu_req command line, for old scripts.

    tegu req [-h HOST:PORT] [-s] [-t TOKEN] [-k KEY=VALUE]... [-j] COMMAND [ARGS]...

Commands as tegu_req had them: ``reserve BW WINDOW HOST1,HOST2 [COOKIE [DSCP]]``,
``owreserve`` (same arguments), ``cancel ID|all [COOKIE]``, ``listres``,
``listhosts``, ``listconns NAME...``, ``graph``, ``listulcaps``,
``setulcap PROJECT VALUE``, ``setdiscount VALUE``, ``listqueue``, ``chkpt``,
``pause``, ``resume``, ``refresh HOST...``, ``verbose LEVEL [SUBSYSTEM]``,
``ping``. They are sent to ``/tegu/api``. The mirror commands go to Tegu's
mirror API (``/tegu/mirrors/``): ``add-mirror [START-]END PORT1[,PORT2...]
OUTPUT [COOKIE [VLAN]]`` (``-o OPTIONS``; END may be ``+SECONDS`` or
``unbounded``), ``del-mirror NAME [COOKIE]``, ``list-mirrors``,
``show-mirror NAME [COOKIE]``. The reply is printed as JSON (``-j``:
unindented). Exit status 0 when every request succeeded, 1 when one failed,
3 when the controller could not be reached.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import urllib.parse
from typing import Any

import click

from tegu_ryu import __version__
from tegu_ryu.cli.client import Client, Unreachable

RENAMED = {"owreserve": "ow_reserve", "cancel": "cancelres", "listqueue": "qdump"}
MIRROR_COMMANDS = ("add-mirror", "del-mirror", "list-mirrors", "show-mirror")


def mirror_request(
    command: str, args: list[str], options: str | None
) -> tuple[str, str, dict[str, str], dict[str, Any] | None]:
    """(method, path, query, JSON body) of a tegu_req mirror command."""
    if command == "list-mirrors":
        return "GET", "/tegu/mirrors/", {}, None
    if command in ("del-mirror", "show-mirror"):
        if not args:
            raise click.UsageError(f"{command} needs NAME [COOKIE]")
        query = {"cookie": args[1]} if len(args) > 1 else {}
        method = "DELETE" if command == "del-mirror" else "GET"
        return method, f"/tegu/mirrors/{urllib.parse.quote(args[0], safe='')}/", query, None
    if len(args) < 3:
        raise click.UsageError(
            "add-mirror needs [START-]END PORT1[,PORT2...] OUTPUT [COOKIE [VLAN]]"
        )
    window, ports, output = args[:3]
    start, _, end = window.rpartition("-") if not window.startswith("+") else ("", "", window)
    body: dict[str, Any] = {"end_time": end, "port": ports.split(","), "output": output}
    if start:
        body["start_time"] = start
    if len(args) > 3 and args[3]:
        body["cookie"] = args[3]
    if len(args) > 4:
        body["vlan"] = args[4]
    if options:
        body["options"] = options
    return "POST", "/tegu/mirrors/", {}, body


def request_lines(command: str, args: list[str], options: list[str]) -> list[str]:
    """The /tegu/api lines a tegu_req command stands for."""
    if command in ("reserve", "owreserve"):
        if len(args) < 3:
            raise click.UsageError(f"{command} needs BANDWIDTH WINDOW HOST1,HOST2 [COOKIE [DSCP]]")
        cookie = args[3] if len(args) > 3 else ""
        dscp = args[4] if len(args) > 4 else "voice"
        words = [RENAMED.get(command, command), *options, *args[:3], cookie, dscp]
        return [shlex.join(words)]
    if command == "listconns":
        return [shlex.join(["listconns", name]) for name in args]
    return [shlex.join([RENAMED.get(command, command), *args])]


@click.command(
    name="req",
    help=__doc__,
    context_settings={"help_option_names": ["--help"], "ignore_unknown_options": True},
)
@click.option(
    "-h", "host", default=None, help="HOST:PORT of the controller (default 127.0.0.1:29444)."
)
@click.option("-s", "secure", is_flag=True, help="Use https.")
@click.option("-t", "token", default=None, help="Token, sent as X-Auth-Tegu.")
@click.option("-k", "keys", multiple=True, help="KEY=VALUE passed to reserve (e.g. proto=udp).")
@click.version_option(__version__, prog_name="tegu_req")
@click.option("-j", "raw", is_flag=True, help="Print the reply as one line of JSON.")
@click.option("-o", "mirror_options", default=None, help="add-mirror options (e.g. flowmod).")
@click.argument("command")
@click.argument("args", nargs=-1)
def req(  # noqa: PLR0917 (click passes options positionally)
    host: str | None,
    secure: bool,
    token: str | None,
    keys: tuple[str, ...],
    raw: bool,
    mirror_options: str | None,
    command: str,
    args: tuple[str, ...],
) -> None:
    address = host or os.environ.get("TEGU_HOST", "127.0.0.1:29444")
    client = Client(f"{'https' if secure else 'http'}://{address}", token=None)
    headers = {"X-Auth-Tegu": token} if token else {}
    try:
        if command in MIRROR_COMMANDS:
            method, path, query, document = mirror_request(command, list(args), mirror_options)
            status, reply = client.call(method, path, body=document, query=query, headers=headers)
            succeeded = 200 <= status < 300 and not (
                isinstance(reply, list) and any("error" in entry for entry in reply)
            )
        else:
            body = "\n".join(request_lines(command, list(args), list(keys))).encode()
            _, reply = client.call("POST", "/tegu/api", raw=body, headers=headers)
            succeeded = (reply or {}).get("endstate", {}).get("status") == "OK"
    except Unreachable as problem:
        click.echo(str(problem), err=True)
        sys.exit(3)
    if reply is not None:
        click.echo(json.dumps(reply) if raw else json.dumps(reply, indent=2))
    sys.exit(0 if succeeded else 1)


def main() -> None:
    """The ``tegu_req`` console script."""
    req(prog_name="tegu_req")
