// End-to-end specs for the KV cache and the run's limits: prefix-cache hits in the page equal
// servesim run --json's, the toggle turns caching off, vLLM's start-up checks show inline, and a
// run that spends its event budget says so.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, open, byTestId, waitForText, paintedPixels, servesimRun, runKpis, cliKpis } from './browser.mjs';

let context;
before(async () => { context = await launch(); });
after(async () => { await context?.close(); });

const percent = (rate) => `${(rate * 100).toFixed(1)} %`;

async function setField(page, testid, value) {
  await page.fill(byTestId(testid), value);
  await page.dispatchEvent(byTestId(testid), 'change');
}

test('prefix-cache hits show as a KPI, a chart and per replica, exactly as the CLI reports them', async () => {
  const { page, errors } = await open(context);
  await waitForText(page, 'run-status', 'Done.');
  const cli = servesimRun(page.url());
  assert.ok(cli.prefix_cache.hit_rate > 0, 'the Mooncake sample has shared prefixes');
  assert.equal(await page.textContent(byTestId('kpi-prefix-hit-rate')), percent(cli.prefix_cache.hit_rate));
  assert.equal(cli.prefix_cache.per_replica_hit_rate.length, 8);
  for (const [replica, rate] of cli.prefix_cache.per_replica_hit_rate.entries()) {
    assert.equal(await page.textContent(byTestId(`replica-hit-rate-${replica}`)), percent(rate));
  }
  assert.ok(await paintedPixels(page, 'chart-prefix-cache') > 5_000, 'the hit-rate chart is drawn');
  assert.deepEqual(errors, []);
  await page.close();
});

test('turning prefix caching off reruns without hits and matches the CLI', async () => {
  const { page, errors } = await open(context);
  await waitForText(page, 'run-status', 'Done.');
  const withCaching = await runKpis(page);
  await page.click(byTestId('prefix-caching'));
  await page.waitForSelector(byTestId('stale'));
  await page.click(byTestId('run'));
  await waitForText(page, 'kpi-prefix-hit-rate', 'off');
  await waitForText(page, 'run-status', 'Done.');
  const cli = servesimRun(page.url());
  assert.equal(cli.prefix_cache.enabled, false);
  assert.equal(cli.prefix_cache.hit_rate, 0);
  const withoutCaching = await runKpis(page);
  assert.deepEqual(withoutCaching, cliKpis(cli));
  assert.notEqual(withoutCaching.digest, withCaching.digest, 'caching changes the run');
  assert.equal(await page.$(byTestId('replica-hit-rates')), null, 'no per-replica hits without caching');
  assert.deepEqual(errors, []);
  await page.close();
});

test('a max_model_len the KV cache cannot hold is refused inline, and a smaller one runs', async () => {
  const { page, errors } = await open(context);
  await waitForText(page, 'run-status', 'Done.');
  await setField(page, 'gpu-memory-utilization', '0.3');
  await page.waitForSelector(byTestId('validation'));
  assert.match(await page.textContent(byTestId('validation')),
    /engine\.max_model_len: one request of max_model_len \(131072 tokens\) needs 8192 KV blocks, but a replica holds \d+/);
  assert.equal(await page.isDisabled(byTestId('run')), true);
  await setField(page, 'max-model-len', '32768');
  await page.waitForFunction((selector) => !document.querySelector(selector), byTestId('validation'));
  await page.click(byTestId('run'));
  await waitForText(page, 'run-status', 'Done.');
  assert.deepEqual(await runKpis(page), cliKpis(servesimRun(page.url())));
  assert.deepEqual(errors, []);
  await page.close();
});

test('a run that spends its event budget stops, says so and counts what it did not finish', async () => {
  const { page, errors } = await open(context);
  await waitForText(page, 'run-status', 'Done.');
  await setField(page, 'max-events', '20000');
  await page.click(byTestId('run'));
  await page.waitForSelector(byTestId('stopped-early'));
  await waitForText(page, 'run-status', 'Done.');
  assert.match(await page.textContent(byTestId('stopped-early')), /limits\.max_events/);
  const cli = servesimRun(page.url());
  assert.ok(cli.requests.unfinished > 0);
  assert.equal(await page.textContent(byTestId('kpi-truncated')), `0 / ${cli.requests.unfinished.toLocaleString('en-US')}`);
  assert.deepEqual(await runKpis(page), cliKpis(cli));
  assert.deepEqual(errors, []);
  await page.close();
});
