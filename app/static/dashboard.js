/* The campaigns dashboard (/campaigns).
 *
 * Asks for the admin API key (kept in this tab's sessionStorage), then reads
 * /api/v1/campaigns every two seconds and redraws only what changed: the campaign table
 * and, for the chosen campaign, its figures and four charts drawn as inline SVG. Nothing
 * is fetched from anywhere but this server.
 */
import { OUTCOME_COLORS, barChart, colorOf, donutChart, h, hourChart } from "./dashboard_charts.js";

const POLL_MS = 2000;
const KEY_STORAGE = "ava-dashboard:api-key";
const CHOSEN_STORAGE = "ava-dashboard:campaign";

class AuthError extends Error {}
class NetworkError extends Error {}
class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

const $ = (id) => document.getElementById(id);
const state = {
  key: sessionStorage.getItem(KEY_STORAGE),
  chosen: sessionStorage.getItem(CHOSEN_STORAGE),
  timer: null, busy: false, again: false,
  requested: 0, drawn: 0,  // refreshes started, and the latest one drawn
  shown: { list: "", detail: "" },  // the JSON last drawn, to redraw only on change
};

// --- Small helpers -------------------------------------------------------------------

const percent = (part, whole) => (whole ? Math.round((100 * part) / whole) : 0);
const when = (iso) => new Date(iso).toLocaleString([], {
  month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });

/** "08:00-21:00 mon,tue,wed,thu,fri" as "08:00–21:00, mon–fri". */
function windowText(described) {
  const [hours, days = ""] = described.split(" ");
  const names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
  const numbers = days.split(",").map((day) => names.indexOf(day)).filter((n) => n >= 0);
  if (numbers.length === 7) return `${hours.replace("-", "–")}, every day`;
  const runs = [];
  for (const n of numbers) {
    const run = runs[runs.length - 1];
    if (run && n === run[1] + 1) run[1] = n; else runs.push([n, n]);
  }
  const text = runs.map(([a, b]) => (a === b ? names[a] : `${names[a]}–${names[b]}`));
  return `${hours.replace("-", "–")}, ${text.join(", ")}`;
}

function badge(status) {
  return h("span", { class: `badge badge-${status}`, "data-testid": "status-badge" }, status);
}

function showNotice(text, kind = "error") {
  const notice = $("notice");
  notice.textContent = text;
  notice.className = `notice ${kind}`;
  notice.hidden = !text;
}

// --- Talking to the API --------------------------------------------------------------

async function api(path, method = "GET") {
  let response;
  try {
    response = await fetch(path, {
      method, cache: "no-store",
      headers: { Authorization: `Bearer ${state.key}`, Accept: "application/json" },
    });
  } catch (error) {
    throw new NetworkError(String(error));
  }
  if (response.status === 401) throw new AuthError("the API key was refused");
  let body = null;
  try {
    body = await response.json();
  } catch (_) { /* not JSON: a proxy's error page, say */ }
  if (!response.ok) {
    throw new ApiError(response.status, body?.error?.message || `HTTP ${response.status}`);
  }
  return body;
}

function problem(error) {
  if (error instanceof NetworkError) {
    return "Cannot reach the server (network error). Retrying every 2 seconds…";
  }
  if (error instanceof ApiError) return `The server answered ${error.status}: ${error.message}`;
  return `Something went wrong: ${error.message}`;
}

// --- Polling -------------------------------------------------------------------------

/** Fetch the list and the chosen campaign, then draw both, unless a refresh started
 * later has drawn already (a slow answer must not paint older numbers over newer ones). */
async function refresh() {
  const ticket = ++state.requested;
  const { campaigns } = await api("/api/v1/campaigns");
  if (!campaigns.some((campaign) => campaign.id === state.chosen)) {
    state.chosen = campaigns.length ? campaigns[campaigns.length - 1].id : null;
  }
  const detail = state.chosen ? await api(`/api/v1/campaigns/${state.chosen}`) : null;
  if (ticket < state.drawn) return;
  state.drawn = ticket;
  renderTable(campaigns);
  if (detail) {
    renderDetail(detail);
  } else {
    $("detail").hidden = true;
  }
}

/** One refresh now, then one every POLL_MS; a call while one runs asks for another. */
async function poll() {
  if (!state.key) return;
  if (state.busy) { state.again = true; return; }
  clearTimeout(state.timer);
  state.busy = true;
  try {
    await refresh();
    showNotice("");
    $("updated").textContent = `Updated ${new Date().toLocaleTimeString()}`;
  } catch (error) {
    if (error instanceof AuthError) {
      signOut("The API key was refused (HTTP 401). Check it and enter it again.");
      return;
    }
    showNotice(problem(error));
  } finally {
    state.busy = false;
  }
  if (state.again) { state.again = false; poll(); return; }
  state.timer = setTimeout(poll, POLL_MS);
}

function signIn(key) {
  state.key = key;
  sessionStorage.setItem(KEY_STORAGE, key);
  $("key-form").hidden = true;
  showNotice("Loading campaigns…", "info");
  poll();
}

function signOut(message) {
  clearTimeout(state.timer);
  state.key = null;
  state.shown = { list: "", detail: "" };
  sessionStorage.removeItem(KEY_STORAGE);
  $("campaigns").hidden = true;
  $("detail").hidden = true;
  $("key-form").hidden = false;
  showNotice(message);
  $("api-key").focus();
}

function choose(campaignId) {
  state.chosen = campaignId;
  sessionStorage.setItem(CHOSEN_STORAGE, campaignId);
  poll();
}

/** Pause or resume the chosen campaign, then show its new state at once (not at the
 * next poll) and move focus to the button that is usable now. */
async function move(action) {
  try {
    await api(`/api/v1/campaigns/${state.chosen}/${action}`, "POST");
    await refresh();
    showNotice("");
  } catch (error) {
    if (error instanceof AuthError) {
      signOut("The API key was refused (HTTP 401). Check it and enter it again.");
      return;
    }
    showNotice(problem(error));  // 409: another user moved it first, say
  }
  const other = $(action === "pause" ? "resume" : "pause");
  if (!other.disabled) other.focus();  // the pressed button may be disabled now
}

// --- The campaign table --------------------------------------------------------------

function renderTable(campaigns) {
  $("campaigns").hidden = false;
  const json = JSON.stringify([campaigns, state.chosen]);
  if (json === state.shown.list) return;
  state.shown.list = json;
  const focused = document.activeElement?.dataset?.campaignId;
  $("campaign-rows").replaceChildren(...campaigns.map(campaignRow));
  $("no-campaigns").hidden = campaigns.length > 0;
  if (focused) document.querySelector(`button[data-campaign-id="${focused}"]`)?.focus();
}

function campaignRow(campaign) {
  const chosen = campaign.id === state.chosen;
  const name = h("button", { type: "button", class: "link", "data-campaign-id": campaign.id,
                             "aria-pressed": String(chosen) }, campaign.name);
  name.addEventListener("click", () => choose(campaign.id));
  const progress = h("progress", {
    max: String(Math.max(campaign.total, 1)), value: String(campaign.done),
    "aria-label": `${campaign.name}: ${campaign.done} of ${campaign.total} contacts done`,
  });
  const row = h("tr", { "data-testid": "campaign-row", "data-campaign-id": campaign.id },
    h("th", { scope: "row" }, name),
    h("td", {}, campaign.agent),
    h("td", {}, badge(campaign.status)),
    h("td", { class: "progress-cell" }, progress,
      h("span", { "data-testid": "campaign-progress" },
        `${campaign.done} of ${campaign.total} (${percent(campaign.done, campaign.total)}%)`)),
    h("td", { title: campaign.window }, windowText(campaign.window)),
    h("td", {}, when(campaign.created_at)));
  if (chosen) {
    row.classList.add("selected");
    row.setAttribute("aria-current", "true");
  }
  return row;
}

// --- The chosen campaign -------------------------------------------------------------

function renderDetail(detail) {
  $("detail").hidden = false;
  const json = JSON.stringify(detail);
  if (json === state.shown.detail) return;
  state.shown.detail = json;
  $("detail-title").textContent = detail.name;
  $("detail-status").replaceChildren(badge(detail.status));
  $("pause").disabled = detail.status !== "running";
  $("resume").disabled = detail.status !== "paused";
  renderFigures(detail);
  const counts = Object.entries(detail.counts);
  donutChart($("chart-contacts"), counts);
  barChart($("chart-outcomes"), Object.entries(detail.outcomes).sort((a, b) => b[1] - a[1]),
           (key, index) => OUTCOME_COLORS[index % OUTCOME_COLORS.length],
           "No answered calls yet.");
  barChart($("chart-results"), Object.entries(detail.results), colorOf, "No attempts yet.");
  hourChart($("chart-hourly"), detail.attempts_per_hour);
}

/** The live numbers; only the values that changed are rewritten, so a screen reader
 * (aria-live="polite" on the list) hears just those. */
function renderFigures(detail) {
  const attempts = Object.values(detail.results).reduce((a, b) => a + b, 0);
  const figures = [
    ["contacts", "Contacts", detail.total],
    ["done", "Done", `${detail.done} (${percent(detail.done, detail.total)}%)`],
    ["pending", "Waiting", detail.counts.pending],
    ["dialing", "Calls now", detail.counts.dialing],
    ["attempts", "Attempts", attempts],
    ["limits", "At once · attempts", `${detail.max_concurrent} · ${detail.max_attempts}`],
  ];
  if (detail.webhooks) {
    const { delivered = 0, failed = 0 } = detail.webhooks;
    const events = Object.values(detail.webhooks).reduce((a, b) => a + b, 0);
    figures.push(["webhooks", "Webhooks sent", `${delivered} of ${events}`]);
    if (failed) figures.push(["webhooks-failed", "Webhooks given up", failed]);
  }
  const list = $("figures");
  const keys = new Set(figures.map(([key]) => key));
  for (const stale of list.querySelectorAll("[data-figure]")) {
    if (!keys.has(stale.dataset.figure)) stale.remove();  // another campaign's figure
  }
  for (const [key, name, value] of figures) {
    let item = list.querySelector(`[data-figure="${key}"]`);
    if (!item) {
      item = h("div", { "data-figure": key }, h("dt", {}, name),
               h("dd", { "data-testid": `figure-${key}` }));
      list.append(item);
    }
    const shown = item.querySelector("dd");
    if (shown.textContent !== String(value)) shown.textContent = String(value);
  }
}

// --- Start ---------------------------------------------------------------------------

$("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const key = $("api-key").value.trim();
  $("api-key").value = "";
  if (key) signIn(key);
});
$("forget-key").addEventListener("click", () => signOut(""));
$("pause").addEventListener("click", () => move("pause"));
$("resume").addEventListener("click", () => move("resume"));

if (state.key) {
  signIn(state.key);
} else {
  $("key-form").hidden = false;
}
