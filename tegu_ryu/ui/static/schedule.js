// The link timeline panel: which directed link, how far ahead, and the chart of its bookings.

import { call, query } from "./api.js";
import { byId, html, say } from "./dom.js";
import { bps, linkKey, linkLabel } from "./format.js";
import { drawTimeline, summary } from "./timeline.js";

export class SchedulePanel {
  /**
   * ``onChosen(key)``: the link shown changed (to mark it on the topology); ``mine(id)``: is this
   * the reservation in detail; ``onReservation(id)``: a bar was clicked.
   */
  constructor(onChosen, mine, onReservation, report) {
    this.onChosen = onChosen;
    this.mine = mine;
    this.onReservation = onReservation;
    this.report = report;
    this.links = new Map();
    this.asked = 0; // loads started: only the latest one's answer is drawn
    byId("timeline-link").addEventListener("change", () => this.choose(byId("timeline-link").value));
    byId("timeline-range").addEventListener("change", () => this.load());
  }

  get key() {
    return byId("timeline-link").value || null;
  }

  /** The directed links to choose from (GET /v1/topology's), keeping the choice if it is still there. */
  offer(links) {
    const keep = this.key;
    this.links = new Map(links.map((link) => [linkKey(link), link]));
    byId("timeline-link").replaceChildren(
      ...[...this.links].map(([key, link]) =>
        html("option", { value: key }, `${linkLabel(link)} (${bps(link.capacity_bps)})`),
      ),
    );
    if (keep && this.links.has(keep)) byId("timeline-link").value = keep;
    this.onChosen(this.key);
  }

  async choose(key) {
    if (!this.links.has(key)) return;
    byId("timeline-link").value = key;
    this.onChosen(key);
    await this.load();
  }

  async load() {
    const key = this.key;
    if (!key) return;
    const [src, dst] = key.split(">");
    const from = new Date();
    const to = new Date(from.getTime() + Number(byId("timeline-range").value) * 1000);
    const path = `/v1/links/${encodeURIComponent(src)}/${encodeURIComponent(dst)}/schedule`;
    this.asked += 1;
    const asked = this.asked; // an answer to an older question (another link, a refresh) is dropped
    try {
      const schedule = await call("GET", path + query({ from: from.toISOString(), to: to.toISOString() }));
      if (asked !== this.asked) return;
      drawTimeline(byId("timeline"), schedule, this.mine, this.onReservation);
      byId("timeline").setAttribute("data-link", key);
      byId("timeline-summary").textContent = summary(schedule, linkLabel(this.links.get(key)));
      say("timeline-error", "");
    } catch (error) {
      this.report(error, "timeline-error");
    }
  }
}
