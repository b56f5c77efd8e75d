// End-to-end specs for workloads: every trace format through the page (Azure CSV, gzip, a
// mapped custom CSV, bad rows), bundled samples, generators with classes and sessions, and
// transforms — each checked against the native CLI on the same scenario and file.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { launch, open, byTestId, waitForText, dropFile, fixture, setField, servesimRun, runKpis, cliKpis } from './browser.mjs';

const SAMPLES = fileURLToPath(new URL('../../web/samples/', import.meta.url));
const AZURE_CODE = path.join(SAMPLES, 'azure-code-2023.csv');

let context;
before(async () => { context = await launch(); });
after(async () => { await context?.close(); });

/** Writes `contents` to a temporary file for the CLI; returns its path. */
function tempFile(name, contents) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'servesim-e2e-trace-'));
  const file = path.join(dir, name);
  fs.writeFileSync(file, contents);
  return file;
}

async function ready(page) {
  await waitForText(page, 'run-status', 'Done.');
}

test('an Azure LLM 2023 CSV dropped on the page is detected, reported, and matches the CLI', async () => {
  const { page, errors } = await open(context);
  await ready(page);
  await dropFile(page, 'body', 'AzureLLMInferenceTrace_code.csv', fs.readFileSync(AZURE_CODE, 'utf8'));
  await waitForText(page, 'kpi-requests', '8,819');
  await ready(page);
  assert.equal(await page.textContent(byTestId('import-format')), 'Azure LLM 2023 CSV');
  assert.equal(await page.textContent(byTestId('import-rows')), '8,819 rows read, 8,819 requests');
  assert.match(await page.textContent(byTestId('import-columns')), /arrival ← TIMESTAMP \(datetime\)/);
  assert.equal(await page.textContent(byTestId('explorer-format')), 'Azure LLM 2023 CSV');
  // Burstiness of the coding trace: the CV of its gaps, as `servesim inspect` computes it.
  assert.equal(await page.textContent(byTestId('explorer-cv')), '13.15');
  assert.equal(await page.textContent(byTestId('kpi-span')), '57.3 min');
  assert.deepEqual(await runKpis(page), cliKpis(servesimRun(page.url(), AZURE_CODE)));

  // Doubling the rate halves the span; the CLI agrees on the transformed scenario.
  await setField(page, 'transform-rate-scale', '2');
  await page.click(byTestId('run'));
  await waitForText(page, 'kpi-span', '28.6 min');
  await ready(page);
  assert.equal(await page.textContent(byTestId('kpi-rate')), '5.13 req/s');
  assert.deepEqual(await runKpis(page), cliKpis(servesimRun(page.url(), AZURE_CODE)));
  assert.deepEqual(errors, []);
  await page.close();
});

test('a gzipped trace imports like the plain file', async () => {
  const { page, errors } = await open(context);
  await ready(page);
  const plain = fixture('splitwise_code.csv');
  const gzipped = zlib.gzipSync(Buffer.from(plain));
  await dropFile(page, 'body', 'splitwise_code.csv.gz', gzipped);
  await waitForText(page, 'kpi-requests', '8,819');
  await ready(page);
  assert.match(await page.textContent(byTestId('import-report')), /^Vidur CSV \(gzip\)/);
  assert.equal(await page.textContent(byTestId('workload-current')), 'File: splitwise_code.csv.gz (8,819 requests)');
  const gzPath = tempFile('splitwise_code.csv.gz', gzipped);
  assert.deepEqual(await runKpis(page), cliKpis(servesimRun(page.url(), gzPath)));
  assert.deepEqual(errors, []);
  await page.close();
});

test('a custom CSV is mapped in the page after it fails to import, and keeps its mapping in the link', async () => {
  const { page, errors } = await open(context);
  await ready(page);
  const before = page.url();
  let csv = 'sent_ms,tenant,in_tok,out_tok\n';
  for (let i = 0; i < 400; i++) csv += `${i * 250},${i % 3 === 0 ? 'batch' : 'chat'},${500 + (i * 37) % 3000},${20 + (i * 13) % 300}\n`;
  await dropFile(page, 'body', 'my-log.csv', csv);
  await page.waitForSelector(byTestId('import-failure'));
  assert.match(await page.textContent(byTestId('import-failure')), /my-log\.csv was not imported: my-log\.csv: line 1: unrecognised trace format/);
  assert.equal(page.url(), before, 'the scenario is kept');
  assert.match(await page.textContent(byTestId('workload-current')), /Mooncake/, 'and so is the workload');

  await page.click(byTestId('import-map-columns'));
  await page.fill(byTestId('map-prompt'), 'in_tok');
  await page.fill(byTestId('map-output'), 'out_tok');
  await page.fill(byTestId('map-arrival'), 'sent_ms');
  await page.selectOption(byTestId('map-arrival-unit'), 'ms');
  await page.fill(byTestId('map-class'), 'tenant');
  await page.click(byTestId('map-apply'));
  await waitForText(page, 'kpi-requests', '400');
  await ready(page);
  assert.equal(await page.$(byTestId('import-failure')), null);
  assert.equal(await page.textContent(byTestId('import-format')), 'mapped CSV');
  assert.equal(await page.textContent(byTestId('explorer-classes')), 'batch 134, chat 266');
  assert.equal(await page.textContent(byTestId('kpi-span')), '99.8 s');
  // The link carries the mapping: the CLI reads the same file with it.
  assert.deepEqual(await runKpis(page), cliKpis(servesimRun(page.url(), tempFile('my-log.csv', csv))));
  assert.deepEqual(errors, []);
  await page.close();
});

test('bad rows stop an import with their line and column, and can be skipped', async () => {
  const { page, errors } = await open(context);
  await ready(page);
  const csv = 'arrived_at,num_prefill_tokens,num_decode_tokens\n0,100,10\n0.5,lots,10\n1,300,30\n1.5,400,0\n2,500,50\n';
  await dropFile(page, 'body', 'dirty.csv', csv);
  await page.waitForSelector(byTestId('import-failure'));
  assert.match(await page.textContent(byTestId('import-failure')),
    /line 3, column 2: num_prefill_tokens: "lots" is not a whole number/);
  await page.click(byTestId('import-skip-bad-rows'));
  await waitForText(page, 'kpi-requests', '3');
  await ready(page);
  assert.equal(await page.textContent(byTestId('import-skipped')), ', 2 bad rows skipped');
  const examples = await page.$$eval(byTestId('import-skipped-example'), (items) => items.map((item) => item.textContent));
  assert.deepEqual(examples, [
    'line 3, column 2: num_prefill_tokens: "lots" is not a whole number',
    'line 5, column 3: num_decode_tokens: must be ≥ 1, got 0',
  ]);
  assert.deepEqual(await runKpis(page), cliKpis(servesimRun(page.url(), tempFile('dirty.csv', csv))));
  assert.deepEqual(errors, []);
  await page.close();
});

test('a length-only sample gets an arrival process and can be resampled', async () => {
  const { page, errors } = await open(context);
  await ready(page);
  await page.selectOption(byTestId('sample-select'), 'sharegpt-lengths');
  await waitForText(page, 'kpi-requests', '30,731', 60_000);
  await ready(page);
  assert.equal(await page.inputValue(byTestId('traffic-arrivals')), 'poisson 5');
  await setField(page, 'traffic-arrivals', 'gamma 8 2');
  await setField(page, 'traffic-num-requests', '2000');
  await page.click(byTestId('run'));
  await waitForText(page, 'kpi-requests', '2,000');
  await ready(page);
  assert.equal(await page.textContent(byTestId('explorer-format')), 'length-only');
  assert.deepEqual(await runKpis(page), cliKpis(servesimRun(page.url())));
  assert.deepEqual(errors, []);
  await page.close();
});

test('a generator with two tenants, multi-turn sessions and a closed loop runs and matches the CLI', async () => {
  const { page, errors } = await open(context);
  await ready(page);
  await page.click(byTestId('use-generator'));
  await ready(page);
  await setField(page, 'class-0-requests', '400');
  await setField(page, 'class-0-arrivals', 'gamma 3 2');
  await setField(page, 'class-0-turns', 'fixed 4');
  await setField(page, 'class-0-think', '2');
  await setField(page, 'class-0-system', '512');
  await page.click(byTestId('add-class'));
  await setField(page, 'class-1-name', 'benchmark');
  await setField(page, 'class-1-arrivals', 'closed_loop 8 0');
  await setField(page, 'class-1-requests', '200');
  await page.click(byTestId('run'));
  await waitForText(page, 'kpi-requests', '600');
  await ready(page);
  assert.equal(await page.textContent(byTestId('explorer-classes')), 'class-1 400, benchmark 200');
  assert.equal(await page.textContent(byTestId('explorer-sessions')), '300 sessions, 2.00 turns each on average (max 4)');
  assert.equal(await page.textContent(byTestId('explorer-chained')), '492');
  assert.deepEqual(await runKpis(page), cliKpis(servesimRun(page.url())));
  assert.deepEqual(errors, []);
  await page.close();
});
