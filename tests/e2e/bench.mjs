// Browser timings for `cargo xtask bench` (not a test file: `node --test` does not pick it up).
// In headless Chromium against the release build it measures
//   - first results: from navigation to the reference replay's results on the page, in a fresh
//     browser profile (median of LOADS), and
//   - a Run: from clicking Run to the results of the same replay again (median of RUNS),
// and checks that the page shows the golden digest, so a faster page cannot be a different one.
// Prints one JSON line.
import { launch, open, byTestId } from './browser.mjs';
import fs from 'node:fs';

const RUNS = Number(process.env.RUNS ?? 7);
const LOADS = Number(process.env.LOADS ?? 3);
const golden = JSON.parse(fs.readFileSync(new URL('../../crates/core/tests/golden/reference-replay.json', import.meta.url)));

// Records, inside the page, when the run digest first shows, and when the status turns "Done."
// after the "Running…" of the Run being timed.
const WATCH = `
  window.__bench = { digestAt: null, doneAt: [] };
  new MutationObserver(() => {
    const digest = document.querySelector('[data-testid="kpi-run-digest"]')?.textContent ?? '';
    if (window.__bench.digestAt === null && /^[0-9a-f]{16}$/.test(digest)) window.__bench.digestAt = performance.now();
    const status = document.querySelector('[data-testid="run-status"]')?.textContent ?? '';
    const bench = window.__bench;
    if (status.startsWith('Running')) bench.running = bench.runs;
    const done = bench.doneAt;
    if (status === 'Done.' && bench.running === bench.runs && !done.some((d) => d.seen === bench.runs)) {
      done.push({ seen: bench.runs, at: performance.now() });
    }
  }).observe(document, { subtree: true, childList: true, characterData: true });
  window.__bench.runs = 0;
  window.__bench.running = -1;
`;

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** Opens the page in `context` and returns it once the first results show, with when they did. */
async function firstLoad(context, errors) {
  const page = await context.newPage();
  await page.addInitScript(WATCH);
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(process.env.BASE_URL ?? 'http://127.0.0.1:8080/');
  await page.waitForFunction(() => window.__bench.digestAt !== null, null, { timeout: 60_000 });
  const digest = await page.textContent(byTestId('kpi-run-digest'));
  if (digest !== golden.digest) throw new Error(`the page shows digest ${digest}, the golden one is ${golden.digest}`);
  return { page, at: await page.evaluate(() => window.__bench.digestAt) };
}

const errors = [];
// First loads, each in a fresh browser profile (nothing cached), median of LOADS.
const firstLoads = [];
for (let i = 1; i < LOADS; i++) {
  const fresh = await launch();
  try {
    firstLoads.push((await firstLoad(fresh, errors)).at);
  } finally {
    await fresh.close();
  }
}
const context = await launch();
try {
  const { page, at } = await firstLoad(context, errors);
  firstLoads.push(at);
  const firstResultsMs = median(firstLoads);
  const digest = golden.digest;

  const runs = [];
  for (let i = 0; i < RUNS; i++) {
    await page.waitForFunction(() => !document.querySelector('[data-testid="run"]').disabled);
    const started = await page.evaluate(() => {
      window.__bench.runs += 1;
      const at = performance.now();
      document.querySelector('[data-testid="run"]').click();
      return at;
    });
    await page.waitForFunction((n) => window.__bench.doneAt.some((d) => d.seen === n), i + 1, { timeout: 60_000 });
    const doneAt = await page.evaluate((n) => window.__bench.doneAt.find((d) => d.seen === n).at, i + 1);
    runs.push(doneAt - started);
  }
  if ((await page.textContent(byTestId('kpi-run-digest'))) !== golden.digest) throw new Error('a rerun changed the digest');
  if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
  const simulated_s = golden.summary.sim_time_s;
  const runMs = median(runs);
  console.log(JSON.stringify({
    first_results_ms: firstResultsMs,
    first_results_ms_all: firstLoads,
    run_ms_median: runMs,
    run_ms_all: runs,
    sim_s_per_wall_s_in_page: simulated_s / (runMs / 1000),
    digest,
  }));
} finally {
  await context.close();
}
