// End-to-end specs for the engine section: an engine preset fills the engine fields,
// speculative decoding runs with a measured speed-up and an acceptance-length chart, a bad
// acceptance is named by its field while the page goes on working, and priority scheduling
// with a queue timeout runs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, open, byTestId, run, text, value, waitForText, setField, paintedPixels, waitForPainted } from './browser.mjs';

let context;
before(async () => { context = await launch(); });
after(async () => { await context?.close(); });

test('an engine preset fills the engine fields, and speculative decoding shows its speed-up and acceptance chart', async () => {
  const { page, errors } = await open(context);
  await waitForText(page, 'run-status', 'Done.');
  assert.equal(await text(page, 'kpi-spec-speedup'), 'off');
  assert.equal(await text(page, 'kpi-acceptance-length'), 'off');
  assert.equal(await page.$(byTestId('chart-acceptance')), null, 'no acceptance chart without speculation');
  assert.equal(await page.$(byTestId('spec-k')), null, 'k is asked for once a method is chosen');

  // SGLang on one H100: a token per KV block, 2048 sequences, its chunk of 8192 tokens, its
  // memory fraction and its overlap scheduler.
  assert.equal(await value(page, 'block-size'), '16');
  assert.equal(await value(page, 'max-num-seqs'), '256');
  const utilization = await value(page, 'gpu-memory-utilization');
  await page.selectOption(byTestId('engine-preset'), 'sglang');
  await page.waitForFunction((selector) => document.querySelector(selector)?.value === '1', byTestId('block-size'));
  assert.equal(await value(page, 'max-num-seqs'), '2048');
  assert.equal(await value(page, 'max-num-batched-tokens'), '8192');
  assert.notEqual(await value(page, 'gpu-memory-utilization'), utilization);
  assert.equal(await page.isChecked(byTestId('async-scheduling')), true);
  assert.equal(await value(page, 'engine-preset'), 'sglang');
  // TensorRT-LLM: 32-token blocks, no chunked prefill.
  await page.selectOption(byTestId('engine-preset'), 'trtllm');
  await page.waitForFunction((selector) => document.querySelector(selector)?.value === '32', byTestId('block-size'));
  assert.equal(await page.isChecked(byTestId('chunked-prefill')), false);
  // …and its GUARANTEED_NO_EVICT admission: KV reserved for the whole output.
  assert.equal(await page.isChecked(byTestId('reserve-kv-for-output')), true);
  await page.selectOption(byTestId('engine-preset'), 'sglang');
  await page.waitForFunction((selector) => document.querySelector(selector)?.value === '1', byTestId('block-size'));
  assert.equal(await page.isChecked(byTestId('chunked-prefill')), true);
  assert.equal(await page.isChecked(byTestId('reserve-kv-for-output')), false);

  // EAGLE with k = 3 and α = 0.8, 0.6, 0.4: 0.32 + 2 × 0.288 + 3 × 0.192 = 1.472 draft tokens
  // expected per step, 2.47 tokens per verification.
  await page.selectOption(byTestId('spec-method'), 'eagle');
  await page.waitForSelector(byTestId('spec-k'));
  assert.equal(await value(page, 'spec-k'), '3');
  assert.equal(await value(page, 'spec-acceptance'), '0.8, 0.6, 0.4');
  await setField(page, 'spec-k', '3');
  await setField(page, 'spec-acceptance', '0.8,0.6,0.4');
  await run(page);
  const speedup = await text(page, 'kpi-spec-speedup');
  assert.match(speedup, /^\d+\.\d\d× \(accept \d\.\d\d\/step\)$/, speedup);
  assert.ok(Number(speedup.split('×')[0]) > 0, speedup);
  assert.match(await text(page, 'kpi-acceptance-length'), /^\d\.\d\d \(expected 2\.47\)$/);
  await page.waitForSelector(byTestId('chart-acceptance'));
  await waitForPainted(page, 'chart-acceptance');
  assert.ok(await paintedPixels(page, 'chart-acceptance') > 5_000, 'the acceptance chart is drawn');

  // An α above 1 (and one too few) is named by its field; Run waits, and the page goes on working.
  await setField(page, 'spec-acceptance', '0.8,1.5');
  await page.waitForSelector(byTestId('validation'));
  const problems = await text(page, 'validation');
  assert.match(problems, /engine\.speculative\.acceptance: each αᵢ must be in \[0, 1\], got 1\.5/);
  assert.match(problems, /engine\.speculative\.acceptance: needs num_draft_tokens \(3\) values, got 2/);
  assert.equal(await page.isDisabled(byTestId('run')), true);
  // Text that is not numbers is refused next to the field and not applied.
  await setField(page, 'spec-acceptance', '0.8, lots');
  assert.match(await text(page, 'speculative-fields'), /Acceptance α₁…α_k \(comma-separated\): enter comma-separated numbers/);
  // An empty field takes the default acceptance for k.
  await setField(page, 'spec-acceptance', '');
  await page.waitForSelector(byTestId('validation'), { state: 'detached' });
  assert.equal(await value(page, 'spec-acceptance'), '0.8, 0.6, 0.4');
  await run(page);
  assert.match(await text(page, 'kpi-spec-speedup'), /×/);

  // Priority scheduling with a queue timeout runs; speculation off removes the chart.
  await page.selectOption(byTestId('spec-method'), 'none');
  await page.selectOption(byTestId('scheduling'), 'priority');
  await setField(page, 'class-priorities', 'chat=0, batch=5');
  await setField(page, 'priority-ageing', '5');
  await setField(page, 'max-queue-time', '30');
  assert.equal(await page.$(byTestId('validation')), null);
  await run(page);
  assert.equal(await text(page, 'kpi-spec-speedup'), 'off');
  assert.equal(await page.$(byTestId('chart-acceptance')), null);
  assert.match(await text(page, 'kpi-completed'), /^[\d,]+ \/ [\d,]+$/);
  assert.equal(await value(page, 'class-priorities'), 'batch=5, chat=0');
  assert.equal(await value(page, 'max-queue-time'), '30');
  assert.equal(await value(page, 'scheduling'), 'priority');

  // The share link carries it all.
  const { page: reopened } = await open(context, new URL(page.url()).hash);
  await waitForText(reopened, 'run-status', 'Done.');
  assert.equal(await value(reopened, 'engine-preset'), 'sglang');
  assert.equal(await value(reopened, 'scheduling'), 'priority');
  assert.equal(await value(reopened, 'max-queue-time'), '30');
  assert.equal(await value(reopened, 'block-size'), '1');
  await reopened.close();
  assert.deepEqual(errors, []);
  await page.close();
});
