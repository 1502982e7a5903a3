// One reservation: its fields, window, measured rates, and the extend and cancel actions, which
// go through PATCH and DELETE of the v1 API like any client's.

import { call } from "./api.js";
import { byId, html, say, svg } from "./dom.js";
import { between, bps, crossed, rate, routesOf, span, utc } from "./format.js";

const FINAL = new Set(["expired", "cancelled"]);

function sparkline(values) {
  if (values.length < 2) return null;
  const top = Math.max(...values, 1);
  const points = values
    .map((v, i) => `${((i / (values.length - 1)) * 120).toFixed(1)},${(22 - (v / top) * 20).toFixed(1)}`)
    .join(" ");
  return svg("svg", { class: "sparkline", viewBox: "0 0 120 24", width: 120, height: 24 }, svg("polyline", { points }));
}

export class ReservationDetail {
  /**
   * ``onPath(links, edges)``: the shown reservation's path, for the topology; ``changed(id)``:
   * it was extended or cancelled; ``report(error, where)``: a call failed.
   */
  constructor(onPath, changed, report) {
    this.onPath = onPath;
    this.changed = changed;
    this.report = report;
    this.current = null;
    byId("extend-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.extend();
    });
    byId("cancel-button").addEventListener("click", () => this.confirming(true));
    byId("cancel-no").addEventListener("click", () => this.confirming(false));
    byId("cancel-yes").addEventListener("click", () => this.cancel());
  }

  get id() {
    return this.current ? this.current.id : null;
  }

  async open(id) {
    say("detail-result", "");
    say("detail-error", "");
    this.confirming(false);
    await this.load(id);
  }

  async load(id) {
    try {
      this.show(await call("GET", `/v1/reservations/${encodeURIComponent(id)}`));
    } catch (error) {
      if (error.status === 404) this.close();
      this.report(error, "detail-error");
    }
  }

  close() {
    this.current = null;
    byId("detail-card").hidden = true;
    this.onPath([], []);
  }

  show(r) {
    this.current = r;
    byId("detail-card").hidden = false;
    byId("detail-id").textContent = r.id;
    const seconds = (Date.parse(r.end) - Date.parse(r.start)) / 1000;
    const fields = [
      ["Name", r.name || "—"],
      ["Owner", r.owner],
      ["Kind", r.type],
      ["Between", between(r)],
      ["Rate", rate(r) || "—"],
      ["Window", `${utc(r.start)} to ${utc(r.end)} (${span(seconds)})`],
      ["State", r.state + (r.reason ? `: ${r.reason}` : "")],
      ["Switches", `${r.enforcement.status}: ${r.enforcement.detail}`],
      ["Path", routesOf(r).length ? "drawn on the topology" : "none (not routed)"],
    ];
    byId("detail-fields").replaceChildren(
      ...fields.flatMap(([name, value]) => [html("dt", {}, name), html("dd", { "data-field": name.toLowerCase() }, value)]),
    );
    this.showMeasured(r.measured);
    byId("detail-actions").hidden = FINAL.has(r.state);
    const links = [];
    const edges = [];
    for (const route of routesOf(r)) {
      const hops = crossed(route);
      links.push(...hops.links);
      edges.push(...hops.edges);
    }
    this.onPath(links, edges);
  }

  showMeasured(measured) {
    const box = byId("detail-measured");
    if (!measured || !Object.keys(measured).length) {
      box.replaceChildren(html("p", { class: "muted" }, "Measured rate: none yet (after two readings of an active reservation's meters)."));
      return;
    }
    box.replaceChildren(
      html("h3", {}, "Measured"),
      ...["out", "in"]
        .filter((direction) => measured[direction])
        .map((direction) => {
          const m = measured[direction];
          return html(
            "p",
            { class: "measured", "data-direction": direction },
            `${direction}: ${bps(m.rate_bps)} passed, ${bps(m.dropped_bps)} dropped, since ${utc(m.since)} `,
            sparkline(m.recent_bps),
          );
        }),
    );
  }

  confirming(on) {
    byId("cancel-button").hidden = on;
    byId("cancel-confirm").hidden = !on;
  }

  async extend() {
    const minutes = Number(byId("extend-minutes").value);
    const end = new Date(Date.parse(this.current.end) + minutes * 60000).toISOString();
    say("detail-error", "");
    try {
      const changed = await call("PATCH", `/v1/reservations/${encodeURIComponent(this.current.id)}`, { end });
      this.show(changed);
      say("detail-result", `Extended: now ends ${utc(changed.end)}.`);
      this.changed(changed.id);
    } catch (error) {
      this.report(error, "detail-error");
    }
  }

  async cancel() {
    const { id } = this.current;
    say("detail-error", "");
    this.confirming(false);
    try {
      await call("DELETE", `/v1/reservations/${encodeURIComponent(id)}`);
      await this.load(id);
      say("detail-result", `Cancelled ${id}.`);
      this.changed(id);
    } catch (error) {
      this.report(error, "detail-error");
    }
  }
}
