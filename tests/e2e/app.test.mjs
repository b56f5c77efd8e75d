// End-to-end specs: the release build in real Chromium, as a user would drive it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { launch, open, byTestId, waitForText, dropFile, fixture, paintedPixels, servesimRun, runKpis, cliKpis } from './browser.mjs';

const SAMPLE_REQUESTS = '12,031'; // rows of the bundled Mooncake conversation trace
const VIDUR_REQUESTS = '8,819';   // rows of fixtures/splitwise_code.csv

let context;
before(async () => { context = await launch(); });
after(async () => { await context?.close(); });

test('the page loads, simulates the bundled sample, draws every chart and logs no errors', async () => {
  const { page, errors } = await open(context);
  await waitForText(page, 'kpi-requests', SAMPLE_REQUESTS);
  await waitForText(page, 'run-status', 'Done.');
  assert.match(await page.textContent(byTestId('workload-current')), /Mooncake/);
  assert.equal(await page.textContent(byTestId('kpi-reuse')), '36.6 %');
  assert.equal(await page.textContent(byTestId('kpi-completed')), `${SAMPLE_REQUESTS} / 0`);
  for (const chart of ['ttft-cdf', 'tpot-cdf', 'e2e-cdf', 'throughput', 'queue', 'kv-cache', 'prefix-cache', 'arrivals', 'lengths']) {
    assert.ok(await paintedPixels(page, `chart-${chart}`) > 5_000, `chart ${chart} is drawn`);
  }
  assert.match(page.url(), /#s=1\./, 'the URL carries the scenario');
  assert.deepEqual(errors, []);
  await page.close();
});

test('the page shows exactly the numbers servesim run --json gives for the same scenario', async () => {
  const { page } = await open(context);
  await waitForText(page, 'run-status', 'Done.');
  const page_kpis = await runKpis(page);
  assert.deepEqual(page_kpis, cliKpis(servesimRun(page.url())));
  await page.close();
});

test('a Vidur trace dropped anywhere on the page runs and becomes the workload', async () => {
  const { page, errors } = await open(context);
  await waitForText(page, 'run-status', 'Done.');
  await dropFile(page, 'h1', 'splitwise_code.csv', fixture('splitwise_code.csv'));
  await waitForText(page, 'kpi-requests', VIDUR_REQUESTS);
  await waitForText(page, 'run-status', 'Done.');
  assert.equal(await page.textContent(byTestId('workload-current')), `File: splitwise_code.csv (${VIDUR_REQUESTS} requests)`);
  assert.equal(await page.textContent(byTestId('kpi-prompt-tokens')), '18,059,974');
  assert.equal(await page.textContent(byTestId('kpi-completed')), `${VIDUR_REQUESTS} / 0`);
  const tracePath = fileURLToPath(new URL('./fixtures/splitwise_code.csv', import.meta.url));
  assert.deepEqual(await runKpis(page), cliKpis(servesimRun(page.url(), tracePath)));
  assert.deepEqual(errors, []);
  await page.close();
});

test('a trace picked with the file input runs too', async () => {
  const { page, errors } = await open(context);
  await waitForText(page, 'run-status', 'Done.');
  await page.setInputFiles(byTestId('file-input'), {
    name: 'three.csv', mimeType: 'text/csv',
    buffer: Buffer.from('arrived_at,num_prefill_tokens,num_decode_tokens\n0.0,100,10\n1.0,200,20\n2.0,300,30\n'),
  });
  await waitForText(page, 'kpi-requests', '3');
  await waitForText(page, 'run-status', 'Done.');
  assert.equal(await page.textContent(byTestId('kpi-output-tokens')), '60');
  assert.equal(await page.textContent(byTestId('kpi-completed')), '3 / 0');
  assert.deepEqual(errors, []);
  await page.close();
});

test('a generated Poisson workload runs, is editable, and matches the CLI', async () => {
  const { page, errors } = await open(context);
  await waitForText(page, 'run-status', 'Done.');
  await page.click(byTestId('use-generator'));
  await waitForText(page, 'kpi-requests', '1,000');
  await waitForText(page, 'run-status', 'Done.');
  assert.match(await page.textContent(byTestId('workload-current')), /^Generated: 1,000 requests in 1 class \(seed 42\)/);
  assert.equal(await page.inputValue(byTestId('class-0-arrivals')), 'poisson 4');
  await page.fill(byTestId('class-0-output'), 'uniform 10 20');
  await page.dispatchEvent(byTestId('class-0-output'), 'change');
  await page.fill(byTestId('class-0-requests'), '300');
  await page.dispatchEvent(byTestId('class-0-requests'), 'change');
  await page.click(byTestId('run'));
  await waitForText(page, 'kpi-requests', '300');
  await waitForText(page, 'run-status', 'Done.');
  assert.deepEqual(await runKpis(page), cliKpis(servesimRun(page.url())));
  await page.fill(byTestId('class-0-prompt'), 'gaussian 3');
  await page.dispatchEvent(byTestId('class-0-prompt'), 'change');
  assert.match(await page.textContent(byTestId('generator')),
    /Prompt lengths \(per turn\): enter fixed N, uniform MIN MAX, lognormal MEDIAN SIGMA MAX, or zipf EXPONENT MIN MAX/);
  assert.deepEqual(errors, []);
  await page.close();
});

test('Cancel stops a running job, keeps the previous results, and the next run works', async () => {
  const { page, errors } = await open(context);
  await waitForText(page, 'run-status', 'Done.');
  await dropFile(page, 'body', 'splitwise_code.csv', fixture('splitwise_code.csv'));
  await waitForText(page, 'kpi-requests', VIDUR_REQUESTS);
  // Start the sample job and cancel it within the same task: the page re-renders in
  // microtasks, while a worker reply is a separate task and so cannot arrive in between.
  const cancelledInTime = await page.evaluate(async ([useSample, cancel]) => {
    const samples = document.querySelector(useSample);
    samples.value = 'mooncake-conversation';
    samples.dispatchEvent(new Event('change', { bubbles: true }));
    const button = document.querySelector(cancel);
    for (let i = 0; i < 1_000 && button.disabled; i++) await Promise.resolve();
    if (button.disabled) return false;
    button.click();
    return true;
  }, [byTestId('sample-select'), byTestId('cancel')]);
  assert.ok(cancelledInTime, 'Cancel became clickable while the job was running');
  await waitForText(page, 'run-status', 'Cancelled.');
  await page.waitForTimeout(1_500);
  assert.equal(await page.textContent(byTestId('run-status')), 'Cancelled.');
  assert.equal(await page.textContent(byTestId('kpi-requests')), VIDUR_REQUESTS, 'the cancelled job never reports');
  assert.equal(await page.isDisabled(byTestId('cancel')), true);
  // The replacement worker runs the next job.
  await page.click(byTestId('run'));
  await waitForText(page, 'kpi-requests', SAMPLE_REQUESTS);
  assert.deepEqual(errors, []);
  await page.close();
});

test('starting a new run while one is running abandons the old one', async () => {
  const { page, errors } = await open(context);
  await waitForText(page, 'run-status', 'Done.');
  await dropFile(page, 'body', 'splitwise_code.csv', fixture('splitwise_code.csv'));
  await waitForText(page, 'kpi-requests', VIDUR_REQUESTS);
  await waitForText(page, 'run-status', 'Done.');
  // The sample starts; the generator replaces it before the sample can report.
  await page.evaluate(([useSample, useGenerator]) => {
    const samples = document.querySelector(useSample);
    samples.value = 'mooncake-conversation';
    samples.dispatchEvent(new Event('change', { bubbles: true }));
    document.querySelector(useGenerator).click();
  }, [byTestId('sample-select'), byTestId('use-generator')]);
  await waitForText(page, 'kpi-requests', '1,000');
  await waitForText(page, 'run-status', 'Done.');
  await page.waitForTimeout(1_000);
  assert.equal(await page.textContent(byTestId('kpi-requests')), '1,000', 'the abandoned sample run never reports');
  assert.equal(await page.$(byTestId('stale')), null);
  assert.deepEqual(errors, []);
  await page.close();
});

test('a shared link reopens the same scenario, with the same numbers, in a fresh browser', async () => {
  const { page } = await open(context);
  await waitForText(page, 'run-status', 'Done.');
  await page.fill(byTestId('replicas'), '4');
  await page.dispatchEvent(byTestId('replicas'), 'change');
  await page.selectOption(byTestId('router'), 'least_outstanding');
  await page.selectOption(byTestId('model'), 'llama-3.1-70b');
  await page.selectOption(byTestId('tp'), '4');
  await page.fill(byTestId('seed'), '7');
  await page.dispatchEvent(byTestId('seed'), 'change');
  await page.waitForSelector(byTestId('stale'));
  await page.click(byTestId('run'));
  await waitForText(page, 'run-status', 'Done.');
  assert.equal(await page.$(byTestId('stale')), null, 'fresh results');
  const shared = await runKpis(page);
  await page.click(byTestId('share'));
  const link = await page.inputValue(byTestId('share-link'));
  assert.match(link, /#s=1\./);
  await page.close();

  const fresh = await launch();
  try {
    const { page: reopened, errors } = await open(fresh, link.slice(link.indexOf('#')));
    await waitForText(reopened, 'kpi-requests', SAMPLE_REQUESTS);
    await waitForText(reopened, 'run-status', 'Done.');
    assert.equal(await reopened.inputValue(byTestId('replicas')), '4');
    assert.equal(await reopened.inputValue(byTestId('router')), 'least_outstanding');
    assert.equal(await reopened.inputValue(byTestId('model')), 'llama-3.1-70b');
    assert.equal(await reopened.inputValue(byTestId('tp')), '4');
    assert.equal(await reopened.inputValue(byTestId('seed')), '7');
    assert.equal(reopened.url(), link, 'the reopened page keeps the same link');
    assert.deepEqual(await runKpis(reopened), shared, 'the same numbers as the page that shared it');
    assert.deepEqual(errors, []);
  } finally {
    await fresh.close();
  }
});

test('a garbage file shows an error naming the line, and the page keeps working', async () => {
  const { page } = await open(context);
  await waitForText(page, 'run-status', 'Done.');
  const scenarioBefore = page.url();
  await dropFile(page, 'body', 'photo.png', '\u0089PNG\r\n\u001a\n\u0000\u0000\u0000\rIHDR garbage');
  await page.waitForSelector(byTestId('error'));
  assert.match(await page.textContent(byTestId('error')), /^photo\.png: line 1: unrecognised trace format/);
  assert.equal(page.url(), scenarioBefore, 'the scenario is kept');
  assert.match(await page.textContent(byTestId('workload-current')), /Mooncake/);
  assert.equal(await page.textContent(byTestId('kpi-requests')), SAMPLE_REQUESTS);

  await dropFile(page, 'body', 'splitwise_code.csv', fixture('splitwise_code.csv'));
  await waitForText(page, 'kpi-requests', VIDUR_REQUESTS);
  assert.equal(await page.$(byTestId('error')), null, 'the error clears on success');
  await page.close();
});

test('a truncated link explains itself and the default scenario still runs', async () => {
  const { page: original } = await open(context);
  await waitForText(original, 'run-status', 'Done.');
  const link = original.url();
  await original.close();
  const truncated = link.slice(link.indexOf('#'), link.length - 20);
  const { page, errors } = await open(context, truncated);
  await page.waitForSelector(byTestId('link-error'));
  assert.match(await page.textContent(byTestId('link-error')), /truncated or damaged/);
  await waitForText(page, 'kpi-requests', SAMPLE_REQUESTS);
  assert.deepEqual(errors, []);
  await page.close();
});
