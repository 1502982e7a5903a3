// The reservation list and its filters. State, kind, switch status and owner are the API's own
// filters; "pending, active, degraded" asks for each of the three and shows them together.

import { call, query } from "./api.js";
import { byId, html, say } from "./dom.js";
import { between, rate, utc } from "./format.js";

const CURRENT = ["pending", "active", "degraded"];
const PAGE = 500;

export class ReservationList {
  /** ``onSelect(id)``: a row was chosen; ``report(error, where)``: a call failed. */
  constructor(onSelect, report) {
    this.onSelect = onSelect;
    this.report = report;
    this.selected = null;
    this.asked = 0; // loads started: only the latest one's answer is shown
    this.body = byId("reservations").tBodies[0];
    for (const id of ["filter-state", "filter-type", "filter-enforcement"]) {
      byId(id).addEventListener("change", () => this.load());
    }
    byId("filter-owner").addEventListener("change", () => this.load());
  }

  filters() {
    return {
      type: byId("filter-type").value,
      enforcement: byId("filter-enforcement").value,
      owner: byId("filter-owner").value.trim(),
      limit: PAGE,
    };
  }

  async load() {
    const state = byId("filter-state").value;
    const states = state === "current" ? CURRENT : [state];
    this.asked += 1;
    const asked = this.asked; // an answer to an older question (a refresh overtaken) is dropped
    try {
      const pages = await Promise.all(
        states.map((s) => call("GET", `/v1/reservations${query({ ...this.filters(), state: s })}`)),
      );
      if (asked !== this.asked) return;
      const found = pages.flatMap((page) => page.reservations);
      found.sort((a, b) => a.start.localeCompare(b.start) || a.id.localeCompare(b.id));
      this.show(found, pages.some((page) => page.next));
      say("list-error", "");
    } catch (error) {
      this.report(error, "list-error");
    }
  }

  show(reservations, more) {
    this.body.replaceChildren(
      ...reservations.map((r) =>
        html(
          "tr",
          {
            "data-rid": r.id,
            "data-state": r.state,
            class: r.id === this.selected ? "selected" : null,
            tabindex: 0,
            onclick: () => this.onSelect(r.id),
            onkeydown: (event) => {
              if (event.key === "Enter") this.onSelect(r.id);
            },
          },
          html("td", { class: "id" }, r.id, r.name ? html("div", { class: "muted" }, r.name) : null),
          html("td", {}, between(r), html("div", { class: "muted" }, `${r.type}, ${r.owner}`)),
          html("td", {}, rate(r)),
          html("td", {}, utc(r.start), html("div", { class: "muted" }, `to ${utc(r.end)}`)),
          html(
            "td",
            {},
            html("span", { class: `state ${r.state}` }, r.state),
            html("div", { class: "muted" }, r.enforcement.status),
          ),
        ),
      ),
    );
    const count = `${reservations.length} shown`;
    byId("list-note").textContent = more ? `${count}; more match: narrow the filters` : count;
  }

  /** Mark the row of the reservation shown in detail. */
  select(id) {
    this.selected = id;
    for (const row of this.body.rows) {
      row.classList.toggle("selected", row.getAttribute("data-rid") === id);
    }
  }
}
