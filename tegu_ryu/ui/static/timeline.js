// One directed link's bookings over time (GET /v1/links/{src}/{dst}/schedule) as SVG: what is
// booked in each step against the usable share, and below it the reservations as bars, packed
// into as few rows as overlap allows.

import { svg } from "./dom.js";
import { bps, span, utc } from "./format.js";

const WIDTH = 760;
const LEFT = 78;
const RIGHT = 12;
const TOP = 14;
const CHART = 150;
const AXIS = 34;
const ROW = 22;
const ROWS_SHOWN = 12;
const HOUR = 3600;

function tickStep(seconds) {
  if (seconds <= 6 * HOUR) return HOUR;
  if (seconds <= 24 * HOUR) return 3 * HOUR;
  if (seconds <= 72 * HOUR) return 12 * HOUR;
  return 24 * HOUR;
}

/** Reservations in rows: each goes in the first row where it overlaps nothing. */
function packRows(bookings) {
  const rowEnds = [];
  return bookings.map((booking) => {
    const start = Date.parse(booking.start);
    let row = rowEnds.findIndex((end) => end <= start);
    if (row < 0) {
      row = rowEnds.length;
      rowEnds.push(0);
    }
    rowEnds[row] = Date.parse(booking.end);
    return { booking, row };
  });
}

/**
 * Draw ``schedule`` into ``element``; ``mine(id)`` says whether a bar is the reservation shown in
 * detail, ``onReservation(id)`` is called when a bar the caller may see is clicked.
 */
export function drawTimeline(element, schedule, mine, onReservation) {
  const from = Date.parse(schedule.from) / 1000;
  const to = Date.parse(schedule.to) / 1000;
  const rows = packRows(schedule.reservations);
  const rowCount = Math.min(ROWS_SHOWN, rows.reduce((most, r) => Math.max(most, r.row + 1), 0));
  const height = TOP + CHART + AXIS + rowCount * ROW + (rowCount ? 8 : 0);
  element.setAttribute("viewBox", `0 0 ${WIDTH} ${height}`);

  const highest = Math.max(
    schedule.usable_bps,
    schedule.capacity_bps,
    ...schedule.steps.map((step) => step.booked_bps),
    1,
  );
  const x = (seconds) => LEFT + ((seconds - from) / (to - from)) * (WIDTH - LEFT - RIGHT);
  const y = (value) => TOP + CHART - (value / (highest * 1.08)) * CHART;
  const parts = [];

  for (let i = 0; i <= 4; i += 1) {
    const value = (highest * i) / 4;
    parts.push(
      svg("line", { class: "gridline", x1: LEFT, x2: WIDTH - RIGHT, y1: y(value), y2: y(value) }),
      svg("text", { class: "axis y", x: LEFT - 6, y: y(value) + 4 }, bps(value)),
    );
  }
  const step = tickStep(to - from);
  for (let t = Math.ceil(from / step) * step; t <= to; t += step) {
    const date = new Date(t * 1000);
    const label =
      date.getUTCHours() === 0 && date.getUTCMinutes() === 0
        ? date.toISOString().slice(5, 10)
        : date.toISOString().slice(11, 16);
    parts.push(
      svg("line", { class: "gridline", x1: x(t), x2: x(t), y1: TOP, y2: TOP + CHART }),
      svg("text", { class: "axis x", x: x(t), y: TOP + CHART + 16 }, label),
    );
  }

  for (const s of schedule.steps) {
    const start = Date.parse(s.start) / 1000;
    const end = Date.parse(s.end) / 1000;
    if (s.booked_bps <= 0) continue;
    parts.push(
      svg(
        "rect",
        {
          class: s.booked_bps > schedule.usable_bps ? "booked over" : "booked",
          x: x(start),
          y: y(s.booked_bps),
          width: Math.max(1, x(end) - x(start)),
          height: y(0) - y(s.booked_bps),
        },
        svg("title", {}, `${utc(s.start)} to ${utc(s.end)}: ${bps(s.booked_bps)} booked, ${bps(s.free_bps)} free`),
      ),
    );
  }
  parts.push(
    svg("line", { class: "usable", x1: LEFT, x2: WIDTH - RIGHT, y1: y(schedule.usable_bps), y2: y(schedule.usable_bps) }),
    svg("text", { class: "usable-label", x: WIDTH - RIGHT - 4, y: y(schedule.usable_bps) - 4 }, `usable ${bps(schedule.usable_bps)}`),
  );
  if (schedule.capacity_bps !== schedule.usable_bps) {
    parts.push(
      svg("line", { class: "capacity-line", x1: LEFT, x2: WIDTH - RIGHT, y1: y(schedule.capacity_bps), y2: y(schedule.capacity_bps) }),
    );
  }
  parts.push(svg("line", { class: "baseline", x1: LEFT, x2: WIDTH - RIGHT, y1: y(0), y2: y(0) }));

  const barsTop = TOP + CHART + AXIS;
  for (const { booking, row } of rows) {
    if (row >= ROWS_SHOWN) continue;
    const start = Math.max(from, Date.parse(booking.start) / 1000);
    const end = Math.min(to, Date.parse(booking.end) / 1000);
    const left = x(start);
    const width = Math.max(2, x(end) - left);
    const who = booking.id ? booking.id : "another tenant's";
    const text = `${who} ${bps(booking.bps)} ${booking.direction}`;
    const fits = Math.floor((width - 8) / 6.2);
    const classes = ["booking", booking.id ? "" : "other", booking.id && mine(booking.id) ? "selected" : ""];
    parts.push(
      svg(
        "g",
        {
          class: classes.filter(Boolean).join(" "),
          "data-rid": booking.id,
          onclick: booking.id ? () => onReservation(booking.id) : null,
        },
        svg("rect", { x: left, y: barsTop + row * ROW, width, height: ROW - 5, rx: 3 }),
        fits >= 4
          ? svg("text", { x: left + 4, y: barsTop + row * ROW + 12 }, text.length > fits ? `${text.slice(0, fits - 1)}…` : text)
          : null,
        svg(
          "title",
          {},
          `${who}${booking.owner ? ` (${booking.owner})` : ""}: ${bps(booking.bps)} ${booking.direction}, ` +
            `${utc(booking.start)} to ${utc(booking.end)} (${span((Date.parse(booking.end) - Date.parse(booking.start)) / 1000)})`,
        ),
      ),
    );
  }
  const hidden = rows.filter((r) => r.row >= ROWS_SHOWN).length;
  if (hidden) {
    parts.push(svg("text", { class: "axis", x: LEFT, y: height - 2 }, `and ${hidden} more not drawn`));
  }
  element.replaceChildren(...parts);
}

/** One line about the schedule: what is booked now and at most, against what is usable. */
export function summary(schedule, label) {
  const now = schedule.steps.length ? schedule.steps[0].booked_bps : 0;
  const peak = Math.max(0, ...schedule.steps.map((s) => s.booked_bps));
  return (
    `${label}: ${bps(now)} booked now, at most ${bps(peak)} until ${utc(schedule.to)}, ` +
    `of ${bps(schedule.usable_bps)} usable (capacity ${bps(schedule.capacity_bps)}); ` +
    `${schedule.reservations.length} reservations`
  );
}
