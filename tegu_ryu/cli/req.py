"""tegu req (also installed as tegu_req): Tegu's tegu_req command line, for old scripts.

    tegu req [-h HOST:PORT] [-s] [-t TOKEN] [-k KEY=VALUE]... [-j] COMMAND [ARGS]...

Commands as tegu_req had them: reserve BW WINDOW HOST1,HOST2 [COOKIE [DSCP]],
owreserve (same arguments), cancel ID|all [COOKIE], listres,
listhosts, listconns NAME..., graph, listulcaps,
setulcap PROJECT VALUE, setdiscount VALUE, listqueue, chkpt,
pause, resume, refresh HOST..., verbose LEVEL [SUBSYSTEM],
ping, steer [START-]END PROJECT EP1 EP2 MB1[,MB2...] [COOKIE] (-k
proto=tcp:80; an endpoint may be L*, any host), passthru [START-]END
[TOKEN/]PROJECT/HOST [COOKIE] (-k proto=udp:ADDRESS:PORT). They are sent to
/tegu/api. The mirror commands go to Tegu's mirror API
(/tegu/mirrors/): add-mirror [START-]END PORT1[,PORT2...] OUTPUT
[COOKIE [VLAN]] (-o OPTIONS; END may be +SECONDS or
unbounded), del-mirror NAME [COOKIE], list-mirrors,
show-mirror NAME [COOKIE]. In the arguments %t stands for the -t
token and %p for $OS_TENANT_NAME, as in tegu_req.

The reply is printed as Tegu's rjprt printed it (key = value lines
under the command's name; -r NAME renames the root, -d prints dotted
names), so scripts that read tegu_req's output keep working; -j prints
the JSON itself. Options that only meant something with OpenStack (-c,
-f, -F, -K, -R REGION, -S SERVICE, -T) are accepted
and ignored, with a note on stderr; any other option is a usage error. Exit
status 0 when every request succeeded, 1 when one failed, 2 for a usage
error, 3 when the controller could not be reached.
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
from tegu_ryu.cli import rjprt
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


def placeholders_filled(arg: str, token: str | None) -> str:
    """``%t`` as the token given with ``-t`` and ``%p`` as ``$OS_TENANT_NAME``, as tegu_req
    filled them in host names (``%t/%p/vm0``); empty when there is none."""
    return arg.replace("%t", token or "").replace("%p", os.environ.get("OS_TENANT_NAME", ""))


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
    if command in ("steer", "passthru"):
        return [shlex.join([command, *options, *args])]
    return [shlex.join([RENAMED.get(command, command), *args])]


@click.command(
    name="req",
    help=__doc__,
    context_settings={"help_option_names": ["--help"], "allow_interspersed_args": False},
)
@click.option(
    "-h", "host", default=None, help="HOST:PORT of the controller (default 127.0.0.1:29444)."
)
@click.option("-s", "secure", is_flag=True, help="Use https.")
@click.option("-t", "token", default=None, help="Token, sent as X-Auth-Tegu.")
@click.option(
    "-k",
    "keys",
    multiple=True,
    help="KEY=VALUE passed to reserve, steer or passthru (e.g. proto=udp).",
)
@click.version_option(__version__, prog_name="tegu_req")
@click.option("-j", "raw", is_flag=True, help="Print the reply as one line of JSON.")
@click.option("-d", "dotted", is_flag=True, help="Print dotted names (rjprt -d).")
@click.option("-r", "root", default=None, help="The name the output is printed under.")
@click.option("-o", "mirror_options", default=None, help="add-mirror options (e.g. flowmod).")
@click.option("-c", "openstack_flags", flag_value="-c", multiple=True, hidden=True)
@click.option("-f", "openstack_flags", flag_value="-f", multiple=True, hidden=True)
@click.option("-F", "openstack_flags", flag_value="-F", multiple=True, hidden=True)
@click.option("-K", "openstack_flags", flag_value="-K", multiple=True, hidden=True)
@click.option("-T", "openstack_flags", flag_value="-T", multiple=True, hidden=True)
@click.option("-R", "openstack_values", multiple=True, hidden=True, help="region (ignored)")
@click.option("-S", "openstack_values", multiple=True, hidden=True, help="service (ignored)")
@click.argument("command")
@click.argument("args", nargs=-1)
def req(  # noqa: PLR0917 (click passes options positionally)
    host: str | None,
    secure: bool,
    token: str | None,
    keys: tuple[str, ...],
    raw: bool,
    dotted: bool,
    root: str | None,
    mirror_options: str | None,
    openstack_flags: tuple[str, ...],
    openstack_values: tuple[str, ...],
    command: str,
    args: tuple[str, ...],
) -> None:
    if openstack_flags or openstack_values:
        click.echo(
            "tegu_req: -c, -f, -F, -K, -R, -S and -T worked with OpenStack's Keystone; they have "
            "no effect here (give a tegu_ryu token with -t)",
            err=True,
        )
    args = tuple(placeholders_filled(arg, token) for arg in args)
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
        if raw:
            click.echo(json.dumps(reply))
        else:
            shown = rjprt.dotted if dotted else rjprt.hierarchy
            click.echo(shown(reply, root or command), nl=False)
    sys.exit(0 if succeeded else 1)


def main() -> None:
    """The ``tegu_req`` console script."""
    req(prog_name="tegu_req")
