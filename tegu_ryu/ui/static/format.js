// Units, times and the keys that tie links, ports and hops together across the API's answers.

const PREFIXES = [[1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "k"]];

/** bit/s for people: 30000000 -> "30 Mbit/s", 1500000000 -> "1.5 Gbit/s". */
export function bps(value) {
  for (const [size, prefix] of PREFIXES) {
    if (Math.abs(value) >= size) return `${trim(value / size)} ${prefix}bit/s`;
  }
  return `${trim(value)} bit/s`;
}

function trim(number) {
  return String(Number(number.toPrecision(3)));
}

/** An RFC 3339 time (or Date) as "2026-11-30 07:33Z": the API's times are UTC, so is the page. */
export function utc(time) {
  const date = time instanceof Date ? time : new Date(time);
  return `${date.toISOString().slice(0, 16).replace("T", " ")}Z`;
}

/** Seconds as "2 h 5 min", "3 d 4 h", "45 s". */
export function span(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const units = [[86400, "d"], [3600, "h"], [60, "min"]];
  const parts = [];
  let left = s;
  for (const [size, name] of units) {
    if (left >= size && parts.length < 2) {
      parts.push(`${Math.floor(left / size)} ${name}`);
      left %= size;
    }
  }
  return parts.join(" ");
}

/** A switch port as the API writes it in paths: "0000000000000001:3". */
export function portKey(dpid, port) {
  return `${dpid}:${port}`;
}

/** A directed link's key, "SRC>DST", from any object with src and dst port ends. */
export function linkKey(link) {
  return `${portKey(link.src.dpid, link.src.port)}>${portKey(link.dst.dpid, link.dst.port)}`;
}

/** A datapath id without its leading zeros, for labels: "0000000000000001" -> "1". */
export function shortDpid(dpid) {
  return dpid.replace(/^0+(?=.)/, "");
}

/** A link for people: "1:3 → 2:3". */
export function linkLabel(link) {
  return `${shortDpid(link.src.dpid)}:${link.src.port} → ${shortDpid(link.dst.dpid)}:${link.dst.port}`;
}

/** How booked a link is now, as one of four levels (the colours of the topology). */
export function level(booked, usable) {
  const ratio = usable > 0 ? booked / usable : booked > 0 ? 1 : 0;
  if (ratio >= 0.95) return 3;
  if (ratio >= 0.8) return 2;
  if (ratio >= 0.5) return 1;
  return 0;
}

/**
 * The hop lists of a reservation, whatever its kind: bandwidth and oneway give path.out and
 * path.in, mirrors a single path, steering a path per leg and direction.
 */
export function routesOf(reservation) {
  const routes = [];
  const path = reservation.path;
  if (Array.isArray(path)) routes.push(path);
  else if (path && typeof path === "object") routes.push(...Object.values(path));
  for (const legs of Object.values(reservation.legs || {})) {
    for (const leg of legs) routes.push(leg.path);
  }
  return routes.filter((route) => Array.isArray(route) && route.length > 0);
}

/** The directed links a hop list crosses, as link keys, and the switch ports it enters and leaves. */
export function crossed(route) {
  const links = [];
  for (let i = 0; i + 1 < route.length; i += 1) {
    const here = route[i];
    const next = route[i + 1];
    links.push(`${portKey(here.dpid, here.out_port)}>${portKey(next.dpid, next.in_port)}`);
  }
  const first = route[0];
  const last = route[route.length - 1];
  const edges = [portKey(first.dpid, first.in_port)];
  if (last.out_port !== null) edges.push(portKey(last.dpid, last.out_port));
  return { links, edges };
}

/** What a reservation connects, in a few words, whatever its kind. */
export function between(r) {
  const name = (end) => (end === null || end === undefined ? "any" : end === "any" ? "any" : end.given);
  if (r.type === "passthru") return `${r.host.given} (passthru)`;
  if (r.type === "mirror") return `${r.ports.map((p) => p.given).join(", ")} → ${r.output.given}`;
  const arrow = r.type === "oneway" ? " → " : " ↔ ";
  return `${name(r.src)}${arrow}${name(r.dst)}`;
}

/** A reservation's rate in a few words. */
export function rate(r) {
  const bandwidth = r.bandwidth;
  if (bandwidth === null || bandwidth === undefined) return "";
  if (typeof bandwidth === "number") return bps(bandwidth);
  if (r.type === "oneway" || bandwidth.in === bandwidth.out) return bps(bandwidth.out);
  return `${bps(bandwidth.out)} / ${bps(bandwidth.in)} back`;
}

/** A datetime-local input's value (read as UTC, as labelled) as RFC 3339, or null when empty. */
export function fromUtcInput(value) {
  if (!value) return null;
  return `${value.length === 16 ? `${value}:00` : value}Z`;
}
