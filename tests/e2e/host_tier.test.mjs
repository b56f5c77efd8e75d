// End-to-end specs for the host KV tier and swap preemption: with little GPU memory and a host
// tier, the page shows the prefix hits of each tier exactly as servesim run --json reports them
// and draws the host tier's lines in the KV and prefix-hit charts; swap without a host tier is
// named by its field and blocks Run until a host size is set.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, open, byTestId, run, text, value, waitForText, setField, servesimRun, runKpis, cliKpis } from './browser.mjs';

let context;
before(async () => { context = await launch(); });
after(async () => { await context?.close(); });

/** Pixels of the canvas `testid` in the second series colour, #E69F00 (the host tier's line and swatch). */
async function secondSeriesPixels(page, testid) {
  return page.evaluate((selector) => {
    const canvas = document.querySelector(selector);
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let count = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (data[i] > 200 && data[i + 1] > 130 && data[i + 1] < 190 && data[i + 2] < 70) count++;
    }
    return count;
  }, byTestId(testid));
}

/** Waits until the canvas `testid` shows more than 200 pixels of the host tier's colour. */
async function waitForHostLine(page, testid) {
  for (let tries = 0; tries < 100; tries++) {
    if (await secondSeriesPixels(page, testid) > 200) return;
    await page.waitForTimeout(100);
  }
}

const percent = (rate) => `${(rate * 100).toFixed(1)} %`;

test('a host KV tier serves evicted prefixes: per-tier hits as the CLI reports them, and host lines in the charts', async () => {
  const { page, errors } = await open(context);
  await waitForText(page, 'run-status', 'Done.');
  assert.equal(await text(page, 'kpi-host-hit-rate'), 'off', 'no host tier by default');
  assert.equal(await value(page, 'host-kv-cache-gb'), '0');
  assert.equal(await value(page, 'preemption'), 'recompute');
  for (const chart of ['chart-kv-cache', 'chart-prefix-cache']) {
    assert.equal(await secondSeriesPixels(page, chart), 0, `${chart}: one line (the GPU's) without a host tier`);
  }

  // 35 % of an H100 for Llama-3.1-8B: the GPUs evict many of the Mooncake sample's prefixes,
  // and 64 GB of host memory per replica keeps them.
  await setField(page, 'max-model-len', '65536');
  await setField(page, 'gpu-memory-utilization', '0.35');
  await setField(page, 'host-kv-cache-gb', '64');
  assert.equal(await page.$(byTestId('validation')), null);
  await run(page);
  const cli = servesimRun(page.url());
  assert.ok(cli.host_kv.loaded_blocks > 0, 'blocks are loaded back from the host tier');
  const { hit_rate: total, host_hit_rate: host } = cli.prefix_cache;
  assert.ok(host > 0 && host < total, `${host} of ${total}`);
  const tiers = await text(page, 'kpi-host-hit-rate');
  assert.match(tiers, /^\d+\.\d % host · \d+\.\d % GPU$/);
  assert.equal(tiers, `${percent(host)} host · ${percent(total - host)} GPU`);
  assert.equal(await text(page, 'kpi-prefix-hit-rate'), percent(total), 'the total is both tiers');
  assert.deepEqual(await runKpis(page), cliKpis(cli));
  for (const chart of ['chart-kv-cache', 'chart-prefix-cache']) {
    await waitForHostLine(page, chart);
    assert.ok(await secondSeriesPixels(page, chart) > 200, `${chart}: the host tier's line is drawn`);
  }
  assert.deepEqual(errors, []);
  await page.close();
});

test('swap preemption needs a host tier: the page names engine.preemption and holds Run until one is set', async () => {
  const { page, errors } = await open(context);
  await waitForText(page, 'run-status', 'Done.');
  await page.selectOption(byTestId('preemption'), 'swap');
  await page.waitForSelector(byTestId('validation'));
  assert.match(await text(page, 'validation'), /engine\.preemption: .*host_kv_cache_gb/);
  assert.equal(await page.isDisabled(byTestId('run')), true);
  // Text that is not a number is refused next to the field and not applied.
  await setField(page, 'host-kv-cache-gb', 'lots');
  assert.match(await text(page, 'engine-fields'), /Host KV tier \(GB per replica; 0: none\): enter a number/);
  assert.equal(await page.isDisabled(byTestId('run')), true);

  await setField(page, 'max-model-len', '65536');
  await setField(page, 'gpu-memory-utilization', '0.35');
  await setField(page, 'host-kv-cache-gb', '32');
  await page.waitForSelector(byTestId('validation'), { state: 'detached' });
  await run(page);
  assert.match(await text(page, 'kpi-host-hit-rate'), /^\d+\.\d % host · \d+\.\d % GPU$/);
  const cli = servesimRun(page.url());
  assert.ok(cli.preemptions > 0, 'the run preempts');
  assert.ok(cli.host_kv.swapped_out_blocks > 0, 'and swaps to the host');
  assert.deepEqual(await runKpis(page), cliKpis(cli));

  // The share link carries both fields.
  const { page: reopened } = await open(context, new URL(page.url()).hash);
  await waitForText(reopened, 'run-status', 'Done.');
  assert.equal(await value(reopened, 'preemption'), 'swap');
  assert.equal(await value(reopened, 'host-kv-cache-gb'), '32');
  await reopened.close();
  assert.deepEqual(errors, []);
  await page.close();
});
