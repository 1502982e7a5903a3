"""tegu: reserve bandwidth and look at the network from a terminal.

Where the controller is, and the token, come from --url/--token, else
TEGU_URL/TEGU_TOKEN, else the JSON file ~/.config/tegu/cli.json
({"url": ..., "token": ...}, or the file TEGU_CONFIG names), else
http://127.0.0.1:29444 with no token.

Exit status: 0 done; 1 refused by the controller (the reason is printed);
2 a usage error; 3 the controller failed or could not be reached.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click

from tegu_ryu import __version__
from tegu_ryu.cli import render
from tegu_ryu.cli.client import Client, Unreachable
from tegu_ryu.cli.durations import parse_duration, parse_when
from tegu_ryu.cli.req import req
from tegu_ryu.timefmt import format_time, parse_time

DEFAULT_URL = "http://127.0.0.1:29444"
REFUSED, USAGE, FAILED = 1, 2, 3


class Context:
    def __init__(self, client: Client, as_json: bool) -> None:
        self.client = client
        self.as_json = as_json

    def call(
        self, method: str, path: str, body: Any = None, query: dict[str, str] | None = None
    ) -> Any:
        """The answer, or exit with the right status and a readable reason."""
        try:
            status, answer = self.client.call(method, path, body=body, query=query)
        except Unreachable as problem:
            fail(str(problem), FAILED)
        if status >= 500:
            fail(f"the controller failed: {answer}", FAILED)
        if status >= 400:
            error = (answer or {}).get("error", {})
            if self.as_json:
                click.echo(json.dumps(answer, indent=2))
                sys.exit(REFUSED)
            fail(
                render.explanation(error) if status == 409 else f"Refused: {error.get('message')}",
                REFUSED,
            )
        return answer

    def show(self, answer: Any, pretty: Any = None) -> None:
        if self.as_json or pretty is None:
            click.echo(json.dumps(answer, indent=2, sort_keys=True))
            return
        out = render.console()
        for item in pretty if isinstance(pretty, list) else [pretty]:
            out.print(item)


def fail(message: str, status: int) -> NoReturn:
    render.console(stderr=True).print(message)
    sys.exit(status)


def settings_file() -> dict[str, str]:
    path = Path(os.environ.get("TEGU_CONFIG", Path.home() / ".config" / "tegu" / "cli.json"))
    if not path.exists():
        return {}
    try:
        loaded = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        fail(f"cannot read {path}: {exc}", USAGE)
    return {k: str(v) for k, v in loaded.items() if k in ("url", "token")}


def window_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--for``, ``--until`` and ``--from``: a new reservation's window (``window_fields``)."""
    for option in reversed(
        [
            click.option("--for", "duration", help="How long: 90s, 30m, 1h30m, 2d."),
            click.option("--until", "until", help="End: RFC 3339, Unix seconds, or +DURATION."),
            click.option(
                "--from", "start", help="Start (default now): RFC 3339, Unix seconds, or +DURATION."
            ),
        ]
    ):
        command = option(command)
    return command


def create(ctx: Context, body: dict[str, Any], wait: bool) -> None:
    """POST a reservation of any kind, wait for the switches if asked, show what came back."""
    made = ctx.call("POST", "/v1/reservations", body)
    if wait:
        made = wait_installed(ctx, made)
    ctx.show(made, render.reservation_table(made))


def window_fields(options: dict[str, Any]) -> dict[str, float]:
    """``start`` and ``duration`` or ``end`` from ``--from``, ``--for`` and ``--until``."""
    duration = duration_option(options["duration"])
    until = when_option(options["until"])
    start = when_option(options["start"])
    if (duration is None) == (until is None):
        raise click.UsageError("give exactly one of --for or --until")
    fields = {} if start is None else {"start": start}
    if duration is not None:
        fields["duration"] = duration
    elif until is not None:
        fields["end"] = until
    return fields


def duration_option(value: str | None) -> float | None:
    try:
        return None if value is None else parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


def when_option(value: str | None) -> float | None:
    try:
        return None if value is None else parse_when(value, time.time())
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, help=__doc__)
@click.version_option(__version__, prog_name="tegu")
@click.option("--url", envvar="TEGU_URL", help="The controller's API, e.g. http://127.0.0.1:29444.")
@click.option("--token", envvar="TEGU_TOKEN", help="Bearer token (auth_mode = token).")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON instead of tables.")
@click.pass_context
def cli(ctx: click.Context, url: str | None, token: str | None, as_json: bool) -> None:
    saved = settings_file()
    client = Client(url or saved.get("url") or DEFAULT_URL, token or saved.get("token"))
    ctx.obj = Context(client, as_json)


@cli.command()
@click.pass_obj
def health(ctx: Context) -> None:
    """Is the controller up, and how many switches does it see."""
    answer = ctx.call("GET", "/v1/health")
    if ctx.as_json:
        ctx.show(answer)
    else:
        version, switches = answer["version"], answer["switches"]
        click.echo(f"{answer['status']}: tegu_ryu {version}, {switches} switches connected")
        problem = answer.get("storage", {}).get("problem")
        if problem:
            click.echo(f"reservations cannot be saved: {problem}")


@cli.command()
@click.argument("src")
@click.argument("dst")
@click.argument("bandwidth")
@window_options
@click.option("--in", "inbound", help="Bandwidth from DST back to SRC, if not the same.")
@click.option("--protocol", type=click.Choice(["tcp", "udp", "icmp"]))
@click.option("--src-port", type=int)
@click.option("--dst-port", type=int)
@click.option("--vlan", type=int)
@click.option("--dscp", help="voice, control, data or 0-63.")
@click.option("--path", "path_mode", type=click.Choice(["shortest", "widest"]), default="shortest")
@click.option("--oneway", is_flag=True, help="Only SRC to DST, which may be outside the network.")
@click.option("--name")
@click.option("--wait", is_flag=True, help="Wait until the switches hold the reservation.")
@click.pass_obj
def reserve(ctx: Context, /, src: str, dst: str, bandwidth: str, **options: Any) -> None:
    """Reserve BANDWIDTH (20M, say) from SRC to DST (address, MAC or host name)."""
    body: dict[str, Any] = {
        "type": "oneway" if options["oneway"] else "bandwidth",
        "src": src,
        "dst": dst,
    }
    body["bandwidth"] = (
        {"out": bandwidth, "in": options["inbound"]} if options["inbound"] else bandwidth
    )
    body.update(window_fields(options))
    for key in ("protocol", "src_port", "dst_port", "vlan", "name"):
        if options[key] is not None:
            body[key] = options[key]
    if options["dscp"] is not None:
        body["dscp"] = int(options["dscp"]) if options["dscp"].isdigit() else options["dscp"]
    if options["path_mode"] != "shortest":
        body["path"] = options["path_mode"]
    create(ctx, body, options["wait"])


@cli.command()
@click.argument("ports", nargs=-1, required=True)
@click.option("--to", "output", required=True, help="The collector's port: a host or DPID:PORT.")
@click.option(
    "--direction",
    type=click.Choice(["both", "ingress", "egress"]),
    default="both",
    show_default=True,
)
@click.option("--vlan", "vlans", type=int, multiple=True, help="Copy only this VLAN (repeatable).")
@click.option("--protocol", type=click.Choice(["tcp", "udp", "icmp"]))
@click.option("--src-port", type=int)
@click.option("--dst-port", type=int)
@click.option("--src", "match_src", help="Copy only traffic from this address or host.")
@click.option("--dst", "match_dst", help="Copy only traffic to this address or host.")
@click.option("--bandwidth", help="Book and meter the copy at this rate (default: best effort).")
@window_options
@click.option("--name")
@click.option("--wait", is_flag=True, help="Wait until the switches hold the mirror.")
@click.pass_obj
def mirror(ctx: Context, /, ports: tuple[str, ...], output: str, **options: Any) -> None:
    """Copy what PORTS (hosts, or DPID:PORT for admins) receive and/or send to a collector."""
    body: dict[str, Any] = {
        "type": "mirror",
        "ports": list(ports),
        "output": output,
        "direction": options["direction"],
    }
    body.update(window_fields(options))
    if options["vlans"]:
        body["vlan"] = list(options["vlans"])
    match = {
        key: options[option]
        for key, option in (
            ("protocol", "protocol"),
            ("src_port", "src_port"),
            ("dst_port", "dst_port"),
            ("src", "match_src"),
            ("dst", "match_dst"),
        )
        if options[option] is not None
    }
    if match:
        body["match"] = match
    for key in ("bandwidth", "name"):
        if options[key] is not None:
            body[key] = options[key]
    create(ctx, body, options["wait"])


@cli.command()
@click.argument("src")
@click.argument("dst")
@click.option(
    "--via",
    required=True,
    help="Middleboxes in order, comma-separated: hosts, or IN>OUT port pairs (two-armed).",
)
@click.option("--protocol", type=click.Choice(["tcp", "udp", "icmp"]))
@click.option("--src-port", type=int)
@click.option("--dst-port", type=int)
@click.option("--vlan", type=int)
@click.option("--one-way", "one_way", is_flag=True, help="Steer only SRC to DST, not the replies.")
@click.option("--bandwidth", help="Book this rate on every leg and meter it (both ends named).")
@window_options
@click.option("--name")
@click.option("--wait", is_flag=True, help="Wait until the switches hold the chain.")
@click.pass_obj
def steer(ctx: Context, /, src: str, dst: str, via: str, **options: Any) -> None:
    """Send traffic from SRC to DST ("any" for one of them) through middleboxes, in order."""
    chain: list[Any] = []
    for entry in (e.strip() for e in via.split(",")):
        arms = entry.split(">")
        if len(arms) == 2:
            chain.append({"in": arms[0], "out": arms[1]})
        else:
            chain.append(entry)
    body: dict[str, Any] = {
        "type": "steering",
        "src": src,
        "dst": dst,
        "chain": chain,
        "symmetric": not options["one_way"],
    }
    body.update(window_fields(options))
    for key in ("protocol", "src_port", "dst_port", "vlan", "bandwidth", "name"):
        if options[key] is not None:
            body[key] = options[key]
    create(ctx, body, options["wait"])


def wait_installed(ctx: Context, made: dict[str, Any], timeout: float = 30.0) -> dict[str, Any]:
    if made["enforcement"]["status"] == "scheduled":
        return made  # nothing to wait for before its start
    deadline = time.monotonic() + timeout
    with render.console(stderr=True).status("installing on the switches..."):
        while made["enforcement"]["status"] not in ("installed", "error"):
            left = deadline - time.monotonic()
            if left <= 0:
                fail(
                    f"not installed after {timeout:.0f} s: {made['enforcement']['detail']}", REFUSED
                )
            # The controller answers as soon as the switches hold it (or at once when many
            # clients are waiting already): the pause is only for that case.
            made = ctx.call(
                "GET", f"/v1/reservations/{made['id']}", query={"wait": f"{min(left, 5):.1f}"}
            )
            if made["enforcement"]["status"] == "pending":
                time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
    if made["enforcement"]["status"] == "error":
        fail(f"the switches refused it: {made['enforcement']['detail']}", REFUSED)
    return made


@cli.command(name="list")
@click.option(
    "--state", type=click.Choice(["pending", "active", "degraded", "expired", "cancelled"])
)
@click.option("--type", "kind", type=click.Choice(["bandwidth", "oneway", "mirror", "steering"]))
@click.option("--owner", help="Another tenant's (admins only).")
@click.option(
    "--enforcement",
    type=click.Choice(["scheduled", "pending", "installed", "error", "removed"]),
    help="Only those the switches hold so (pending: not yet installed).",
)
@click.option(
    "--limit", type=click.IntRange(1, 10000), help="At most this many (default: all of them)."
)
@click.pass_obj
def list_(
    ctx: Context,
    *,
    state: str | None,
    kind: str | None,
    owner: str | None,
    enforcement: str | None,
    limit: int | None,
) -> None:
    """Your reservations (all, for admins), fetched page by page."""
    query = {
        k: v
        for k, v in (
            ("state", state),
            ("type", kind),
            ("owner", owner),
            ("enforcement", enforcement),
        )
        if v
    }
    found: list[Any] = []
    damaged: list[Any] = []
    while True:
        wanted = {} if limit is None else {"limit": str(limit - len(found))}
        answer = ctx.call("GET", "/v1/reservations", query={**query, **wanted})
        found += answer["reservations"]
        damaged = answer.get("damaged", damaged)
        if not answer["next"] or (limit is not None and len(found) >= limit):
            break
        query["cursor"] = answer["next"]
    combined: dict[str, Any] = {"reservations": found, "next": None}
    if damaged:
        combined["damaged"] = damaged
    pretty: list[Any] = [render.reservations_table(found)]
    if damaged:
        pretty.append(render.damaged_note(damaged))
    ctx.show(combined, pretty)


@cli.command()
@click.argument("reservation_id")
@click.pass_obj
def show(ctx: Context, reservation_id: str) -> None:
    """One reservation, with its path and what the switches hold."""
    answer = ctx.call("GET", f"/v1/reservations/{reservation_id}")
    ctx.show(answer, render.reservation_table(answer))


@cli.command()
@click.argument("reservation_id")
@click.pass_obj
def cancel(ctx: Context, reservation_id: str) -> None:
    """Cancel a reservation; its capacity is free again at once."""
    ctx.call("DELETE", f"/v1/reservations/{reservation_id}")
    if not ctx.as_json:
        click.echo(f"cancelled {reservation_id}")


@cli.command()
@click.argument("reservation_id")
@click.option("--until", "until", help="New end: RFC 3339, Unix seconds, or +DURATION from now.")
@click.option("--for", "duration", help="Extend by this much (30m, 1h).")
@click.option("--bandwidth", help="New bandwidth, e.g. 30M.")
@click.pass_obj
def extend(
    ctx: Context,
    reservation_id: str,
    until: str | None,
    duration: str | None,
    bandwidth: str | None,
) -> None:
    """Move a reservation's end (or change its bandwidth), if the network has room."""
    body: dict[str, Any] = {}
    if until is not None and duration is not None:
        raise click.UsageError("give --until or --for, not both")
    if until is not None:
        body["end"] = when_option(until)
    if duration is not None:
        current = ctx.call("GET", f"/v1/reservations/{reservation_id}")
        body["end"] = format_time(parse_time(current["end"]) + (duration_option(duration) or 0))
    if bandwidth is not None:
        body["bandwidth"] = bandwidth
    if not body:
        raise click.UsageError("give --until, --for or --bandwidth")
    answer = ctx.call("PATCH", f"/v1/reservations/{reservation_id}", body)
    ctx.show(answer, render.reservation_table(answer))


@cli.command()
@click.argument("src")
@click.argument("dst")
@click.option("--for", "duration", required=True, help="Over how long: 30m, 1h, 2d.")
@click.option("--from", "start", help="From when (default now).")
@click.pass_obj
def availability(ctx: Context, src: str, dst: str, duration: str, start: str | None) -> None:
    """The most you could reserve from SRC to DST (and back) over a window, now."""
    query = {"src": src, "dst": dst, "duration": str(duration_option(duration))}
    if start is not None:
        query["start"] = str(when_option(start))
    answer = ctx.call("GET", "/v1/availability", query=query)
    if ctx.as_json:
        ctx.show(answer)
        return
    for direction in ("out", "in"):
        found = answer[direction]
        path = " > ".join(h["dpid"] for h in found["path"] or [])
        click.echo(f"{direction:>3}: {render.rate(found['max_bps'])}  via {path or 'no path'}")


@cli.command()
@click.pass_obj
def topology(ctx: Context) -> None:
    """Switches and hosts (tegu links shows the links)."""
    answer = ctx.call("GET", "/v1/topology")
    ctx.show(answer, render.topology_tables(answer))


@cli.command()
@click.pass_obj
def agents(ctx: Context) -> None:
    """Host agents (tegu-agent): connected or gone, their bridges and VMs (admins)."""
    answer = ctx.call("GET", "/v1/agents")
    ctx.show(answer, render.agents_table(answer["agents"]))


@cli.command()
@click.option("--schedule", "link", help="One link's timeline: DPID:PORT->DPID:PORT.")
@click.option("--from", "start", help="Timeline start (default now).")
@click.option("--to", "end", help="Timeline end (default a day later).")
@click.pass_obj
def links(ctx: Context, link: str | None, start: str | None, end: str | None) -> None:
    """Directed links and their bookings; --schedule draws one link's calendar."""
    if link is None:
        answer = ctx.call("GET", "/v1/links")
        ctx.show(answer, render.links_table(answer["links"]))
        return
    src, arrow, dst = link.partition("->")
    if not arrow:
        raise click.UsageError("--schedule takes DPID:PORT->DPID:PORT")
    query = {}
    if start is not None:
        query["from"] = str(when_option(start))
    if end is not None:
        query["to"] = str(when_option(end))
    answer = ctx.call("GET", f"/v1/links/{src.strip()}/{dst.strip()}/schedule", query=query)
    ctx.show(answer, render.timeline(answer))


@cli.command()
@click.argument("tenant", required=False)
@click.option("--percent", type=float, help="Set the tenant's cap to this percent of each link.")
@click.option("--bps", help="Set the tenant's cap to this rate on each link.")
@click.option("--clear", is_flag=True, help="Back to the default fence.")
@click.pass_obj
def fences(
    ctx: Context, tenant: str | None, percent: float | None, bps: str | None, clear: bool
) -> None:
    """Tenants' caps on any one link; set them with --percent, --bps or --clear (admins)."""
    if tenant is None:
        ctx.show(ctx.call("GET", "/v1/fences"))
        return
    if clear:
        ctx.call("DELETE", f"/v1/fences/{tenant}")
    elif percent is not None or bps is not None:
        ctx.call(
            "PUT",
            f"/v1/fences/{tenant}",
            {"percent": percent} if percent is not None else {"bps": bps},
        )
    ctx.show(ctx.call("GET", f"/v1/fences/{tenant}"))


cli.add_command(req)


def main() -> None:
    cli(prog_name="tegu")
