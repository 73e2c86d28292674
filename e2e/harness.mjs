// What every browser test needs: the running server, the CLI to compare with,
// Debian's Chromium driven by playwright-core, and a reader of figures as shown.
//
// `.ci/e2e` builds the release binary, starts `sizeup serve --port 0`, and passes
// its address in SIZEUP_E2E_URL (it stops the server however the tests end).

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

/** The repository's root. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Where screenshots go (git-ignored, kept by CI as artifacts). */
export const ARTIFACTS = path.join(ROOT, "target", "e2e");

/** The server under test, as `sizeup serve` printed it (`http://127.0.0.1:PORT/`). */
export function serverUrl() {
  const url = process.env.SIZEUP_E2E_URL;
  assert.ok(url, "SIZEUP_E2E_URL is not set: run the browser tests with `.ci/e2e`");
  return url;
}

/** A file under `shared/`, which sits beside the repository; read in place. */
export function shared(rel) {
  const file = path.resolve(ROOT, "..", "shared", rel);
  assert.ok(fs.existsSync(file), `${file} is missing: shared/ must sit beside the repository`);
  return file;
}

/** The release binary the server runs. */
export const BIN = process.env.SIZEUP_BIN || path.join(ROOT, "target", "release", "sizeup");

/** What `sizeup ARGS… --format json` prints, parsed: the CLI the page must agree with. */
export function cli(...args) {
  return JSON.parse(execFileSync(BIN, [...args, "--format", "json"], { encoding: "utf8" }));
}

/**
 * Headless Chromium with nothing reaching outside: no background networking, no
 * component or sync traffic, no QUIC. playwright-core gives each launch a fresh
 * `--user-data-dir` of its own (and deletes it at close).
 */
export function launch() {
  return chromium.launch({
    executablePath: process.env.SIZEUP_CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/**
 * A fresh context and page that may reach the server only. Every request to
 * another origin is refused and recorded in `offsite`; console errors (a
 * Content-Security-Policy violation among them) and uncaught page errors are
 * recorded in `errors`.
 */
export async function openPage(browser, viewport = { width: 1280, height: 900 }) {
  const context = await browser.newContext({ viewport });
  const origin = new URL(serverUrl()).origin;
  const offsite = [];
  const errors = [];
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (new URL(url).origin === origin) return route.continue();
    offsite.push(url);
    return route.abort();
  });
  const page = await context.newPage();
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  page.on("pageerror", (e) => errors.push(String(e)));
  return { context, page, offsite, errors };
}

/** Wait until every panel of the page's latest update is drawn (`body[data-state=ready]`). */
export async function settled(page) {
  await page.waitForSelector("body[data-state=ready]", { timeout: 30_000 });
}

/** The unrounded value a figure carries (`data-value` of `[data-testid=ID]`) and its text. */
export async function figure(page, testid) {
  const loc = page.locator(`[data-testid="${testid}"]`);
  await loc.waitFor({ timeout: 5_000 });
  const [value, text] = [await loc.getAttribute("data-value"), await loc.textContent()];
  return { value: Number(value), raw: value, text: text.trim() };
}

/** Save a full-page screenshot to target/e2e/NAME.png; return its path. */
export async function screenshot(page, name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

// ---- figures as the page shows them, read back independently of app.js ----

const SCALES = {
  "": 1, K: 1e3, M: 1e6, B: 1e9, T: 1e12, // counts
  "B ": 1, KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30, TiB: 2 ** 40, PiB: 2 ** 50, // bytes
  "µs": 1e-6, ms: 1e-3, s: 1, min: 60, h: 3600, days: 86400, // seconds
};

/**
 * The value a shown figure stands for and how far rounding may have moved it
 * (half a unit of its last digit): `8.03B`, `14.96 GiB`, `6.12 ms`, `1,234`.
 */
export function readShown(text) {
  const m = /^(-?[\d,]+(?:\.(\d+))?)\s?(B|KiB|MiB|GiB|TiB|PiB|K|M|T|µs|ms|s|min|h|days)?$/.exec(text);
  assert.ok(m, `not a figure: ${JSON.stringify(text)}`);
  // `B` after a space is bytes, glued to the number it is billions
  const unit = m[3] === "B" && /\sB$/.test(text) ? "B " : m[3] || "";
  const scale = SCALES[unit];
  const decimals = m[2] ? m[2].length : 0;
  return { value: Number(m[1].replaceAll(",", "")) * scale, slack: 0.5 * 10 ** -decimals * scale };
}

/** Assert that `shown` (text on the page) is `expected` rounded for display. */
export function assertShows(shown, expected, what) {
  const { value, slack } = readShown(shown);
  assert.ok(
    Math.abs(value - expected) <= slack * (1 + 1e-9),
    `${what}: the page shows ${JSON.stringify(shown)} (${value} ± ${slack}), the CLI says ${expected}`,
  );
}
