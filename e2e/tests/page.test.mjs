// `sizeup serve`'s page in headless Chromium: what a user does on it, and the
// figures it shows checked against `sizeup … --format json` for the same inputs.
// Each test opens its own browser context; screenshots go to target/e2e/.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, before, describe, test } from "node:test";
import {
  BIN, assertShows, cli, figure, launch, openPage, screenshot, serverUrl, settled, shared,
} from "../harness.mjs";

const LIMIT = { timeout: 60_000 };
let browser;

before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

/** Every figure the page carries, `data-testid` → `data-value`. */
function figures(page) {
  return page.$$eval("[data-testid][data-value]", (els) =>
    Object.fromEntries(els.map((e) => [e.dataset.testid, e.dataset.value])));
}

/** Every input of the form, name → value. */
function inputs(page) {
  return page.$$eval("#inputs [name]", (els) => Object.fromEntries(els.map((e) => [e.name, e.value])));
}

/** The text of every panel that shows an error, by panel. */
function panelErrors(page) {
  return page.$$eval("#results section", (ss) =>
    ss.filter((s) => s.querySelector(".error")).map((s) => `${s.id}: ${s.querySelector(".error").innerText}`));
}

/** Check that a figure carries the CLI's value exactly and shows it rounded. */
async function agrees(page, testid, expected) {
  const f = await figure(page, testid);
  assert.equal(f.value, expected, `${testid}: data-value ${f.raw}, the CLI says ${expected}`);
  assertShows(f.text, expected, testid);
}

describe("sizeup serve in Chromium", () => {
  test("the page draws every panel from the server alone", LIMIT, async () => {
    const { context, page, offsite, errors } = await openPage(browser);
    await page.goto(serverUrl());
    await settled(page);
    assert.deepEqual(await panelErrors(page), []);
    for (const id of ["params", "memory", "kv", "serving", "training", "card"]) {
      const text = await page.locator(`#${id} .body`).innerText();
      assert.ok(text.trim().length > 0, `panel ${id} is empty`);
    }
    assert.equal(await page.locator("#kv svg circle").count() > 1, true, "the KV curve has points");
    // the default model, as the CLI counts it
    await agrees(page, "params-total", cli("params", "llama-3.1-8b").params_total);
    await screenshot(page, "desktop-default");
    assert.deepEqual(offsite, [], "requests to anywhere but the server");
    assert.deepEqual(errors, [], "console errors (a CSP violation would be one)");
    await context.close();
  });

  test("a model searched in the catalog and a GPU chosen show the CLI's numbers", LIMIT, async () => {
    const { context, page, offsite, errors } = await openPage(browser);
    await page.goto(serverUrl());
    await settled(page);

    // the search offers the whole catalog, each name with its family and size
    const catalog = cli("models").models;
    const offered = await page.$$eval("#models option", (os) => os.map((o) => [o.value, o.textContent]));
    assert.deepEqual(offered.map(([v]) => v), catalog.map((m) => m.name));
    // typing part of a name: the browser's list narrows to the options containing it
    // (its popup cannot be clicked headless: the test picks what it would show)
    const model = page.locator("input[name=model]");
    await model.fill("");
    await model.pressSequentially("qwen3-1");
    const matches = offered.filter(([v]) => v.includes("qwen3-1")).map(([v]) => v);
    assert.deepEqual(matches, ["qwen3-1.7b", "qwen3-14b"]);
    await model.fill("qwen3-14b");
    await page.selectOption("select[name=gpu]", "A100-SXM-80GB");
    await page.fill("input[name=prompt]", "2k");
    await page.fill("input[name=output]", "256");
    await page.fill("input[name=context]", "4k");
    await page.fill("input[name=concurrency]", "8");
    await settled(page);
    assert.deepEqual(await panelErrors(page), []);

    const name = "qwen3-14b";
    const params = cli("params", name);
    assert.equal((await figure(page, "params-model")).raw, name);
    await agrees(page, "params-total", params.params_total);

    const infer = cli("infer", name, "--gpu", "A100-SXM-80GB", "--prompt", "2k", "--output", "256",
      "--context", "4k", "--concurrency", "8").estimate;
    await agrees(page, "memory-weights_bytes", infer.memory.weights_bytes);
    await agrees(page, "memory-kv_cache_bytes", infer.memory.kv_cache_bytes);
    await agrees(page, "memory-total_bytes", infer.memory.total_bytes);
    await agrees(page, "serving-ttft", infer.schedule.time_to_first_token_seconds);
    await agrees(page, "serving-tpot", infer.schedule.time_per_output_token_seconds);
    await agrees(page, "serving-output-tokens-per-sec", infer.output_tokens_per_sec_total);
    await agrees(page, "serving-max-batch", infer.max_batch_at_context);

    const train = cli("train", name, "--gpu", "A100-SXM-80GB", "--gpus", "8", "--seq-len", "4096",
      "--zero", "0", "--recompute", "none").estimate;
    await agrees(page, "training-memory-total", train.memory.total_bytes);
    await agrees(page, "training-step-seconds", train.time.step_seconds);

    await screenshot(page, "desktop-qwen3-14b-a100");
    assert.deepEqual(offsite, []);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test("an uploaded config.json is counted as the CLI counts it", LIMIT, async () => {
    const { context, page, offsite, errors } = await openPage(browser);
    await page.goto(`${serverUrl()}?model=gpt2`);
    await settled(page);
    await agrees(page, "params-total", cli("params", "gpt2").params_total);

    const file = shared("fixtures/models/llama-3.1-8b/config.json");
    await page.locator("#config-box summary").click();
    await page.setInputFiles("#config-file", file);
    await settled(page);
    assert.deepEqual(await panelErrors(page), []);
    // the upload replaced the catalog name
    assert.equal((await figure(page, "params-model")).raw, "config.json");
    await agrees(page, "params-total", cli("params", file).params_total);
    const infer = cli("infer", file, "--gpu", "H100-SXM").estimate;
    await agrees(page, "memory-weights_bytes", infer.memory.weights_bytes);
    // the config stays in the page: the shareable link does not carry it
    assert.ok(!(await page.locator("#share").getAttribute("href")).includes("config"));

    await screenshot(page, "config-upload");
    assert.deepEqual(offsite, []);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test("a shared URL brings back the same inputs and numbers", LIMIT, async () => {
    const first = await openPage(browser);
    await first.page.goto(serverUrl());
    await first.page.fill("input[name=model]", "mixtral-8x7b-v0.1");
    await first.page.selectOption("select[name=gpu]", "H100-SXM");
    await first.page.fill("input[name=tp]", "2");
    await first.page.selectOption("select[name=weights]", "fp8");
    await first.page.selectOption("select[name=workload]", "rag");
    await first.page.fill("input[name=train_gpus]", "16");
    await first.page.fill("input[name=seq_len]", "8k");
    await first.page.selectOption("select[name=zero]", "3");
    await settled(first.page);
    assert.deepEqual(await panelErrors(first.page), []);
    const shown = await figures(first.page);
    const given = await inputs(first.page);
    const link = new URL(await first.page.locator("#share").getAttribute("href"), serverUrl()).href;
    assert.equal(first.page.url(), link, "the address bar holds the inputs too");
    await first.context.close();

    // a fresh context: nothing but the link is carried over
    const second = await openPage(browser);
    await second.page.goto(link);
    await settled(second.page);
    assert.deepEqual(await inputs(second.page), given);
    assert.deepEqual(await figures(second.page), shown);
    // a mixture of experts: the active parameters are the CLI's too
    await agrees(second.page, "params-active", cli("params", "mixtral-8x7b-v0.1").params_active);
    await screenshot(second.page, "shared-url");
    assert.deepEqual(second.offsite, []);
    assert.deepEqual(second.errors, []);
    await second.context.close();
  });

  test("a phone-sized screen (390×844) shows the page without horizontal overflow", LIMIT, async () => {
    const { context, page, offsite, errors } = await openPage(browser, { width: 390, height: 844 });
    // a long model description and wide figures: the hardest case for the layout
    await page.goto(`${serverUrl()}?model=deepseek-v3&gpu=H200-SXM&tp=8&weights=fp8`);
    await settled(page);
    assert.deepEqual(await panelErrors(page), []);
    const layout = await page.evaluate(() => {
      const width = document.documentElement.clientWidth;
      const beyond = [...document.querySelectorAll("body *")]
        .map((e) => [e, e.getBoundingClientRect()])
        .filter(([, r]) => r.width > 0 && (r.right > width + 0.5 || r.left < -0.5))
        .map(([e, r]) => `${e.tagName.toLowerCase()}${e.id ? "#" + e.id : ""}.${e.getAttribute("class") || ""} [${Math.round(r.left)}, ${Math.round(r.right)}]`);
      const columns = new Set([...document.querySelectorAll("#results section")].map((s) => Math.round(s.getBoundingClientRect().left)));
      return { width, scrollWidth: document.documentElement.scrollWidth, beyond, columns: columns.size };
    });
    assert.equal(layout.width, 390);
    assert.ok(layout.scrollWidth <= layout.width, `the page is ${layout.scrollWidth} px wide`);
    assert.deepEqual(layout.beyond, [], "elements reaching past the screen's edge");
    assert.equal(layout.columns, 1, "one column of panels");
    // the KV chart fits the panel without shrinking its labels below legibility
    const labels = await page.$$eval("#kv svg text", (ts) => ts.map((t) => t.getBoundingClientRect().height));
    assert.ok(labels.length > 4, "the KV chart has its labels");
    assert.ok(Math.min(...labels) >= 10, `KV chart labels ${Math.min(...labels).toFixed(1)} px high`);
    await screenshot(page, "phone-390");
    assert.deepEqual(offsite, []);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test("a bad input shows the CLI's message and the page recovers", LIMIT, async () => {
    const { context, page, offsite } = await openPage(browser);
    await page.goto(serverUrl());
    await settled(page);
    await page.fill("input[name=tp]", "0");
    await settled(page);
    // the CLI's first line for the same flag, without its `error: ` prefix
    let message = "";
    try {
      execFileSync(BIN, ["infer", "llama-3.1-8b", "--tp", "0"],
        { encoding: "utf8", stdio: "pipe" });
    } catch (e) {
      assert.equal(e.status, 2);
      message = e.stderr.split("\n")[0].replace(/^error: /, "");
    }
    assert.ok(message.includes("--tp"), message);
    assert.equal((await page.locator("#serving .error strong").innerText()).trim(), message);
    await screenshot(page, "bad-input");

    await page.fill("input[name=tp]", "1");
    await settled(page);
    assert.deepEqual(await panelErrors(page), []);
    const infer = cli("infer", "llama-3.1-8b", "--gpu", "H100-SXM").estimate;
    // the default chat workload: the card's figures feed the serving panel
    const card = cli("card", "llama-3.1-8b", "--workload", "chat", "--gpu", "H100-SXM").card.inference;
    assert.ok(card, "the chat card has a serving part");
    const served = cli("infer", "llama-3.1-8b", "--gpu", "H100-SXM", "--prompt", String(card.prompt_tokens),
      "--output", String(card.output_tokens), "--context", String(card.context_tokens),
      "--concurrency", String(card.requests_in_flight)).estimate;
    await agrees(page, "memory-weights_bytes", infer.memory.weights_bytes);
    await agrees(page, "serving-tpot", served.schedule.time_per_output_token_seconds);
    // the card's decision: each target met or not, as the CLI decides it
    const decision = cli("card", "llama-3.1-8b", "--workload", "chat", "--gpu", "H100-SXM").card.decision;
    const verdicts = await page.$$eval("[data-testid=decision-checks] li strong", (els) => els.map((e) => e.textContent));
    assert.deepEqual(verdicts, decision.checks.map((k) => (k.met ? "met" : "not met")));
    assert.deepEqual(offsite, []);
    await context.close();
  });
});
