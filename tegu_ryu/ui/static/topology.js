// The topology as SVG: switches placed by a small force layout, each direction of a link drawn
// beside the other and coloured by what is booked on it now, hosts fanned out around their
// switch. The layout depends only on the topology, so a refresh redraws everything in place.

import { svg } from "./dom.js";
import { bps, level, linkKey, linkLabel, portKey, shortDpid } from "./format.js";

const WIDTH = 760;
const HEIGHT = 460;
const MARGIN = 90; // room for the hosts around the outermost switches
const SWITCH_RADIUS = 18;
const HOST_DISTANCE = 64;
const LANE = 4; // how far each direction of a link sits from the line between the switches
const HOSTS_SHOWN = 8; // per switch; the rest are counted

/** Positions of switches: Fruchterman-Reingold from a circle, then scaled into the view. */
function layoutSwitches(ids, pairs) {
  const count = ids.length;
  const at = new Map();
  ids.forEach((id, i) => {
    const angle = (2 * Math.PI * i) / Math.max(count, 1) - Math.PI / 2;
    at.set(id, { x: Math.cos(angle), y: Math.sin(angle) });
  });
  if (count > 2) {
    const ideal = Math.sqrt(4 / count);
    let heat = 0.1;
    for (let round = 0; round < 300; round += 1) {
      const push = new Map(ids.map((id) => [id, { x: 0, y: 0 }]));
      for (let i = 0; i < count; i += 1) {
        for (let j = i + 1; j < count; j += 1) {
          const a = at.get(ids[i]);
          const b = at.get(ids[j]);
          const dx = a.x - b.x || 1e-6;
          const dy = a.y - b.y;
          const d2 = dx * dx + dy * dy;
          const f = (ideal * ideal) / d2;
          push.get(ids[i]).x += dx * f;
          push.get(ids[i]).y += dy * f;
          push.get(ids[j]).x -= dx * f;
          push.get(ids[j]).y -= dy * f;
        }
      }
      for (const [u, v] of pairs) {
        const a = at.get(u);
        const b = at.get(v);
        const dx = a.x - b.x;
        const dy = a.y - b.y;
        const d = Math.hypot(dx, dy) || 1e-6;
        const f = d / ideal;
        push.get(u).x -= dx * f;
        push.get(u).y -= dy * f;
        push.get(v).x += dx * f;
        push.get(v).y += dy * f;
      }
      for (const id of ids) {
        const p = push.get(id);
        const length = Math.hypot(p.x, p.y) || 1;
        const step = Math.min(length, heat);
        at.get(id).x += (p.x / length) * step;
        at.get(id).y += (p.y / length) * step;
      }
      heat *= 0.985;
    }
  }
  return fit(at);
}

function fit(at) {
  const points = [...at.values()];
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const sx = (WIDTH - 2 * MARGIN) / (x1 - x0 || 1);
  const sy = (HEIGHT - 2 * MARGIN) / (y1 - y0 || 1);
  const scale = Math.min(sx, sy);
  const dx = (WIDTH - (x1 - x0) * scale) / 2;
  const dy = (HEIGHT - (y1 - y0) * scale) / 2;
  const placed = new Map();
  for (const [id, p] of at) {
    placed.set(id, { x: dx + (p.x - x0) * scale, y: dy + (p.y - y0) * scale });
  }
  return placed;
}

/** Hosts fanned out on the side of their switch away from the middle of the drawing. */
function layoutHosts(hosts, switches) {
  const bySwitch = new Map();
  for (const host of hosts) {
    if (!switches.has(host.dpid)) continue;
    if (!bySwitch.has(host.dpid)) bySwitch.set(host.dpid, []);
    bySwitch.get(host.dpid).push(host);
  }
  const placed = [];
  for (const [dpid, attached] of bySwitch) {
    const s = switches.get(dpid);
    const away = Math.atan2(s.y - HEIGHT / 2, s.x - WIDTH / 2 || 1e-6);
    const shown = attached.slice(0, HOSTS_SHOWN);
    const slots = shown.length + (attached.length > HOSTS_SHOWN ? 1 : 0);
    const spread = Math.min(Math.PI * 0.9, 0.6 * (slots - 1));
    for (let i = 0; i < slots; i += 1) {
      const angle = away + (slots > 1 ? -spread / 2 + (spread * i) / (slots - 1) : 0);
      const point = {
        x: s.x + Math.cos(angle) * HOST_DISTANCE,
        y: s.y + Math.sin(angle) * HOST_DISTANCE,
      };
      const host = shown[i] || null;
      placed.push({ host, more: host ? 0 : attached.length - HOSTS_SHOWN, dpid, from: s, ...point });
    }
  }
  return placed;
}

/** Where a label ``width`` wide sits beside the middle of the line between two switches, clear of it. */
function beside(a, b, width) {
  const [p, q] = a.x < b.x || (a.x === b.x && a.y < b.y) ? [a, b] : [b, a];
  const d = Math.hypot(q.x - p.x, q.y - p.y) || 1;
  const [ux, uy] = [(q.x - p.x) / d, (q.y - p.y) / d];
  const distance = LANE + 6 + (width / 2) * Math.abs(uy) + 6 * Math.abs(ux);
  return { x: (p.x + q.x) / 2 - uy * distance, y: (p.y + q.y) / 2 + ux * distance };
}

function directedLine(a, b, shorten) {
  const d = Math.hypot(b.x - a.x, b.y - a.y) || 1;
  const ux = (b.x - a.x) / d;
  const uy = (b.y - a.y) / d;
  const nx = -uy * LANE;
  const ny = ux * LANE;
  const start = { x: a.x + nx + ux * shorten, y: a.y + ny + uy * shorten };
  const end = { x: b.x + nx - ux * shorten, y: b.y + ny - uy * shorten };
  const middle = { x: (start.x + end.x) / 2, y: (start.y + end.y) / 2 };
  return [start, middle, end].map((p) => `${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(" ");
}

export class TopologyView {
  /** ``onLink(key)``: a direction of a link was chosen (for its timeline). */
  constructor(element, onLink) {
    this.element = element;
    this.onLink = onLink;
    this.signature = "";
    this.switchAt = new Map();
    this.hostsAt = [];
    this.selected = null;
    this.path = { links: new Set(), edges: new Set() };
  }

  /** Draw ``topology`` (GET /v1/topology) with ``usage`` (link key -> GET /v1/links entry). */
  draw(topology, usage) {
    const ids = topology.switches.map((s) => s.dpid).sort();
    const pairs = new Map();
    for (const link of topology.links) {
      const ends = [link.src.dpid, link.dst.dpid].sort();
      if (ends[0] !== ends[1]) pairs.set(ends.join(" "), ends);
    }
    const signature = JSON.stringify([ids, [...pairs.keys()].sort(), topology.hosts.map((h) => [h.mac, h.dpid])]);
    if (signature !== this.signature) {
      this.signature = signature;
      this.switchAt = layoutSwitches(ids, [...pairs.values()]);
      this.hostsAt = layoutHosts(topology.hosts, this.switchAt);
    }
    const layers = {
      access: svg("g", { class: "access-layer" }),
      links: svg("g", { class: "link-layer" }),
      labels: svg("g", { class: "label-layer" }),
      nodes: svg("g", { class: "node-layer" }),
    };
    this.drawHosts(layers);
    this.drawLinks(topology.links, usage, layers);
    this.drawSwitches(topology.switches, layers);
    const defs = svg(
      "defs",
      {},
      svg(
        "marker",
        { id: "arrow", viewBox: "0 0 10 10", refX: 5, refY: 5, markerWidth: 9, markerHeight: 9, markerUnits: "userSpaceOnUse", orient: "auto" },
        svg("path", { d: "M0,1 L9,5 L0,9 z", class: "arrow" }),
      ),
    );
    this.element.replaceChildren(defs, layers.access, layers.links, layers.labels, layers.nodes);
    this.mark();
  }

  drawHosts(layers) {
    for (const placed of this.hostsAt) {
      const { host } = placed;
      const port = host ? portKey(host.dpid, host.port) : "";
      layers.access.append(
        svg("line", {
          class: "access",
          "data-port": port || null,
          x1: placed.from.x.toFixed(1),
          y1: placed.from.y.toFixed(1),
          x2: placed.x.toFixed(1),
          y2: placed.y.toFixed(1),
        }),
      );
      const label = host ? host.name || host.ips[0] || host.mac : `+${placed.more} hosts`;
      const title = host
        ? `${host.name || "host"} ${host.mac} ${host.ips.join(" ")} on ${host.dpid} port ${host.port}`
        : `${placed.more} more hosts on ${placed.dpid}`;
      const width = Math.max(28, label.length * 7 + 10);
      layers.nodes.append(
        svg(
          "g",
          { class: host ? "host" : "host more", "data-mac": host ? host.mac : null, "data-port": port || null },
          svg("rect", { x: (placed.x - width / 2).toFixed(1), y: (placed.y - 10).toFixed(1), width, height: 20, rx: 4 }),
          svg("text", { x: placed.x.toFixed(1), y: (placed.y + 4).toFixed(1) }, label),
          svg("title", {}, title),
        ),
      );
    }
  }

  drawLinks(links, usage, layers) {
    const labelled = new Set();
    for (const link of links) {
      const a = this.switchAt.get(link.src.dpid);
      const b = this.switchAt.get(link.dst.dpid);
      if (!a || !b) continue;
      const key = linkKey(link);
      const used = usage.get(key);
      const booked = used ? used.booked_now_bps : 0;
      const usable = used ? used.usable_bps : link.capacity_bps;
      const grade = link.up ? `level-${level(booked, usable)}` : "down";
      const points = directedLine(a, b, SWITCH_RADIUS + 2);
      const percent = usable > 0 ? Math.round((100 * booked) / usable) : 0;
      const peak = used ? `; peak in the next 24 h ${bps(used.peak_next_24h_bps)}` : "";
      const summary =
        `${linkLabel(link)}: ${bps(booked)} of ${bps(usable)} usable booked now (${percent} %)${peak}` +
        `${link.up ? "" : "; down"}`;
      layers.links.append(
        svg(
          "g",
          {
            class: `link ${grade}`,
            "data-link": key,
            "data-booked": booked,
            "data-usable": usable,
            tabindex: 0,
            role: "button",
            "aria-label": summary,
            onclick: () => this.onLink(key),
            onkeydown: (event) => {
              if (event.key === "Enter" || event.key === " ") this.onLink(key);
            },
          },
          svg("polyline", { class: "halo", points }),
          svg("polyline", { class: "line", points, "marker-mid": "url(#arrow)" }),
          svg("polyline", { class: "hit", points }),
          svg("title", {}, summary),
        ),
      );
      const pair = [link.src.dpid, link.dst.dpid].sort().join(" ");
      if (!labelled.has(pair)) {
        labelled.add(pair);
        const text = bps(link.capacity_bps);
        const at = beside(a, b, text.length * 5.5);
        layers.labels.append(
          svg("text", { class: "capacity", x: at.x.toFixed(1), y: (at.y + 3).toFixed(1) }, text),
        );
      }
    }
  }

  drawSwitches(switches, layers) {
    for (const s of switches) {
      const at = this.switchAt.get(s.dpid);
      const state = s.connected ? `connected, ${s.sync}` : "not connected";
      layers.nodes.append(
        svg(
          "g",
          { class: s.connected ? "switch connected" : "switch", "data-dpid": s.dpid },
          svg("circle", { cx: at.x.toFixed(1), cy: at.y.toFixed(1), r: SWITCH_RADIUS }),
          svg("text", { x: at.x.toFixed(1), y: (at.y + 4).toFixed(1) }, shortDpid(s.dpid)),
          svg("title", {}, `switch ${s.dpid}: ${state}; enforcement ${s.enforcement.backend}`),
        ),
      );
    }
  }

  /** The link chosen for the timeline, drawn thicker. */
  select(key) {
    this.selected = key;
    this.mark();
  }

  /** The path of the reservation shown in detail: link keys and the ports where it enters and leaves. */
  highlight(links, edges) {
    this.path = { links: new Set(links), edges: new Set(edges) };
    this.mark();
  }

  mark() {
    for (const node of this.element.querySelectorAll(".link")) {
      const key = node.getAttribute("data-link");
      node.classList.toggle("selected", key === this.selected);
      node.classList.toggle("on-path", this.path.links.has(key));
    }
    for (const node of this.element.querySelectorAll(".access, .host")) {
      node.classList.toggle("on-path", this.path.edges.has(node.getAttribute("data-port")));
    }
  }
}
