// The run's cost in the page: no price gives no cost; a price per GPU-hour gives the cost per
// million output tokens and the energy at board power exactly as `servesim run --json` computes
// them for the page's own share link; a bad price is named by its field and nothing else breaks.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, open, byTestId, run, text, waitForText, setField, servesimRun } from './browser.mjs';

let context;
before(async () => { context = await launch(); });
after(async () => { await context?.close(); });

test('a price per GPU-hour gives the cost per million output tokens and the energy, as the CLI computes them', async () => {
  const { page } = await open(context);
  await run(page);
  assert.equal(await text(page, 'kpi-cost-per-million'), 'set a price');

  await setField(page, 'cost-usd-per-gpu-hour', '2.5');
  await run(page);
  const cli = servesimRun(page.url());
  const cost = cli.cost;
  // $2.5 for every GPU-hour of the run (8 H100s from the first arrival to the last event).
  assert.ok(Math.abs(cost.usd - 2.5 * cli.gpu_hours) < 1e-9, `${cost.usd} vs ${cli.gpu_hours}`);
  assert.equal(await text(page, 'kpi-cost-per-million'), `$ ${cost.usd_per_million_output_tokens.toFixed(2)}`);
  assert.equal(await text(page, 'kpi-energy'),
    `${cost.energy_kwh.toFixed(2)} kWh · ${cost.output_tokens_per_joule.toFixed(2)} tok/J`);
  // Eight H100s at 700 W for the run's hours.
  assert.ok(Math.abs(cost.energy_kwh - 8 * 0.7 * cli.gpu_hours / 8) < 1e-9);

  await setField(page, 'cost-usd-per-gpu-hour', '-1');
  await waitForText(page, 'validation', 'cost.usd_per_gpu_hour: must be above 0 and at most 10,000, got -1');
  await setField(page, 'cost-usd-per-gpu-hour', '');
  assert.equal(await page.$(byTestId('validation')), null, 'an empty price is no price');
  await run(page);
  assert.equal(await text(page, 'kpi-cost-per-million'), 'set a price');
});
