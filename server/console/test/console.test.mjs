// Drives the web console of a running node in headless Chromium, page by page, checking what
// each page shows and saving a screenshot of each. Started by server/tests/console.rs, which
// starts the node and fills it; the environment says where everything is:
//   ADMIN_URL, GRAVEYARD_BIN, GRPC_ENDPOINT, TOKEN, SCREENSHOTS, CHROMIUM (default /usr/bin/chromium)
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { chromium } from "playwright-core";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run this through server/tests/console.rs`);
  return value;
};
const adminUrl = env("ADMIN_URL");
const shots = env("SCREENSHOTS");
mkdirSync(shots, { recursive: true });

// Appends through the command line, as a user would while watching the console.
function append(stream, type, data) {
  execFileSync(env("GRAVEYARD_BIN"), ["append", stream, "--type", type, "--data", data,
    "--endpoints", env("GRPC_ENDPOINT"), "--token-file", env("TOKEN_FILE")]);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  // As root in a container, and with no network but loopback: no sandbox, no background calls.
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
const page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
const consoleErrors = [];
page.on("pageerror", (e) => consoleErrors.push(String(e)));
page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });

async function visit(hash, name) {
  await page.goto(adminUrl + "/" + hash);
  await page.waitForLoadState("networkidle");
  await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
  // Nothing the page meant to leave out shows as a word.
  const shown = await page.locator("main").innerText();
  assert.doesNotMatch(shown, /\[object |^null$|^undefined$|NaN/m, `${hash} shows a placeholder`);
}

const text = () => page.locator("main").innerText();

test.after(async () => { await browser.close(); });

test("a wrong or missing token gets the token form, the right one the pages", async () => {
  await page.goto(adminUrl + "/#/streams");
  await page.getByRole("heading", { name: "This node asks for its token" }).waitFor();
  await page.locator("input[name=token]").fill("wrong-token");
  await page.getByRole("button", { name: "Use token" }).click();
  await page.getByText("the bearer token is not valid").waitFor();
  await page.screenshot({ path: `${shots}/token.png` });
  await page.locator("input[name=token]").fill(env("TOKEN"));
  await page.getByRole("button", { name: "Use token" }).click();
  await page.getByRole("heading", { name: "Streams" }).waitFor();
});

test("overview", async () => {
  await visit("#/", "overview");
  const main = await text();
  assert.match(main, /Node node-1/);
  assert.match(main, /Events in \$all/);
  assert.match(main, /1 \/ 1/);
});

test("streams: a table, a prefix search, pages, every state", async () => {
  await visit("#/streams", "streams");
  let main = await text();
  assert.match(main, /STREAM\tEVENTS\tLAST POSITION\tSTATE\tNODE/);
  assert.match(main, /blob-1\t1\t\d+\tlive\tnode-1/);
  // 60 bulk streams: the first page holds 50 rows, the next one the rest.
  await page.locator("input[name=prefix]").fill("bulk-");
  await page.getByRole("button", { name: "Search" }).click();
  await page.getByText("bulk-00").waitFor();
  assert.equal(await page.locator("tbody tr").count(), 50);
  await page.locator("#next-page").click();
  await page.getByText("bulk-59").waitFor();
  main = await text();
  assert.doesNotMatch(main, /bulk-00/);
  assert.equal(await page.locator("tbody tr").count(), 11, "bulk-50 to bulk-59 and bulk-long");
  for (const [prefix, state] of [["dead", "tombstoned"], ["gone", "deleted"], ["person-", "shredded"], ["order-", "live"]]) {
    await visit(`#/streams?prefix=${prefix}`, `streams-${state}`);
    assert.match(await text(), new RegExp(`${prefix}\\S*\\t1\\t\\d+\\t${state}`));
  }
});

test("a stream: info, metadata, events pretty-printed with their schema version", async () => {
  await visit("#/stream/user-1", "stream");
  const main = await text();
  assert.match(main, /Stream user-1/);
  assert.match(main, /"max_count": 1000/);
  assert.match(main, /"age": 30/);
  assert.match(main, /UserRegistered v1/);
  assert.match(main, /"by": "console-test"/);
});

test("a shredded stream shows the marker, a binary event its size", async () => {
  await visit("#/stream/person-1", "shredded");
  assert.match(await text(), /shredded: data destroyed/);
  await visit("#/stream/blob-1", "binary");
  assert.match(await text(), /binary, 5 bytes/);
});

test("events page by page", async () => {
  await visit("#/stream/bulk-long", "stream-pages");
  assert.equal(await page.locator("tbody tr").count(), 25);
  await page.locator("#next-page").click();
  await page.waitForFunction(() => document.querySelector("main h1")?.textContent === "Stream bulk-long" && location.hash.includes("from=25"));
  await page.waitForLoadState("networkidle");
  assert.equal(await page.locator("tbody tr").count(), 5);
});

test("live tail: new events arrive, a filter holds, pause and resume lose nothing", async () => {
  await visit("#/live", "live-empty");
  await page.getByText("live: new events appear at the top").waitFor();
  append("live-1", "Ping", '{"n": 1}');
  await page.locator("#live-log tr", { hasText: "live-1" }).waitFor();
  await page.locator("#pause").click();
  await page.getByText("paused").waitFor();
  append("live-2", "Ping", '{"n": 2}');
  await page.waitForTimeout(500);
  assert.equal(await page.locator("#live-log tr", { hasText: "live-2" }).count(), 0, "paused: nothing new shown");
  await page.locator("#pause").click();
  await page.locator("#live-log tr", { hasText: "live-2" }).waitFor();
  await page.screenshot({ path: `${shots}/live.png`, fullPage: true });
  // A type filter: only Pong events.
  await page.locator("input[name=type]").fill("Pong");
  await page.getByRole("button", { name: "Filter" }).click();
  await page.getByText("live: new events appear at the top").waitFor();
  append("live-3", "Ping", "{}");
  append("live-4", "Pong", "{}");
  await page.locator("#live-log tr", { hasText: "live-4" }).waitFor();
  assert.equal(await page.locator("#live-log tr", { hasText: "live-3" }).count(), 0);
});

test("schemas: the list, every version, the difference between two", async () => {
  await visit("#/schemas", "schemas");
  assert.match(await text(), /UserRegistered\s+2/);
  await visit("#/schema/UserRegistered", "schema-diff");
  const diff = await page.locator("#schema-diff").innerText();
  assert.match(diff, /age\s+changed/);
  assert.match(diff, /nickname\s+added/);
  assert.match(await text(), /Compatibility mode/);
});

test("groups: lag and parked events", async () => {
  await visit("#/groups", "groups");
  const main = await text();
  assert.match(main, /workers/);
  assert.match(main, /jobs/);
  await visit("#/group/workers", "group");
  const group = await text();
  assert.match(group, /\$parked-workers/);
  assert.match(group, /Parked\n1|1\s*Parked/);
});

test("cluster: members, their share of the ring, their health", async () => {
  await visit("#/node", "cluster");
  const main = await text();
  assert.match(main, /node-1/);
  assert.match(main, /100\.0 %/);
  assert.match(main, /healthy/);
});

test("metrics", async () => {
  await page.goto(adminUrl + "/#/metrics");
  await page.getByText("Appends / s (last second)").waitFor();
  await page.screenshot({ path: `${shots}/metrics.png`, fullPage: true });
  const main = await text();
  assert.match(main, /Append p99 latency/);
  assert.match(main, /Subscriptions open/);
});

test("an unknown page and a missing stream say so", async () => {
  await visit("#/nowhere", "unknown");
  assert.match(await text(), /No such page/);
  await visit("#/stream/no-such-stream", "missing");
  assert.match(await text(), /NOT_FOUND/);
});

test("no page raised a script error", () => {
  assert.deepEqual(consoleErrors.filter((e) => !e.includes("404") && !e.includes("401")), []);
});
