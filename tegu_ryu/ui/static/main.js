// The page: asks for a token when the API wants one, loads the topology, link usage, the list,
// the timeline and the reservation in detail, and refreshes them every few seconds while shown.

import { call, forgetToken, setToken, token } from "./api.js";
import { byId, say } from "./dom.js";
import { linkKey } from "./format.js";
import { ReservationDetail } from "./detail.js";
import { ReservationList } from "./reservations.js";
import { ReserveForm } from "./reserve.js";
import { SchedulePanel } from "./schedule.js";
import { TopologyView } from "./topology.js";

const REFRESH_MS = 15000;

let asking = false; // the token form is up: nothing else is asked until a token is given

/** A failed call: a missing or refused token brings up the token form, anything else is shown. */
function report(error, where) {
  if (error.status === 401) {
    askForToken(token() ? `The token was refused: ${error.message}` : "");
    return;
  }
  say(where, error.message);
}

function askForToken(problem) {
  asking = true;
  byId("app").hidden = true;
  byId("token-dialog").hidden = false;
  say("token-error", problem);
  byId("token-input").focus();
  showTokenState();
}

function showTokenState() {
  const held = Boolean(token());
  byId("token-state").textContent = held ? "using a token from this tab's session" : "";
  byId("forget-token").hidden = !held;
}

const topology = new TopologyView(byId("topology"), (key) => schedule.choose(key));
const detail = new ReservationDetail(
  (links, edges) => topology.highlight(links, edges),
  () => refresh(),
  report,
);
const list = new ReservationList((id) => select(id), report);
const schedule = new SchedulePanel(
  (key) => topology.select(key),
  (id) => id === detail.id,
  (id) => select(id),
  report,
);
const reserve = new ReserveForm((id) => refresh().then(() => select(id)), report);

async function select(id) {
  list.select(id);
  await detail.open(id);
  await schedule.load(); // its bars mark the reservation in detail
}

/** Everything the page shows, asked again; the topology and link usage first, as one picture. */
async function refresh() {
  if (asking) return;
  let found;
  try {
    found = await Promise.all([call("GET", "/v1/topology"), call("GET", "/v1/links")]);
  } catch (error) {
    report(error, "page-error");
    return;
  }
  const [shape, usage] = found;
  say("page-error", "");
  byId("app").hidden = false;
  showTokenState();
  topology.draw(shape, new Map(usage.links.map((link) => [linkKey(link), link])));
  schedule.offer(shape.links);
  reserve.hosts(shape);
  const pending = [list.load(), schedule.load()];
  if (detail.id) pending.push(detail.load(detail.id));
  await Promise.all(pending);
  byId("updated").textContent = `updated ${new Date().toISOString().slice(11, 19)}Z`;
}

byId("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  setToken(byId("token-input").value);
  byId("token-input").value = "";
  asking = false;
  byId("token-dialog").hidden = true;
  refresh();
});

byId("forget-token").addEventListener("click", () => {
  forgetToken();
  askForToken("");
});

setInterval(() => {
  if (!document.hidden) refresh();
}, REFRESH_MS);
refresh();
