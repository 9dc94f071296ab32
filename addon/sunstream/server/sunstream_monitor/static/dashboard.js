// Sunstream live dashboard: follows every system over the server's /ws channel.
//
// Protocol (sunstream_monitor/ws_channel.py): the server either asks for a
// token ({"type":"auth_required"}, answered with {"type":"auth","access_token"})
// or, behind Home Assistant's ingress, trusts the proxy and starts right away
// with connection_status. So the page never needs to be told where it runs:
// it waits for the server's first word. Then it subscribes to "*" and
// receives monitoring_update, connectivity, alert, alert_acknowledged and
// connection_status frames.
//
// Every URL is relative to the page, so the same file works at / and under
// an ingress path prefix.

const TOKEN_KEY = "sunstream.token";
const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 5000;
const PING_EVERY_MS = 20000;
// Silence longer than this means a dead link even if the socket looks open.
const SILENCE_LIMIT_MS = 45000;
const CLOSE_UNAUTHORIZED = 4401;
const MAX_ALERTS_SHOWN = 50;

const $ = (id) => document.getElementById(id);

// -- state -------------------------------------------------------------------

/** @type {Map<string, {id: string, name: string, source: string|null, status: string, reason: string|null, document: any}>} */
const systems = new Map();
/** @type {Map<string, any>} */
const alerts = new Map();
const link = {
  socket: /** @type {WebSocket|null} */ (null),
  authenticated: false,
  everConnected: false,
  retries: 0,
  retryTimer: 0,
  pingTimer: 0,
  lastHeard: 0,
  feedConnected: /** @type {boolean|null} */ (null),
  needToken: false,
  tokenReason: "",
  nextId: 1,
};
let selected = /** @type {string|null} */ (null);
// What the alert list was last drawn from (see renderAlerts).
let alertsDrawn = "";

// -- token -------------------------------------------------------------------

function storage() {
  try {
    return window.sessionStorage;
  } catch {
    return null; // storage disabled: the token lives in memory only
  }
}

let memoryToken = /** @type {string|null} */ (null);

function readToken() {
  const url = new URL(window.location.href);
  const fromQuery = url.searchParams.get("token");
  if (fromQuery) {
    saveToken(fromQuery);
    // Keep the token out of the address bar, the history and bookmarks.
    url.searchParams.delete("token");
    window.history.replaceState(window.history.state, "", url);
  }
  return storage()?.getItem(TOKEN_KEY) ?? memoryToken;
}

function saveToken(token) {
  memoryToken = token;
  storage()?.setItem(TOKEN_KEY, token);
}

function forgetToken() {
  memoryToken = null;
  storage()?.removeItem(TOKEN_KEY);
}

// -- formatting --------------------------------------------------------------

const numberFormats = new Map();

function formatNumber(value, digits = 2) {
  if (typeof value !== "number" || !Number.isFinite(value)) return "—";
  let format = numberFormats.get(digits);
  if (!format) {
    format = new Intl.NumberFormat(undefined, { maximumFractionDigits: digits });
    numberFormats.set(digits, format);
  }
  return format.format(value);
}

function formatMoney(value, currency) {
  if (typeof value !== "number" || !Number.isFinite(value)) return "—";
  if (typeof currency === "string" && /^[A-Z]{3}$/.test(currency)) {
    try {
      return new Intl.NumberFormat(undefined, { style: "currency", currency }).format(value);
    } catch {
      // unknown currency code: fall through to a plain number
    }
  }
  return formatNumber(value);
}

function formatTime(iso) {
  if (typeof iso !== "string") return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "—";
  return date.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

function humanize(text) {
  const words = String(text ?? "").replaceAll("_", " ").trim();
  return words ? words[0].toUpperCase() + words.slice(1) : "—";
}

function direction(power, positive, negative) {
  if (typeof power !== "number" || !Number.isFinite(power)) return "—";
  if (Math.abs(power) < 0.005) return "idle";
  return power > 0 ? positive : negative;
}

function section(doc, key) {
  const value = doc?.[key];
  return value && typeof value === "object" ? value : {};
}

// -- connection --------------------------------------------------------------

function wsUrl() {
  const url = new URL("ws", window.location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.search = "";
  url.hash = "";
  return url.href;
}

function send(message) {
  const socket = link.socket;
  if (socket && socket.readyState === WebSocket.OPEN) {
    socket.send(JSON.stringify(message));
    return true;
  }
  return false;
}

function connect() {
  window.clearTimeout(link.retryTimer);
  link.retryTimer = 0;
  if (link.socket) return;
  let socket;
  try {
    socket = new WebSocket(wsUrl());
  } catch (err) {
    notice(`Cannot open the connection: ${err}`);
    scheduleRetry();
    return;
  }
  link.socket = socket;
  link.lastHeard = Date.now();
  socket.addEventListener("message", (event) => {
    if (socket !== link.socket) return;
    link.lastHeard = Date.now();
    let parsed;
    try {
      parsed = JSON.parse(event.data);
    } catch {
      return;
    }
    for (const message of Array.isArray(parsed) ? parsed : [parsed]) {
      if (message && typeof message === "object") handle(message);
    }
  });
  socket.addEventListener("close", (event) => {
    if (socket !== link.socket) return;
    dropped(event.code);
  });
  render();
}

function dropped(code) {
  const socket = link.socket;
  link.socket = null;
  link.authenticated = false;
  window.clearInterval(link.pingTimer);
  link.pingTimer = 0;
  if (socket && socket.readyState <= WebSocket.OPEN) {
    try {
      socket.close(1000, "reconnecting");
    } catch {
      // already closing
    }
  }
  if (code === CLOSE_UNAUTHORIZED || link.needToken) {
    askForToken(link.tokenReason || "The Sunstream app did not accept the access token.");
  } else {
    scheduleRetry();
  }
  render();
}

function scheduleRetry() {
  if (link.retryTimer || link.needToken) return;
  // ~1 s, 2 s, 4 s, then every 5 s; a little jitter so a restarted server
  // is not hit by every dashboard in the same millisecond.
  const base = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** link.retries);
  const delay = Math.round(base * (0.9 + Math.random() * 0.2));
  link.retries += 1;
  link.retryTimer = window.setTimeout(() => {
    link.retryTimer = 0;
    connect();
  }, delay);
}

function authenticated() {
  link.authenticated = true;
  link.everConnected = true;
  link.retries = 0;
  link.needToken = false;
  $("token-form").hidden = true;
  send({ type: "subscribe", system_id: "*" });
  loadAlerts();
  window.clearInterval(link.pingTimer);
  link.pingTimer = window.setInterval(heartbeat, PING_EVERY_MS);
}

function heartbeat() {
  if (Date.now() - link.lastHeard > SILENCE_LIMIT_MS) {
    dropped(0);
    return;
  }
  send({ type: "ping" });
}

function askForToken(reason) {
  link.needToken = true;
  link.tokenReason = "";
  $("token-reason").textContent = reason;
  const form = $("token-form");
  form.hidden = false;
  $("token-input").focus();
}

// -- messages ----------------------------------------------------------------

function handle(message) {
  switch (message.type) {
    case "auth_required": {
      const token = readToken();
      if (token) {
        send({ type: "auth", access_token: token });
      } else {
        link.needToken = true;
        link.tokenReason = "The Sunstream app needs an access token: a Home Assistant administrator's long-lived access token, or one of the app's tokens.";
        link.socket?.close(1000, "no token");
      }
      break;
    }
    case "auth_invalid":
      forgetToken();
      link.needToken = true;
      link.tokenReason = `The Sunstream app refused the token: ${message.message ?? "not accepted"}.`;
      break;
    case "auth_ok":
      break;
    case "connection_status":
      if (!link.authenticated) authenticated();
      applyStatus(message);
      break;
    case "monitoring_update":
    case "monitoring_data":
      applyDocument(message.system_id, message.data);
      break;
    case "connectivity":
      applyConnectivity(message.system_id, message.data ?? {});
      break;
    case "alert":
    case "alert_acknowledged":
      if (message.data?.alert_id) alerts.set(message.data.alert_id, message.data);
      break;
    case "acknowledge_result":
      if (message.alert?.alert_id) alerts.set(message.alert.alert_id, message.alert);
      break;
    case "error":
      notice(`${message.message ?? "The Sunstream app reported an error"} (${message.code ?? "error"})`);
      if (message.code === "unknown_alert" && message.alert_id) alerts.delete(message.alert_id);
      alertsDrawn = ""; // re-enable a button whose acknowledgement failed
      break;
    default:
      return; // pong, subscribed, power_update (the full update follows), dispatch …
  }
  render();
}

function system(id) {
  let entry = systems.get(id);
  if (!entry) {
    entry = { id, name: id, source: null, status: "unknown", reason: null, document: null };
    systems.set(id, entry);
  }
  return entry;
}

function applyStatus(message) {
  link.feedConnected = typeof message.feed_connected === "boolean" ? message.feed_connected : null;
  const statuses = message.systems;
  if (!statuses || typeof statuses !== "object") return;
  for (const id of [...systems.keys()]) {
    if (!(id in statuses)) systems.delete(id);
  }
  for (const [id, status] of Object.entries(statuses)) {
    const entry = system(id);
    if (entry.status !== status && status === "online") entry.reason = null;
    entry.status = String(status);
  }
}

function applyDocument(id, doc) {
  if (typeof id !== "string" || !doc || typeof doc !== "object") return;
  const entry = system(id);
  entry.document = doc;
  if (typeof doc.name === "string" && doc.name) entry.name = doc.name;
  if (typeof doc.source === "string") entry.source = doc.source;
  if (doc.status === "maintenance") entry.status = "maintenance";
}

function applyConnectivity(id, data) {
  if (typeof id !== "string" || data.part) return; // a part (e.g. the battery link) is not the system
  const entry = system(id);
  entry.status = data.connected ? "online" : "offline";
  entry.reason = data.connected ? null : (data.reason ?? null);
}

async function loadAlerts() {
  // The alert list is HTTP (the channel only carries changes); same
  // credentials as the channel: the token, or the ingress session.
  const headers = {};
  const token = readToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  try {
    const response = await fetch(new URL("api/alerts?active=true", window.location.href), {
      headers,
      cache: "no-store",
    });
    if (!response.ok) return;
    const body = await response.json();
    const active = new Map((body.alerts ?? []).filter((a) => a?.alert_id).map((a) => [a.alert_id, a]));
    // What was raised before a reconnect and is no longer active ended meanwhile.
    for (const [id, alert] of alerts) {
      if (alert.state === "raised" && !active.has(id)) alerts.delete(id);
    }
    for (const [id, alert] of active) {
      const known = alerts.get(id);
      // A frame that arrived while the request was under way may be newer.
      if (!known || (alert.acknowledged && !known.acknowledged)) alerts.set(id, alert);
    }
    render();
  } catch {
    // the channel will bring new alerts anyway
  }
}

function acknowledge(alertId, button) {
  button.disabled = true;
  if (!send({ type: "acknowledge_alert", alert_id: alertId, id: link.nextId++ })) {
    button.disabled = false;
    notice("Not connected: the alert could not be acknowledged.");
  }
}

// -- rendering ---------------------------------------------------------------

let noticeTimer = 0;

function notice(text) {
  $("notice").textContent = text;
  window.clearTimeout(noticeTimer);
  noticeTimer = window.setTimeout(() => {
    $("notice").textContent = "";
  }, 8000);
}

function liveness() {
  if (!link.authenticated) {
    if (link.needToken) return ["offline", "OFFLINE", "An access token is needed."];
    if (!link.everConnected && link.retries === 0) {
      return ["connecting", "CONNECTING", "Connecting to the Sunstream app…"];
    }
    // No countdown here: the banner is a live region, and a ticking number
    // would be read out every second.
    return ["offline", "OFFLINE", "Connection to the Sunstream app lost; reconnecting…"];
  }
  if (link.feedConnected === false) {
    return ["offline", "OFFLINE", "The Sunstream app has lost its link to Home Assistant."];
  }
  const entry = selected ? systems.get(selected) : null;
  if (!entry) return ["live", "LIVE", "Connected; waiting for systems."];
  if (entry.status === "offline") {
    const why = entry.reason ? ` (${humanize(entry.reason).toLowerCase()})` : "";
    return ["offline", "OFFLINE", `${entry.name} is offline${why}.`];
  }
  if (entry.status === "maintenance") return ["live", "LIVE", `${entry.name} is in maintenance.`];
  return ["live", "LIVE", `${entry.name} is online.`];
}

function renderBanner() {
  const [state, label, detail] = liveness();
  const banner = $("banner");
  if (banner.dataset.state !== state) banner.dataset.state = state;
  if ($("banner-label").textContent !== label) $("banner-label").textContent = label;
  if ($("banner-detail").textContent !== detail) $("banner-detail").textContent = detail;
}

function sortedSystems() {
  return [...systems.values()].sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
}

/** Buttons by system id, reused so keyboard focus survives live updates. */
const systemItems = new Map();

function systemItem(id) {
  let item = systemItems.get(id);
  if (!item) {
    item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.systemId = id;
    const dot = document.createElement("span");
    dot.className = "dot";
    dot.setAttribute("aria-hidden", "true");
    const label = document.createElement("span");
    label.className = "label";
    const name = document.createElement("span");
    name.className = "name";
    const state = document.createElement("span");
    state.className = "state";
    label.append(name, " ", state);
    const kw = document.createElement("span");
    kw.className = "kw";
    button.append(dot, label, kw);
    item.append(button);
    systemItems.set(id, item);
  }
  return item;
}

function renderSystems() {
  const list = $("system-list");
  const entries = sortedSystems();
  $("no-systems").hidden = entries.length > 0;
  if (!selected || !systems.has(selected)) {
    const fromHash = decodeURIComponent(window.location.hash.slice(1));
    selected = systems.has(fromHash) ? fromHash : (entries[0]?.id ?? null);
  }
  for (const id of [...systemItems.keys()]) {
    if (!systems.has(id)) systemItems.delete(id);
  }
  const items = entries.map((entry) => {
    const item = systemItem(entry.id);
    const button = item.firstElementChild;
    button.setAttribute("aria-current", String(entry.id === selected));
    button.querySelector(".dot").dataset.status = entry.status;
    const name = button.querySelector(".name");
    if (name.textContent !== entry.name) name.textContent = entry.name;
    const state = button.querySelector(".state");
    if (state.textContent !== entry.status) state.textContent = entry.status;
    const power = entry.document?.current_generation_kw;
    button.querySelector(".kw").textContent = typeof power === "number" ? `${formatNumber(power)} kW` : "";
    return item;
  });
  const current = [...list.children];
  if (current.length !== items.length || current.some((item, index) => item !== items[index])) {
    list.replaceChildren(...items);
  }
}

function setField(name, text) {
  for (const element of document.querySelectorAll(`[data-field="${name}"]`)) {
    if (element.textContent !== text) element.textContent = text;
  }
}

function renderSystem() {
  const entry = selected ? systems.get(selected) : null;
  const doc = entry?.document ?? null;
  $("system-name").textContent = entry ? entry.name : "—";
  const status = $("system-status");
  status.textContent = entry ? entry.status : "unknown";
  status.dataset.status = entry ? entry.status : "unknown";
  $("system-source").textContent = humanize(entry?.source ?? doc?.source ?? "—");
  const updated = $("last-updated");
  updated.textContent = formatTime(doc?.last_updated);
  updated.dateTime = typeof doc?.last_updated === "string" ? doc.last_updated : "";

  for (const key of [
    "current_generation_kw",
    "today_generation_kwh",
    "monthly_generation_kwh",
    "total_generation_kwh",
    "co2_offset_kg",
  ]) {
    setField(key, formatNumber(doc?.[key]));
  }
  setField("trees_planted_equivalent", formatNumber(doc?.trees_planted_equivalent, 0));
  for (const key of ["today_savings", "monthly_savings", "total_savings"]) {
    setField(key, formatMoney(doc?.[key], doc?.currency));
  }

  const battery = section(doc, "battery");
  const hasBattery = doc?.battery != null;
  $("battery-metric").hidden = doc !== null && !hasBattery;
  setField("battery.soc_percent", formatNumber(battery.soc_percent, 0));
  const meter = $("battery-meter");
  meter.value = typeof battery.soc_percent === "number" ? battery.soc_percent : 0;
  setField("battery.power_kw", formatNumber(typeof battery.power_kw === "number" ? Math.abs(battery.power_kw) : null));
  setField("battery.direction", direction(battery.power_kw, "discharging", "charging"));

  const grid = section(doc, "grid");
  setField("grid.power_kw", formatNumber(typeof grid.power_kw === "number" ? Math.abs(grid.power_kw) : null));
  setField("grid.direction", direction(grid.power_kw, "importing", "exporting"));
  setField("load.power_kw", formatNumber(section(doc, "load").power_kw));
  const inverter = section(doc, "inverter");
  setField("inverter.temperature_c", formatNumber(inverter.temperature_c, 1));
  setField("inverter.status", humanize(inverter.status ?? "—"));

  renderChart(doc?.chart_data);
}

const SVG = "http://www.w3.org/2000/svg";

function svg(name, attributes, text) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

function niceMax(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (value <= step * power) return step * power;
  }
  return 10 * power;
}

let chartKey = "";

function renderChart(chart) {
  const labels = Array.isArray(chart?.labels) ? chart.labels.map(String) : [];
  const values = Array.isArray(chart?.values) ? chart.values : [];
  const key = JSON.stringify([labels, values]);
  if (key === chartKey) return; // unchanged: leave the DOM alone
  chartKey = key;
  const root = $("chart");
  const rows = [];
  if (!labels.length) {
    root.replaceChildren();
    $("chart-summary").textContent = "No data yet.";
    $("chart-table").replaceChildren();
    return;
  }
  const width = 720;
  const height = 240;
  const pad = { left: 60, right: 8, top: 12, bottom: 28 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const numbers = values.map((v) => (typeof v === "number" && Number.isFinite(v) ? v : null));
  const top = niceMax(Math.max(0, ...numbers.filter((v) => v !== null)));
  const parts = [];
  for (const fraction of [0, 0.5, 1]) {
    const y = pad.top + plotH * (1 - fraction);
    parts.push(svg("line", { class: "grid", x1: pad.left, x2: width - pad.right, y1: y, y2: y }));
    parts.push(
      svg(
        "text",
        { class: "axis", x: pad.left - 6, y: y + 4, "text-anchor": "end" },
        `${formatNumber(top * fraction)}${fraction === 1 ? " kWh" : ""}`,
      ),
    );
  }
  const slot = plotW / labels.length;
  const barW = Math.max(2, slot * 0.72);
  labels.forEach((label, index) => {
    const value = numbers[index] ?? null;
    const x = pad.left + index * slot + (slot - barW) / 2;
    const h = value === null ? plotH : Math.max(value > 0 ? 1 : 0, (value / top) * plotH);
    const y = pad.top + plotH - h;
    const classes = ["bar"];
    if (value === null) classes.push("missing");
    if (index === labels.length - 1) classes.push("now");
    const bar = svg("rect", { class: classes.join(" "), x: x.toFixed(1), y: y.toFixed(1), width: barW.toFixed(1), height: h.toFixed(1) });
    bar.append(svg("title", {}, `${label}: ${value === null ? "no data" : `${formatNumber(value)} kWh`}`));
    parts.push(bar);
    if (index % 3 === 0) {
      parts.push(svg("text", { class: "axis", x: (x + barW / 2).toFixed(1), y: height - 8, "text-anchor": "middle" }, label));
    }
    const row = document.createElement("tr");
    const hour = document.createElement("th");
    hour.scope = "row";
    hour.textContent = label;
    const kwh = document.createElement("td");
    kwh.textContent = value === null ? "—" : formatNumber(value, 3);
    row.append(hour, kwh);
    rows.push(row);
  });
  root.replaceChildren(...parts);
  $("chart-table").replaceChildren(...rows);
  const known = numbers.filter((v) => v !== null);
  const total = known.reduce((sum, v) => sum + v, 0);
  const peak = known.length ? Math.max(...known) : null;
  const peakAt = peak === null ? "" : ` at ${labels[numbers.indexOf(peak)]}`;
  $("chart-summary").textContent =
    `Hourly generation from ${labels[0]} to ${labels[labels.length - 1]}: ` +
    `${formatNumber(total)} kWh in total, peak ${formatNumber(peak)} kWh${peakAt}.`;
}

function renderAlerts() {
  // Redraw only on change, so a focused button is not replaced under the user.
  const stamp = JSON.stringify([link.authenticated, [...alerts.values()], [...systems.values()].map((e) => e.name)]);
  if (stamp === alertsDrawn) return;
  const focused = document.activeElement?.closest?.("button.ack")?.dataset.alertId ?? null;
  alertsDrawn = stamp;
  const shown = [...alerts.values()]
    .filter((alert) => alert.state === "raised" || !alert.acknowledged)
    .sort((a, b) => String(b.raised_at).localeCompare(String(a.raised_at)))
    .slice(0, MAX_ALERTS_SHOWN);
  $("no-alerts").hidden = shown.length > 0;
  const items = shown.map((alert) => {
    const item = document.createElement("li");
    item.className = "alert";
    item.dataset.alertId = alert.alert_id;
    item.dataset.severity = alert.severity ?? "warning";
    item.dataset.state = alert.state ?? "raised";
    const severity = document.createElement("span");
    severity.className = "severity";
    severity.textContent = alert.severity ?? "warning";
    const text = document.createElement("div");
    const what = document.createElement("span");
    what.className = "what";
    const owner = systems.get(alert.system_id)?.name ?? alert.system_id;
    what.textContent = `${humanize(alert.rule)} — ${owner}`;
    const details = document.createElement("span");
    details.className = "details";
    const bits = [];
    if (typeof alert.value === "number") bits.push(`value ${formatNumber(alert.value)}`);
    if (typeof alert.threshold === "number") bits.push(`threshold ${formatNumber(alert.threshold)}`);
    bits.push(`raised ${formatTime(alert.raised_at)}`);
    if (alert.state === "cleared") bits.push(`cleared ${formatTime(alert.cleared_at)}`);
    if (alert.acknowledged) bits.push(`acknowledged by ${alert.acknowledged_by ?? "someone"}`);
    details.textContent = bits.join(" · ");
    text.append(what, details);
    const button = document.createElement("button");
    button.type = "button";
    button.className = "ack";
    button.dataset.alertId = alert.alert_id;
    button.textContent = alert.acknowledged ? "Acknowledged" : "Acknowledge";
    button.disabled = Boolean(alert.acknowledged) || !link.authenticated;
    button.setAttribute("aria-label", `Acknowledge ${humanize(alert.rule)} on ${owner}`);
    item.append(severity, text, button);
    return item;
  });
  $("alert-list").replaceChildren(...items);
  if (focused) {
    const again = [...$("alert-list").querySelectorAll("button.ack")].find((b) => b.dataset.alertId === focused);
    (again && !again.disabled ? again : $("alerts-title")).focus?.();
  }
}

let renderQueued = false;

function render() {
  // Many frames can arrive in one task; draw once per animation frame. A
  // hidden tab gets no animation frames, so fall back to a timer there.
  if (renderQueued) return;
  renderQueued = true;
  const draw = () => {
    renderQueued = false;
    renderSystems();
    renderSystem();
    renderAlerts();
    renderBanner();
  };
  if (document.visibilityState === "visible") window.requestAnimationFrame(draw);
  else window.setTimeout(draw, 100);
}

// -- wiring ------------------------------------------------------------------

function start() {
  $("system-list").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-system-id]");
    if (!button) return;
    selected = button.dataset.systemId;
    window.history.replaceState(window.history.state, "", `#${encodeURIComponent(selected)}`);
    render();
  });
  $("alert-list").addEventListener("click", (event) => {
    const button = event.target.closest("button.ack");
    if (button && !button.disabled) acknowledge(button.dataset.alertId, button);
  });
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("token-input").value.trim();
    if (!token) return;
    saveToken(token);
    $("token-input").value = "";
    $("token-form").hidden = true;
    link.needToken = false;
    link.retries = 0;
    connect();
  });
  // Come back at once when the network or the tab does, instead of waiting out the back-off.
  const hurry = () => {
    if (!link.socket && !link.needToken) connect();
  };
  window.addEventListener("online", hurry);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") hurry();
  });
  readToken();
  connect();
}

start();
