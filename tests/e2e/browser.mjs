// Helpers for the end-to-end specs: Debian's Chromium driven by playwright-core (no browser
// download), a page that records console errors, and file drops built inside the page.
import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const BASE_URL = process.env.BASE_URL ?? 'http://127.0.0.1:8080/';
export const FIXTURES = new URL('./fixtures/', import.meta.url);

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-dev-shm-usage'];

/** A fresh browser profile; close it with `context.close()`. */
export async function launch() {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'servesim-e2e-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ARGS,
    viewport: { width: 1280, height: 900 },
  });
  const close = context.close.bind(context);
  context.close = async () => { await close(); fs.rmSync(userDataDir, { recursive: true, force: true }); };
  return context;
}

/** Opens `BASE_URL + suffix` in a new tab; `errors` collects console errors and page errors. */
export async function open(context, suffix = '') {
  const page = await context.newPage();
  const errors = [];
  page.on('console', (message) => { if (message.type() === 'error') errors.push(message.text()); });
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(BASE_URL + suffix);
  return { page, errors };
}

export const byTestId = (id) => `[data-testid="${id}"]`;

/** The text of the element `testid`. */
export const text = (page, testid) => page.textContent(byTestId(testid));

/** The value of the form control `testid`. */
export const value = (page, testid) => page.inputValue(byTestId(testid));

/** Presses Run and waits until the page shows this run's results (no stale banner, Done.). */
export async function run(page) {
  await page.waitForSelector(`${byTestId('run')}:not([disabled])`);
  await page.click(byTestId('run'));
  await page.waitForFunction(
    ([stale, status]) => !document.querySelector(stale) && document.querySelector(status)?.textContent === 'Done.',
    [byTestId('stale'), byTestId('run-status')], { timeout: 60_000 });
}

/** Waits until the element's text equals `expected`. */
export async function waitForText(page, testid, expected, timeout = 20_000) {
  await page.waitForFunction(
    ([selector, text]) => document.querySelector(selector)?.textContent === text,
    [byTestId(testid), expected], { timeout });
}

/** Drops a file with `contents` (a string, or bytes as a Buffer) on the element matching `selector`. */
export async function dropFile(page, selector, name, contents) {
  const bytes = typeof contents === 'string' ? null : Array.from(contents);
  const dataTransfer = await page.evaluateHandle(([fileName, text, data]) => {
    const transfer = new DataTransfer();
    transfer.items.add(new File([data ? new Uint8Array(data) : text], fileName));
    return transfer;
  }, [name, bytes ? null : contents, bytes]);
  await page.dispatchEvent(selector, 'dragover', { dataTransfer });
  await page.dispatchEvent(selector, 'drop', { dataTransfer });
}

export function fixture(name) {
  return fs.readFileSync(new URL(name, FIXTURES), 'utf8');
}

/** Number of canvas pixels that are not white. */
export async function paintedPixels(page, testid) {
  return page.evaluate((selector) => {
    const canvas = document.querySelector(selector);
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let painted = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (data[i + 3] > 0 && !(data[i] === 255 && data[i + 1] === 255 && data[i + 2] === 255)) painted++;
    }
    return painted;
  }, byTestId(testid));
}

/** Sets a text field and commits it as a user would (the change event). */
/** Waits until the canvas `testid` has more than 5,000 painted pixels. */
export async function waitForPainted(page, testid) {
  for (let tries = 0; tries < 100; tries++) {
    if (await paintedPixels(page, testid) > 5_000) return;
    await page.waitForTimeout(100);
  }
}

export async function setField(page, testid, value) {
  await page.fill(byTestId(testid), value);
  await page.dispatchEvent(byTestId(testid), 'change');
}

const SERVESIM_BIN = process.env.SERVESIM_BIN ?? new URL('../../target/release/servesim', import.meta.url).pathname;

/** Runs the native CLI with `args`; returns what it prints. */
export function servesim(args) {
  return execFileSync(SERVESIM_BIN, args, { maxBuffer: 64 << 20 }).toString();
}

/** Calls `use` with the path of a temporary JSON file holding the scenario in `link`; returns its result. */
export function withScenarioFile(link, use) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'servesim-cli-'));
  try {
    const scenarioPath = path.join(dir, 'scenario.json');
    fs.writeFileSync(scenarioPath, servesim(['url', '--decode', link]));
    return use(scenarioPath);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs the native CLI on the scenario in `link` (and `tracePath`, if given); returns its JSON. */
export function servesimRun(link, tracePath) {
  return withScenarioFile(link, (scenarioPath) =>
    JSON.parse(servesim(['run', scenarioPath, '--json', ...(tracePath ? ['--trace', tracePath] : [])])));
}

/** The KPI texts that `servesimRun`'s JSON must reproduce exactly. */
export async function runKpis(page) {
  const text = async (id) => page.textContent(`[data-testid="${id}"]`);
  return {
    digest: await text('kpi-run-digest'),
    ttftP50: await text('kpi-ttft-p50'),
    tpotP95: await text('kpi-tpot-p95'),
    throughput: await text('kpi-throughput'),
    completed: await text('kpi-completed'),
  };
}

/** The same texts, formatted from the CLI's JSON as the page formats them. */
export function cliKpis(json) {
  const thousands = (n) => n.toLocaleString('en-US');
  return {
    digest: json.digest,
    ttftP50: `${json.ttft_ms.p50.toFixed(1)} ms`,
    tpotP95: `${json.tpot_ms.p95.toFixed(1)} ms`,
    throughput: json.throughput.output_tokens_per_s.toFixed(0),
    completed: `${thousands(json.requests.completed)} / ${thousands(json.requests.rejected)}`,
  };
}
