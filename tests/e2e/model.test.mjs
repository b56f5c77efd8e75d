// End-to-end specs for the Model & hardware panel: the model sheet against `servesim model`, a
// custom model from a dropped config.json (through a run and the share link), and calibration
// from a dropped benchmark against `servesim calibrate`, a step profile, bad files and Clear.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  launch, open, byTestId, waitForText, dropFile, setField, paintedPixels, servesim, withScenarioFile, servesimRun, runKpis, cliKpis,
} from './browser.mjs';

const SAMPLE_REQUESTS = '12,031';

let context;
before(async () => { context = await launch(); });
after(async () => { await context?.close(); });

async function ready(page) {
  await waitForText(page, 'run-status', 'Done.');
}

const text = (page, testid) => page.textContent(byTestId(testid));

/** `8030261248` → `8.03 B`, as the page abbreviates counts. */
function abbreviated(count) {
  for (const [scale, suffix] of [[1e12, 'T'], [1e9, 'B'], [1e6, 'M'], [1e3, 'K']]) {
    if (count >= scale) return `${(count / scale).toFixed(2)} ${suffix}`;
  }
  return String(count);
}

/** `131072` → `128 KiB`, as the page writes small sizes. */
function binarySize(bytes) {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let unit = 0;
  while (bytes >= 1024 && unit + 1 < units.length) { bytes /= 1024; unit++; }
  return `${bytes.toFixed(1).replace(/\.0$/, '')} ${units[unit]}`;
}

const SHEET_VALUES = ['params-total', 'params-active', 'weight-bytes-per-gpu', 'kv-bytes-per-token',
  'kv-capacity-tokens', 'prefill-ms', 'decode-step-ms', 'fits'];

/** The sheet's values as the page shows them. */
async function sheetTexts(page) {
  const texts = {};
  for (const value of SHEET_VALUES) texts[value] = await text(page, `sheet-${value}`);
  return texts;
}

/** The same values from `servesim model ARGS --json`, formatted as the page formats them. */
function cliSheet(args) {
  const sheet = JSON.parse(servesim(['model', ...args, '--json']));
  const ms = (value) => (value === null ? '–' : `${value.toFixed(2)} ms`);
  return {
    'params-total': abbreviated(sheet.params_total),
    'params-active': abbreviated(sheet.params_active),
    'weight-bytes-per-gpu': `${(sheet.weight_bytes_per_gpu / 1e9).toFixed(1)} GB`,
    'kv-bytes-per-token': binarySize(sheet.kv_bytes_per_token),
    'kv-capacity-tokens': sheet.fits ? `${sheet.kv_capacity_tokens.toLocaleString('en-US')} tokens` : '–',
    'prefill-ms': ms(sheet.prefill_ms),
    'decode-step-ms': ms(sheet.decode_step_ms),
    fits: sheet.fits ? 'yes' : 'no',
  };
}

/** The scenario in a share link, as JSON. */
const decodeLink = (link) => JSON.parse(servesim(['url', '--decode', link]));

/** Writes `contents` to a temporary file named `name`; returns its path. */
function tempFile(name, contents) {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'servesim-e2e-model-')), name);
  fs.writeFileSync(file, contents);
  return file;
}

test('the model sheet shows what servesim model shows, follows the model, GPU and TP, and names an invalid combination', async () => {
  const { page, errors } = await open(context);
  // Llama 3.1 8B: 8,030,261,248 parameters, 32 layers × 8 KV heads × 128 × 2 (K, V) × 2 bytes per token.
  await waitForText(page, 'sheet-params-total', '8.03 B');
  assert.equal(await text(page, 'sheet-kv-bytes-per-token'), '128 KiB');
  assert.deepEqual(await sheetTexts(page), cliSheet(['llama-3.1-8b']));
  assert.ok(await paintedPixels(page, 'chart-roofline') > 5_000, 'the roofline is drawn');

  await page.selectOption(byTestId('model'), 'llama-3.1-70b');
  await waitForText(page, 'sheet-params-total', '70.55 B');
  assert.equal(await text(page, 'sheet-fits'), 'no');
  assert.match(await text(page, 'sheet-why'), /does not fit/);
  assert.deepEqual(await sheetTexts(page), cliSheet(['llama-3.1-70b']));
  await page.selectOption(byTestId('tp'), '4');
  await waitForText(page, 'sheet-fits', 'yes');
  assert.deepEqual(await sheetTexts(page), cliSheet(['llama-3.1-70b', '--tp', '4']));
  await page.selectOption(byTestId('gpu'), 'b200');
  await waitForText(page, 'sheet-decode-step-ms', cliSheet(['llama-3.1-70b', '--tp', '4', '--gpu', 'b200'])['decode-step-ms']);
  assert.deepEqual(await sheetTexts(page), cliSheet(['llama-3.1-70b', '--tp', '4', '--gpu', 'b200']));

  // FP4 weights need Blackwell: on an H100 the sheet says why, and the page goes on working.
  await page.selectOption(byTestId('gpu'), 'h100-sxm');
  await page.selectOption(byTestId('weights'), 'fp4');
  await page.waitForSelector(byTestId('model-sheet-error'));
  assert.match(await text(page, 'model-sheet-error'), /^model\.weights: NVIDIA H100 SXM has no FP4 tensor cores/);
  assert.match(await text(page, 'validation'), /model\.weights: NVIDIA H100 SXM has no FP4 tensor cores/);
  assert.equal(await page.isDisabled(byTestId('run')), true);
  await page.selectOption(byTestId('weights'), '');
  await waitForText(page, 'sheet-fits', 'yes');
  assert.deepEqual(await sheetTexts(page), cliSheet(['llama-3.1-70b', '--tp', '4']));

  // The sheet's shape is the page's own: it changes the step times, not the scenario.
  const link = page.url();
  const shape = ['--isl', '4096', '--batch', '8', '--context', '16384'];
  await setField(page, 'sheet-isl', '4096');
  await setField(page, 'sheet-batch', '8');
  await setField(page, 'sheet-context', '16384');
  await waitForText(page, 'sheet-decode-step-ms', cliSheet(['llama-3.1-70b', '--tp', '4', ...shape])['decode-step-ms']);
  assert.deepEqual(await sheetTexts(page), cliSheet(['llama-3.1-70b', '--tp', '4', ...shape]));
  assert.equal(page.url(), link);
  assert.deepEqual(errors, []);
  await page.close();
});

/** A small Mistral-style dense model: GQA, untied embeddings, no sliding window. */
const CUSTOM_CONFIG = {
  architectures: ['MistralForCausalLM'], model_type: 'mistral', hidden_size: 2048, intermediate_size: 5632,
  num_hidden_layers: 16, num_attention_heads: 16, num_key_value_heads: 4, vocab_size: 32000,
  max_position_embeddings: 32768, tie_word_embeddings: false, rms_norm_eps: 1e-5, rope_theta: 1e6,
  sliding_window: null, torch_dtype: 'bfloat16',
};

/** Its parameters by hand: embedding + untied head + layers × (attention + 3·h·I + 2h) + final norm h. */
function denseParams(config) {
  const h = config.hidden_size;
  const headDim = h / config.num_attention_heads;
  const q = h * config.num_attention_heads * headDim;
  const kv = 2 * h * config.num_key_value_heads * headDim;
  const o = config.num_attention_heads * headDim * h;
  const layer = q + kv + o + 3 * h * config.intermediate_size + 2 * h;
  return 2 * config.vocab_size * h + config.num_hidden_layers * layer + h;
}

test('a dropped config.json becomes the model, runs, and travels in the share link; a bad one changes nothing', async () => {
  const { page, errors } = await open(context);
  await ready(page);
  const workload = await text(page, 'workload-current');
  const link = page.url();

  await dropFile(page, byTestId('model-config-drop'), 'config.json', JSON.stringify({ model_type: 'mistral', hidden_size: 2048 }));
  await page.waitForSelector(byTestId('model-config-error'));
  assert.match(await text(page, 'model-config-error'), /^config\.json: .*missing field/);
  assert.equal(page.url(), link, 'the scenario is unchanged');

  const params = denseParams(CUSTOM_CONFIG);
  assert.equal(params, 852_559_872);
  await dropFile(page, byTestId('model-config-drop'), 'config.json', JSON.stringify(CUSTOM_CONFIG));
  await waitForText(page, 'sheet-params-total', abbreviated(params));
  assert.equal(await page.isVisible(byTestId('model-config-error')), false);
  assert.equal(await page.inputValue(byTestId('model')), 'custom');
  assert.equal(await page.$eval(byTestId('model'), (select) => select.selectedOptions[0].textContent), 'custom mistral');
  assert.equal(await text(page, 'workload-current'), workload, 'a config dropped on its zone is not taken for a trace');
  const custom = decodeLink(page.url()).model;
  assert.equal(custom.preset, null);
  assert.deepEqual(custom.config, CUSTOM_CONFIG);

  await page.click(byTestId('run'));
  await waitForText(page, 'kpi-requests', SAMPLE_REQUESTS);
  await ready(page);
  assert.deepEqual(await runKpis(page), cliKpis(servesimRun(page.url())));

  const reopened = (await open(context, `#${page.url().split('#')[1]}`)).page;
  await waitForText(reopened, 'sheet-params-total', abbreviated(params));
  assert.equal(await reopened.inputValue(byTestId('model')), 'custom');
  await ready(reopened);
  assert.deepEqual(await runKpis(reopened), await runKpis(page));
  await reopened.close();
  assert.deepEqual(errors, []);
  await page.close();
});

// Three runs on the reference deployment (Llama 3.1 8B on an H100) whose TPOT is about 1.3 ×
// and throughput 1 / 1.3 × what the uncalibrated model predicts (TTFT about 1.05 ×): a fit must
// slow the memory-bound decode.
const BENCHMARK = 'isl,osl,concurrency,ttft_ms,tpot_ms,throughput,num_prompts\n'
  + '512,64,1,11.8,9.9,100.4,8\n'
  + '1024,128,8,165,10.4,672,32\n'
  + '2048,64,32,337,35.0,816,64\n';

test('a dropped benchmark is fitted in the worker as servesim calibrate fits it, and the calibration travels in the link', async () => {
  const { page, errors } = await open(context);
  await ready(page);
  const workload = await text(page, 'workload-current');
  const uncalibrated = page.url();
  const decodeStep = await text(page, 'sheet-decode-step-ms');

  await dropFile(page, byTestId('benchmark-drop'), 'bench.csv', BENCHMARK);
  await page.waitForSelector(byTestId('calibration-fit'), { timeout: 60_000 });
  const percent = async (testid) => Number((await text(page, testid)).replace(' %', ''));
  const [errorBefore, errorAfter] = [await percent('calibration-error-before'), await percent('calibration-error-after')];
  assert.ok(errorAfter < errorBefore / 2, `error ${errorBefore} % → ${errorAfter} %`);
  assert.equal(await page.locator(`${byTestId('calibration-fit')} tbody`).count(), 3);

  const fit = withScenarioFile(uncalibrated,
    (scenario) => JSON.parse(servesim(['calibrate', scenario, tempFile('bench.csv', BENCHMARK), '--json'])));
  assert.equal(await text(page, 'calibration-error-before'), `${fit.error_before_pct.toFixed(1)} %`);
  assert.equal(await text(page, 'calibration-error-after'), `${fit.error_after_pct.toFixed(1)} %`);
  const { compute, memory, overhead } = fit.factors;
  assert.ok(memory < 0.9 || overhead > 1.1, `the fit slows decode: ${JSON.stringify(fit.factors)}`);
  assert.equal(await text(page, 'calibration-factors'),
    `compute × ${compute.toFixed(3)}, memory × ${memory.toFixed(3)}, overhead × ${overhead.toFixed(3)}`);
  const calibration = decodeLink(page.url()).calibration;
  assert.deepEqual(calibration, { source: 'bench.csv', compute, memory, overhead, profile: null });
  assert.notEqual(await text(page, 'sheet-decode-step-ms'), decodeStep, 'the sheet applies the calibration');

  // A malformed benchmark names its line and leaves the scenario as it was.
  const calibrated = page.url();
  await dropFile(page, byTestId('benchmark-drop'), 'bad.csv', 'isl,osl,concurrency,ttft_ms\n512,64,4,11\n512,64,x8,20\n');
  await page.waitForSelector(byTestId('calibration-error'));
  assert.match(await text(page, 'calibration-error'), /^bad\.csv: line 3: /);
  assert.equal(page.url(), calibrated);

  // A measured step profile joins the fitted factors.
  await page.setInputFiles(byTestId('profile-input'), {
    name: 'steps.csv', mimeType: 'text/csv',
    buffer: Buffer.from('new_tokens,context_tokens,step_ms\n1,1000,8.1\n1,5000,9.0\n32,64000,12.5\n512,0,30\n'),
  });
  await page.waitForFunction((selector) => document.querySelector(selector)?.textContent.includes('4 steps'),
    byTestId('calibration-current'));
  assert.equal(await page.isVisible(byTestId('calibration-error')), false);
  const profiled = decodeLink(page.url()).calibration;
  assert.equal(profiled.profile.points.length, 4);
  assert.equal(profiled.memory, memory);

  await page.click(byTestId('calibration-clear'));
  await page.waitForSelector(byTestId('calibration-current'), { state: 'detached' });
  assert.equal(await page.isVisible(byTestId('calibration-fit')), false);
  assert.equal(decodeLink(page.url()).calibration, null);
  assert.equal(page.url(), uncalibrated);
  assert.equal(await text(page, 'workload-current'), workload, 'files dropped on the calibration zones are not traces');
  assert.deepEqual(errors, []);
  await page.close();
});
