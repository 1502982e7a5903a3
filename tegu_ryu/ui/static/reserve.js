// The reserve form: a POST /v1/reservations from what was typed, and "what is free?" from
// GET /v1/availability. A refusal shows the API's own sentence, which says which link is short.

import { call, query } from "./api.js";
import { byId, html, say } from "./dom.js";
import { bps, fromUtcInput } from "./format.js";

function value(id) {
  return byId(id).value.trim();
}

/** The request body from the form's fields; empty optional fields are left out. */
export function requestBody() {
  const out = value("reserve-bandwidth");
  const back = value("reserve-bandwidth-in");
  const body = {
    type: value("reserve-type"),
    src: value("reserve-src"),
    dst: value("reserve-dst"),
    bandwidth: back ? { out, in: back } : out,
    duration: Number(value("reserve-duration")) * 60,
  };
  const start = fromUtcInput(value("reserve-start"));
  if (start) body.start = start;
  const optional = { protocol: value("reserve-protocol"), path: value("reserve-path"), name: value("reserve-name") };
  for (const [key, text] of Object.entries(optional)) {
    if (text) body[key] = text;
  }
  if (value("reserve-dst-port")) body.dst_port = Number(value("reserve-dst-port"));
  return body;
}

export class ReserveForm {
  /** ``created(id)``: a reservation was made; ``report(error, where)``: a call failed. */
  constructor(created, report) {
    this.created = created;
    this.report = report;
    byId("reserve-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    byId("reserve-check").addEventListener("click", () => this.check());
  }

  /** Offer the topology's hosts as choices for From and To. */
  hosts(topology) {
    byId("hosts").replaceChildren(
      ...topology.hosts.flatMap((h) => (h.name ? [h.name] : h.ips.slice(0, 1))).map((name) => html("option", { value: name })),
    );
  }

  async submit() {
    say("reserve-error", "");
    say("reserve-result", "");
    byId("reserve-submit").disabled = true;
    try {
      const made = await call("POST", "/v1/reservations", requestBody());
      say("reserve-result", `Reserved ${made.id} (${made.state}).`);
      this.created(made.id);
    } catch (error) {
      this.report(error, "reserve-error");
    } finally {
      byId("reserve-submit").disabled = false;
    }
  }

  async check() {
    say("reserve-error", "");
    say("reserve-result", "");
    const body = requestBody();
    try {
      const found = await call(
        "GET",
        `/v1/availability${query({ src: body.src, dst: body.dst, start: body.start, duration: body.duration })}`,
      );
      const free = ["out", "in"]
        .filter((direction) => found[direction])
        .map((direction) => `${direction}: up to ${bps(found[direction].max_bps)}`);
      say("reserve-result", `Free for that window: ${free.join(", ")}.`);
    } catch (error) {
      this.report(error, "reserve-error");
    }
  }
}
