// The GraveyardDB console: a read-only single-page app over the node's admin API (/api).
// No framework and nothing fetched from elsewhere; every value from the store is put in the
// page as text (never as HTML), so event data cannot inject anything.
"use strict";

const main = document.getElementById("main");
let live = null; // the open $all tail, closed when the page changes

// ---- helpers -------------------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function show(...nodes) {
  main.replaceChildren(...nodes.flat(2).filter((n) => n !== undefined && n !== null && n !== false));
}

function table(headers, rows, numeric = []) {
  return el("table", {},
    el("thead", {}, el("tr", {}, headers.map((h, i) => el("th", { class: numeric.includes(i) ? "num" : null }, h)))),
    el("tbody", {}, rows.length === 0
      ? el("tr", {}, el("td", { colspan: headers.length, class: "muted" }, "Nothing here."))
      : rows.map((cells) => el("tr", {}, cells.map((c, i) => el("td", { class: numeric.includes(i) ? "num" : null }, c))))));
}

function badge(text, kind) {
  return el("span", { class: "badge " + (kind || "") }, text);
}

function streamLink(name) {
  return el("a", { href: "#/stream/" + encodeURIComponent(name) }, name);
}

function number(n) {
  return n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US");
}

function token() {
  return sessionStorage.getItem("graveyard-token");
}

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(path) {
  const headers = {};
  if (token()) headers.Authorization = "Bearer " + token();
  const response = await fetch("/api" + path, { headers });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = body.error || {};
    throw new ApiError(response.status, error.code || "HTTP_" + response.status, error.message || response.statusText);
  }
  return body;
}

function failure(error) {
  if (error instanceof ApiError && error.status === 401) return tokenForm(error.message);
  return el("div", { class: "error", role: "alert" }, (error.code ? error.code + ": " : "") + error.message);
}

function tokenForm(message) {
  const input = el("input", { type: "password", name: "token", placeholder: "bearer token", autocomplete: "off", size: 40 });
  return el("div", {},
    el("h1", {}, "This node asks for its token"),
    el("p", { class: "muted" }, message),
    el("form", { class: "bar", onsubmit: (e) => { e.preventDefault(); sessionStorage.setItem("graveyard-token", input.value.trim()); route(); } },
      input, el("button", { type: "submit" }, "Use token")),
    el("p", { class: "muted" }, "Kept for this tab only (session storage), sent as an Authorization header."));
}

function eventData(event) {
  if (event.shredded) return badge("shredded: data destroyed", "warn");
  if (event.data !== undefined) return el("pre", {}, JSON.stringify(event.data, null, 2));
  if (event.data_base64 !== undefined) return el("span", { class: "muted" }, `binary, ${atob(event.data_base64).length} bytes (${event.content_type})`);
  return el("span", { class: "muted" }, "empty");
}

function eventMetadata(event) {
  if (event.metadata !== undefined) return el("pre", {}, JSON.stringify(event.metadata, null, 2));
  if (event.metadata_base64 !== undefined) return el("span", { class: "muted" }, `${atob(event.metadata_base64).length} bytes`);
  return "";
}

function eventRows(events, withStream) {
  return events.map((e) => [
    String(e.position), withStream ? streamLink(e.stream) : null, String(e.revision),
    el("span", {}, e.type, e.schema_version ? " " : "", e.schema_version ? badge("v" + e.schema_version) : ""),
    e.time, eventData(e), eventMetadata(e),
  ].filter((c) => c !== null));
}

function query() {
  const hash = location.hash.slice(1);
  const at = hash.indexOf("?");
  return new URLSearchParams(at < 0 ? "" : hash.slice(at + 1));
}

// ---- pages ---------------------------------------------------------------------------------

async function overview() {
  const [node, metrics] = await Promise.all([api("/node"), api("/metrics")]);
  const healthy = node.members.filter((m) => m.healthy).length;
  show(
    el("h1", {}, "Node " + node.node_id),
    el("div", { class: "cards" },
      card("Events in $all", number(metrics.head_position)),
      card("Members healthy", `${healthy} / ${node.members.length}`),
      card("Appends answered", number(metrics.counters.appends)),
      card("Open subscriptions", number(Object.values(metrics.counters.subscriptions).reduce((a, b) => a + b, 0))),
      card("Version", node.version),
      card("State", node.draining ? "draining" : "serving")),
    el("h2", {}, "Where to look"),
    el("p", {}, "Streams and their events, the live tail of $all, schemas with their versions, consumer groups with their lag, the cluster's members, and the node's metrics."));
}

function card(label, value) {
  return el("div", { class: "card" }, el("div", { class: "value" }, value), el("div", { class: "label" }, label));
}

async function streams() {
  const params = query();
  const prefix = params.get("prefix") || "";
  const after = params.get("after") || "";
  const page = await api(`/streams?limit=50&prefix=${encodeURIComponent(prefix)}${after ? "&after=" + encodeURIComponent(after) : ""}`);
  const input = el("input", { name: "prefix", value: prefix, placeholder: "stream name prefix", size: 30 });
  const state = (s) => s.tombstoned ? badge("tombstoned", "bad") : s.shredded ? badge("shredded", "warn") : s.deleted ? badge("deleted", "warn") : badge("live", "good");
  show(
    el("h1", {}, "Streams"),
    el("form", { class: "bar", onsubmit: (e) => { e.preventDefault(); location.hash = "#/streams?prefix=" + encodeURIComponent(input.value); } },
      input, el("button", { type: "submit" }, "Search")),
    table(["Stream", "Events", "Last position", "State", "Node"],
      page.streams.map((s) => [streamLink(s.name), number(s.next_revision), number(s.last_position), state(s), s.node || ""]), [1, 2]),
    el("div", { class: "bar" },
      after ? el("a", { href: "#/streams?prefix=" + encodeURIComponent(prefix) }, "« First page") : null,
      page.next ? el("a", { href: `#/streams?prefix=${encodeURIComponent(prefix)}&after=${encodeURIComponent(page.next)}`, id: "next-page" }, "Next page »") : null));
}

async function stream(name) {
  const params = query();
  const from = params.get("from");
  const [detail, page] = await Promise.all([
    api("/streams/" + encodeURIComponent(name)),
    api(`/streams/${encodeURIComponent(name)}/events?limit=25${from ? "&from=" + from : ""}`).catch((e) => ({ error: e })),
  ]);
  const info = detail.info;
  const metadata = info.metadata;
  show(
    el("h1", {}, "Stream ", name),
    el("div", { class: "cards" },
      card("Current revision", info.current === "no_stream" ? "no stream" : number(info.current)),
      card("Next revision", number(info.next_revision)),
      card("State", info.shredded ? "shredded" : info.deleted ? "deleted" : "live"),
      card("Owner", detail.owner || "")),
    el("h2", {}, "Metadata"),
    el("pre", {}, JSON.stringify(metadata, null, 2)),
    el("h2", {}, "Events"),
    page.error ? failure(page.error) : table(["Position", "Revision", "Type", "Time", "Data", "Metadata"], eventRows(page.events, false), [0, 1]),
    page.next !== undefined && page.next !== null
      ? el("div", { class: "bar" }, el("a", { href: `#/stream/${encodeURIComponent(name)}?from=${page.next}`, id: "next-page" }, "Next events »"))
      : null);
}

function livePage() {
  const params = query();
  const type = el("input", { name: "type", value: params.get("type") || "", placeholder: "event types, comma-separated", size: 28 });
  const prefix = el("input", { name: "prefix", value: params.get("prefix") || "", placeholder: "stream prefixes, comma-separated", size: 28 });
  const status = el("span", { class: "muted", id: "live-status" }, "connecting…");
  const body = el("tbody", { id: "live-log" });
  const pause = el("button", { type: "button", class: "secondary", id: "pause" }, "Pause");
  let lastPosition = null;
  let paused = false;

  const start = () => {
    const filter = `type=${encodeURIComponent(type.value)}&prefix=${encodeURIComponent(prefix.value)}`;
    const from = lastPosition === null ? "" : "&after=" + lastPosition;
    live = tail("/all/live?" + filter + from, {
      event: (e) => {
        lastPosition = e.position;
        const row = el("tr", { class: "new" }, eventRows([e], true)[0].map((c) => el("td", {}, c)));
        body.prepend(row);
        while (body.children.length > 200) body.lastChild.remove();
      },
      caught_up: () => { status.textContent = "live: new events appear at the top"; },
      error: (e) => { status.textContent = "ended: " + e.message; status.className = "error"; },
    });
  };
  pause.addEventListener("click", () => {
    paused = !paused;
    if (paused) {
      live?.abort();
      status.textContent = "paused";
      pause.textContent = "Resume";
    } else {
      pause.textContent = "Pause";
      status.textContent = "resuming after the last event shown…";
      start();
    }
  });
  show(
    el("h1", {}, "Live: $all of this node"),
    el("form", { class: "bar", onsubmit: (e) => { e.preventDefault(); live?.abort(); body.replaceChildren(); lastPosition = null; start(); } },
      type, prefix, el("button", { type: "submit" }, "Filter"), pause, status),
    el("table", {}, el("thead", {}, el("tr", {}, ["Position", "Stream", "Revision", "Type", "Time", "Data", "Metadata"].map((h) => el("th", {}, h)))), body));
  start();
}

// Reads server-sent events with fetch (EventSource cannot send the Authorization header).
function tail(path, handlers) {
  const controller = new AbortController();
  (async () => {
    const headers = {};
    if (token()) headers.Authorization = "Bearer " + token();
    const response = await fetch("/api" + path, { headers, signal: controller.signal });
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      handlers.error({ message: (body.error && body.error.message) || response.statusText });
      return;
    }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let name = "message";
        let data = "";
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) name = line.slice(6).trim();
          else if (line.startsWith("data:")) data += line.slice(5).trim();
        }
        if (data && handlers[name]) handlers[name](JSON.parse(data));
      }
    }
    handlers.error({ message: "the node closed the stream" });
  })().catch((e) => { if (e.name !== "AbortError") handlers.error({ message: String(e.message || e) }); });
  return controller;
}

async function schemas() {
  const list = await api("/schemas");
  show(
    el("h1", {}, "Schemas"),
    table(["Schema", "Latest version", "Compatibility", "Fields", "Description"],
      list.schemas.map((s) => [el("a", { href: "#/schema/" + encodeURIComponent(s.name) }, s.name), String(s.version),
        s.schema.compatibility || "backward", String((s.schema.fields || []).length), s.schema.description || ""]), [1, 3]));
}

function fieldsByName(schema) {
  return new Map((schema.fields || []).map((f) => [f.name, f]));
}

async function schema(name) {
  const detail = await api("/schemas/" + encodeURIComponent(name));
  const versions = detail.versions;
  const params = query();
  const latest = versions.length;
  const left = Math.min(Number(params.get("from")) || Math.max(1, latest - 1), latest);
  const right = Math.min(Number(params.get("to")) || latest, latest);
  const pick = (id, value) => el("select", { id, name: id }, versions.map((v) => el("option", { value: v.version, selected: v.version === value }, "version " + v.version)));
  const a = pick("from", left);
  const b = pick("to", right);
  const older = fieldsByName(versions[left - 1].schema);
  const newer = fieldsByName(versions[right - 1].schema);
  const names = [...new Set([...older.keys(), ...newer.keys()])].sort();
  const rows = names.map((field) => {
    const before = older.get(field);
    const after = newer.get(field);
    const change = !before ? "added" : !after ? "removed" : JSON.stringify(before) === JSON.stringify(after) ? "same" : "changed";
    return el("tr", { class: change === "same" ? null : "diff-" + change },
      el("td", {}, field), el("td", {}, change),
      el("td", {}, before ? el("pre", {}, JSON.stringify(before, null, 2)) : ""),
      el("td", {}, after ? el("pre", {}, JSON.stringify(after, null, 2)) : ""));
  });
  const current = versions[latest - 1].schema;
  show(
    el("h1", {}, "Schema ", name),
    el("div", { class: "cards" },
      card("Versions", String(latest)),
      card("Compatibility mode", current.compatibility || "backward"),
      card("Unknown fields", current.unknown_fields || "allow")),
    el("h2", {}, "Difference between two versions"),
    el("form", { class: "bar", onsubmit: (e) => { e.preventDefault(); location.hash = `#/schema/${encodeURIComponent(name)}?from=${a.value}&to=${b.value}`; } },
      a, "→", b, el("button", { type: "submit" }, "Compare")),
    el("table", { id: "schema-diff" }, el("thead", {}, el("tr", {}, ["Field", "Change", "Version " + left, "Version " + right].map((h) => el("th", {}, h)))), el("tbody", {}, rows)),
    el("h2", {}, "Every version"),
    versions.map((v) => el("details", {}, el("summary", {}, "Version " + v.version), el("pre", {}, JSON.stringify(v.schema, null, 2)))));
}

function targetText(target) {
  if (target.stream !== undefined) return streamLink(target.stream);
  if (typeof target === "string") return target;
  return "$all " + JSON.stringify(target);
}

async function groups() {
  const list = await api("/groups");
  show(
    el("h1", {}, "Consumer groups"),
    table(["Group", "Target", "Checkpoint", "Lag", "Members", "In flight", "Parked", "Replaying"],
      list.groups.map((g) => [el("a", { href: "#/group/" + encodeURIComponent(g.name) }, g.name), targetText(g.target),
        number(g.checkpoint), number(g.lag), String(g.members.length), number(g.in_flight), number(g.parked), number(g.replaying)]),
      [2, 3, 4, 5, 6, 7]));
}

async function group(name) {
  const { group: g } = await api("/groups/" + encodeURIComponent(name));
  show(
    el("h1", {}, "Group ", name),
    el("div", { class: "cards" },
      card("Checkpoint", number(g.checkpoint)), card("Lag", number(g.lag)), card("In flight", number(g.in_flight)),
      card("Buffered", number(g.buffered)), card("Parked", number(g.parked)), card("Replaying", number(g.replaying))),
    el("h2", {}, "Members connected"),
    g.members.length ? el("ul", {}, g.members.map((m) => el("li", {}, m))) : el("p", { class: "muted" }, "No member is connected."),
    el("h2", {}, "Parked events"),
    el("p", {}, streamLink(g.parked_stream)),
    el("h2", {}, "Settings"),
    el("pre", {}, JSON.stringify({ target: g.target, settings: g.settings }, null, 2)));
}

// Set through the CSSOM: the page's policy refuses style attributes.
function shareBar(share) {
  const fill = el("span");
  fill.style.width = (share * 100).toFixed(1) + "%";
  return el("div", { class: "share" }, fill);
}

async function nodePage() {
  const node = await api("/node");
  show(
    el("h1", {}, "Cluster"),
    el("p", { class: "muted" }, `${node.members.length} member(s), ${node.virtual_nodes} virtual nodes each on the ring; this page is served by ${node.node_id}.`),
    table(["Member", "Endpoint", "Ring share", "", "Health", "Events in its $all"],
      node.members.map((m) => [
        el("span", {}, m.id, m.this ? " " : "", m.this ? badge("this node") : ""), m.endpoint,
        (m.share * 100).toFixed(1) + " %", shareBar(m.share),
        m.healthy ? badge("healthy", "good") : el("span", {}, badge("unreachable", "bad"), " ", el("span", { class: "muted" }, m.error || "")),
        number(m.head_position)]), [2, 5]));
}

async function metricsPage() {
  const first = await api("/metrics");
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const second = await api("/metrics");
  const seconds = (performance.now() - started) / 1000;
  const rate = (key) => ((second.counters[key] - first.counters[key]) / seconds).toFixed(1);
  const c = second.counters;
  show(
    el("h1", {}, "Metrics"),
    el("div", { class: "cards" },
      card("Appends / s (last second)", rate("appends")),
      card("Events appended / s", rate("appended_events")),
      card("Append p99 latency", c.append_p99_seconds === null ? "–" : "≤ " + (c.append_p99_seconds * 1000).toFixed(2) + " ms"),
      card("Append mean latency", c.append_mean_seconds === null ? "–" : (c.append_mean_seconds * 1000).toFixed(2) + " ms"),
      card("Events in $all", number(second.head_position)),
      card("Errors answered", number(c.errors))),
    el("h2", {}, "Subscriptions open"),
    table(["Kind", "Open"], Object.entries(c.subscriptions).map(([k, v]) => [k, String(v)]), [1]),
    el("h2", {}, "Totals"),
    table(["Counter", "Value"], [
      ["Appends answered", number(c.appends)], ["Appends failed", number(c.appends_failed)],
      ["Events delivered to subscribers", number(c.delivered_events)], ["Events read", number(c.read_events)],
      ["Requests forwarded to other members", number(c.forwards)]], [1]),
    el("p", { class: "muted" }, "Prometheus scrapes the same counters at /metrics on the node's --metrics-listen address."));
}

// ---- routing -------------------------------------------------------------------------------

async function route() {
  live?.abort();
  live = null;
  const path = location.hash.slice(1).split("?")[0] || "/";
  const [, page, arg] = path.split("/");
  for (const link of document.querySelectorAll("nav a")) link.classList.toggle("active", link.dataset.page === page || (page === "stream" && link.dataset.page === "streams") || (page === "schema" && link.dataset.page === "schemas") || (page === "group" && link.dataset.page === "groups"));
  const name = arg === undefined ? undefined : decodeURIComponent(arg);
  try {
    switch (page) {
      case "": case undefined: await overview(); break;
      case "streams": await streams(); break;
      case "stream": await stream(name); break;
      case "live": livePage(); break;
      case "schemas": await schemas(); break;
      case "schema": await schema(name); break;
      case "groups": await groups(); break;
      case "group": await group(name); break;
      case "node": await nodePage(); break;
      case "metrics": await metricsPage(); break;
      default: show(el("div", { class: "error" }, "No such page: " + path));
    }
  } catch (error) {
    show(failure(error));
  }
}

window.addEventListener("hashchange", route);
api("/node").then((n) => { document.getElementById("node-name").textContent = "node " + n.node_id + " · v" + n.version; }).catch(() => {});
route();
