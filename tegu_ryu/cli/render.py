"""How the CLI shows things to people: tables, explanations, a timeline of a link's bookings."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from tegu_ryu.timefmt import parse_time
from tegu_ryu.topology.refs import HOST_SIDE
from tegu_ryu.units import format_bitrate

BAR_WIDTH = 40
HOST_SIDE_DPID = f"{HOST_SIDE.dpid:016x}"  # how the API writes a host's side of its port


def rate(bps: int | None) -> str:
    return "-" if bps is None else f"{format_bitrate(bps)}bit/s"


def when(text: str) -> str:
    """An RFC 3339 time as a short UTC string for tables."""
    moment = datetime.fromtimestamp(parse_time(text), tz=UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def endpoint(view: dict[str, Any]) -> str:
    return str(view["name"] or view["ip"] or view["mac"] or view["given"])


def reservations_table(reservations: list[dict[str, Any]]) -> Table:
    table = Table(title=f"{len(reservations)} reservations")
    for column in (
        "id",
        "state",
        "from",
        "to",
        "out",
        "in",
        "start (UTC)",
        "end (UTC)",
        "switches",
    ):
        table.add_column(column)
    for r in reservations:
        if r["type"] == "mirror":
            ends = (f"{ports(r)} ({r['direction']})", f"copy to {r['output']['given']}")
            rates = (rate(r["bandwidth"]) if r["bandwidth"] else "best effort", "-")
        elif r["type"] == "steering":
            via = " via " + ",".join(box["given"] for box in r["chain"])
            ends = (chain_end(r["src"]), chain_end(r["dst"]) + via)
            booked = rate(r["bandwidth"]) if r["bandwidth"] else "best effort"
            rates = (booked, booked if r["bandwidth"] and r["symmetric"] else "-")
        else:
            ends = (endpoint(r["src"]), endpoint(r["dst"]))
            rates = (
                rate(r["bandwidth"]["out"]),
                rate(r["bandwidth"]["in"]) if r["bandwidth"]["in"] else "-",
            )
        table.add_row(
            r["id"],
            r["state"],
            *ends,
            *rates,
            when(r["start"]),
            when(r["end"]),
            r["enforcement"]["status"],
        )
    return table


def ports(mirror: dict[str, Any]) -> str:
    return ",".join(p["given"] for p in mirror["ports"])


def hops_text(hops: list[dict[str, Any]]) -> str:
    return " > ".join(f"{h['dpid'][-4:]}:{h['in_port']}>{h['out_port']}" for h in hops)


def damaged_note(damaged: list[dict[str, Any]]) -> Text:
    """Admins: stored records the controller could not load (cancel them to remove them)."""
    lines = [f"{len(damaged)} damaged records in the database (tegu cancel ID removes one):"]
    lines += [f"  {d['id']} ({d['owner']}): {d['problem']}" for d in damaged]
    return Text("\n".join(lines))  # plain text: a problem may hold brackets rich would parse


def traffic_text(match: dict[str, Any]) -> str:
    """What a bandwidth reservation or a chain selects, as ``protocol=tcp, dst_port=80``."""
    fields = ("protocol", "src_port", "dst_port", "vlan")
    return ", ".join(f"{k}={match[k]}" for k in fields if match[k] is not None) or "all traffic"


def reservation_table(r: dict[str, Any]) -> Table:
    if r["type"] == "mirror":
        return mirror_table(r)
    if r["type"] == "steering":
        return steering_table(r)
    table = Table(show_header=False, title=f"reservation {r['id']}")
    table.add_column("field", style="bold")
    table.add_column("value")
    rows = [
        ("state", r["state"] + (f" ({r['reason']})" if r["reason"] else "")),
        ("owner", r["owner"]),
        ("from", f"{endpoint(r['src'])} ({r['src']['given']})"),
        ("to", f"{endpoint(r['dst'])} ({r['dst']['given']})"),
        ("bandwidth", f"out {rate(r['bandwidth']['out'])}, in {rate(r['bandwidth']['in'])}"),
        ("window (UTC)", f"{when(r['start'])} to {when(r['end'])}"),
        *(
            [("stitched", stitch_text(r["stitch"]))]
            if r["type"] == "stitch"
            else [
                ("traffic", traffic_text(r["match"])),
                ("dscp", str(r["dscp"]) if r["dscp"] is not None else "not marked"),
            ]
        ),
        ("switches", f"{r['enforcement']['status']}: {r['enforcement']['detail']}"),
    ]
    for direction, hops in r["path"].items():
        rows.append((f"path {direction}", hops_text(hops)))
    for direction, seen in r.get("measured", {}).items():
        rows.append(
            (
                f"measured {direction}",
                f"{rate(seen['rate_bps'])}, dropped {rate(seen['dropped_bps'])}  "
                f"{sparkline(seen['recent_bps'])}",
            )
        )
    for name, value in rows:
        table.add_row(name, value)
    return table


def stitch_text(stitch: dict[str, Any]) -> str:
    """A stitched reservation's far side: domain, label on the stitch point, the peer's id."""
    text = (
        f"{stitch['role']} side, with domain {stitch['domain']}: {stitch['handoff']} "
        f"{stitch['label']} on {stitch['point']}, their id {stitch['peer_reservation']}"
    )
    if stitch["hold_until"]:
        text += f"; held until {when(stitch['hold_until'])}"
    if stitch.get("change"):
        text += f"; a change to end {when(stitch['change']['end'])} held"
    if stitch["peer_pending"]:
        text += f"; {stitch['peer_pending']} not yet acknowledged by the peer"
    return text


def steering_table(s: dict[str, Any]) -> Table:
    table = Table(show_header=False, title=f"steering {s['id']}")
    table.add_column("field", style="bold")
    table.add_column("value")
    rows = [
        ("state", s["state"] + (f" ({s['reason']})" if s["reason"] else "")),
        ("owner", s["owner"]),
        ("from", chain_end(s["src"])),
        ("to", chain_end(s["dst"])),
        ("through", " -> ".join(box["given"] for box in s["chain"])),
        ("reverse", "through the chain backwards" if s["symmetric"] else "not steered"),
        ("bandwidth", rate(s["bandwidth"]) + " on every leg" if s["bandwidth"] else "best effort"),
        ("window (UTC)", f"{when(s['start'])} to {when(s['end'])}"),
        ("traffic", traffic_text(s["match"])),
        ("switches", f"{s['enforcement']['status']}: {s['enforcement']['detail']}"),
    ]
    for direction, legs in s["legs"].items():
        for leg in legs:
            rows.append((f"{direction} leg {leg['leg']}", hops_text(leg["path"])))
    for name, value in rows:
        table.add_row(name, value)
    return table


def sparkline(values: list[int]) -> str:
    """The last readings as block characters, the highest full height."""
    blocks = "▁▂▃▄▅▆▇█"
    top = max(values, default=0)
    if top <= 0:
        return blocks[0] * len(values)
    return "".join(blocks[min(7, int(v * 8 / top))] if v else blocks[0] for v in values)


def chain_end(end: Any) -> str:
    return "any" if end == "any" else f"{endpoint(end)} ({end['given']})"


def mirror_table(m: dict[str, Any]) -> Table:
    table = Table(show_header=False, title=f"mirror {m['id']}")
    table.add_column("field", style="bold")
    table.add_column("value")
    match = m["match"]
    traffic = [f"{k}={match[k]}" for k in ("protocol", "src_port", "dst_port") if match[k]]
    traffic += [f"{k}={endpoint(match[k])}" for k in ("src", "dst") if match[k]]
    if m["vlan"]:
        traffic.append("vlan " + ",".join(str(v) for v in m["vlan"]))
    rows = [
        ("state", m["state"] + (f" ({m['reason']})" if m["reason"] else "")),
        ("owner", m["owner"]),
        ("ports", f"{ports(m)} ({m['direction']})"),
        ("collector", m["output"]["given"]),
        ("copy", rate(m["bandwidth"]) + " booked" if m["bandwidth"] else "best effort"),
        ("window (UTC)", f"{when(m['start'])} to {when(m['end'])}"),
        ("traffic", ", ".join(traffic) or "all traffic"),
        ("switches", f"{m['enforcement']['status']}: {m['enforcement']['detail']}"),
        ("copy path", hops_text(m["path"]) if m["path"] else "none"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def explanation(error: dict[str, Any]) -> str:
    """A refusal in one readable paragraph."""
    details = error.get("details") or {}
    code = error.get("code")
    if code in ("no_capacity", "fence") and "link" in details:
        link = details["link"]
        limit = "your tenant's fence on" if code == "fence" else "link"
        start, end = (when(t) for t in details["interval"])
        needed, free = rate(details["requested_bps"]), rate(details["available_bps"])
        src, dst = link["src"], link["dst"]
        if HOST_SIDE_DPID in (src["dpid"], dst["dpid"]):  # a host's own port: no path avoids it
            port, where = (src, "down to") if dst["dpid"] == HOST_SIDE_DPID else (dst, "up from")
            holder = "your tenant's fence on port" if code == "fence" else "port"
            return (
                f"Refused: the {details['direction']} direction needs {needed}, but {holder} "
                f"{port['dpid']}:{port['port']} ({where} the host) has only {free} free "
                f"from {start} to {end} UTC. Try less bandwidth or another time."
            )
        return (
            f"Refused: the {details['direction']} direction needs {needed}, but {limit} "
            f"{src['dpid']}:{src['port']} -> {dst['dpid']}:{dst['port']} has only {free} free "
            f"from {start} to {end} UTC. Try less bandwidth, another time, or --path widest."
        )
    if code == "duplicate":
        existing = details.get("reservation")
        return f"Refused: you already have reservation {existing} for this traffic then."
    return f"Refused ({code}): {error.get('message')}"


def timeline(schedule: dict[str, Any]) -> Table:
    """One row per step of a link's bookings, with a bar of how full the link is."""
    usable = schedule["usable_bps"] or 1
    src, dst = schedule["link"]["src"], schedule["link"]["dst"]
    table = Table(
        title=f"{src['dpid']}:{src['port']} -> {dst['dpid']}:{dst['port']}, usable {rate(usable)}"
    )
    for column in ("from (UTC)", "to (UTC)", "booked", "free", ""):
        table.add_column(column)
    for step in schedule["steps"]:
        filled = min(BAR_WIDTH, round(BAR_WIDTH * step["booked_bps"] / usable))
        bar = "[red]" + "#" * filled + "[/red]" + "." * (BAR_WIDTH - filled)
        table.add_row(
            when(step["start"]),
            when(step["end"]),
            rate(step["booked_bps"]),
            rate(step["free_bps"]),
            bar,
        )
    return table


def links_table(links: list[dict[str, Any]]) -> Table:
    table = Table(title=f"{len(links)} directed links")
    for column in ("from", "to", "up", "capacity", "usable", "booked now", "peak 24 h"):
        table.add_column(column)
    for link in links:
        table.add_row(
            f"{link['src']['dpid']}:{link['src']['port']}",
            f"{link['dst']['dpid']}:{link['dst']['port']}",
            "yes" if link["up"] else "[red]no[/red]",
            rate(link["capacity_bps"]),
            rate(link["usable_bps"]),
            rate(link["booked_now_bps"]),
            rate(link["peak_next_24h_bps"]),
        )
    return table


def agents_table(agents: list[dict[str, Any]]) -> Table:
    table = Table(title=f"{len(agents)} host agents")
    for column in ("host", "connected", "since", "last heartbeat", "version", "bridges", "VMs"):
        table.add_column(column)
    for agent in agents:
        bridges = agent["bridges"]
        vms = sorted(
            {
                i.get("vm_name") or i["vm_uuid"]
                for b in bridges
                for i in b["interfaces"]
                if "vm_uuid" in i or "vm_name" in i
            }
        )
        table.add_row(
            agent["host"],
            "yes" if agent["connected"] else "[red]gone[/red]",
            when(agent["connected_since"]),
            when(agent["last_heartbeat"]),
            agent["version"],
            ", ".join(f"{b['name']} ({b['dpid']})" for b in bridges) or "-",
            ", ".join(vms) or "-",
        )
    return table


def topology_tables(topology: dict[str, Any]) -> list[Table]:
    switches = Table(title=f"{len(topology['switches'])} switches")
    for column in ("dpid", "connected", "sync", "ports"):
        switches.add_column(column)
    for s in topology["switches"]:
        switches.add_row(
            s["dpid"], "yes" if s["connected"] else "no", s["sync"] or "-", str(len(s["ports"]))
        )
    hosts = Table(title=f"{len(topology['hosts'])} hosts")
    for column in ("name", "mac", "addresses", "attached at"):
        hosts.add_column(column)
    for h in topology["hosts"]:
        hosts.add_row(h["name"] or "-", h["mac"], ", ".join(h["ips"]), f"{h['dpid']}:{h['port']}")
    return [switches, hosts]


def console(stderr: bool = False) -> Console:
    """Wide enough for our tables when the output is a pipe rather than a terminal."""
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else int(os.environ.get("COLUMNS", "160"))
    return Console(stderr=stderr, highlight=False, soft_wrap=True, width=width)
