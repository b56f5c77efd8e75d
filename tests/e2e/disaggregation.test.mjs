// End-to-end specs for prefill/decode disaggregation and the routers: a disaggregated
// deployment edited in the page runs with its P/D charts, stage table and transfer cards (as
// servesim run --json reports them); a bad pool or transfer field is named by its path while the
// page goes on working; the bundled examples show where disaggregation wins and where it loses;
// the router comparison runs every router; a disaggregated share link reopens the same
// deployment.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, open, byTestId, run, text, value, waitForText, setField, paintedPixels, servesim, servesimRun, runKpis, cliKpis, waitForPainted } from './browser.mjs';

const ROUTERS = ['round_robin', 'random', 'least_outstanding', 'power_of_two', 'least_kv', 'kv_aware', 'session_affinity'];
const PD_CHARTS = ['chart-pool-queues', 'chart-pool-kv', 'chart-kv-links'];

let context;
before(async () => { context = await launch(); });
after(async () => { await context?.close(); });

/** Waits until the page shows the finished results of a run other than the one with digest `previous`. */
async function waitForNewResults(page, previous) {
  await page.waitForFunction(
    ([stale, status, digest, previous]) => !document.querySelector(stale)
      && document.querySelector(status)?.textContent === 'Done.'
      && document.querySelector(digest)?.textContent !== previous,
    [byTestId('stale'), byTestId('run-status'), byTestId('kpi-run-digest'), previous], { timeout: 60_000 });
}

/** The number in a KPI text such as `25.3 ms` or `12.1 %`. */
const number = (text) => Number.parseFloat(text.replaceAll(',', ''));

const ms = (value) => `${value.toFixed(1)} ms`;

test('a disaggregated deployment runs with its P/D charts, stage table and transfer cards, as the CLI reports them', async () => {
  const { page, errors } = await open(context);
  await waitForText(page, 'run-status', 'Done.');
  // Aggregated: no KV wait or transfer stage, no P/D view, no P/D charts, no pool fields.
  assert.equal(await value(page, 'deployment-mode'), 'aggregated');
  assert.match(await text(page, 'stage-prefill-mean'), /^\d+\.\d ms$/);
  assert.equal(await text(page, 'stage-transfer-mean'), '–');
  assert.equal(await text(page, 'stage-kv-wait-p95'), '–');
  assert.equal(await page.$(byTestId('pd-view')), null);
  for (const chart of PD_CHARTS) assert.equal(await page.$(byTestId(chart)), null, chart);
  assert.equal(await page.$(byTestId('prefill-replicas')), null);
  assert.equal(await page.$(byTestId('decode-router')), null, 'a decode router only for two pools');

  // The eight replicas split four and four, with the pool's parallelism.
  await page.selectOption(byTestId('deployment-mode'), 'disaggregated');
  await page.waitForSelector(byTestId('prefill-replicas'));
  assert.equal(await value(page, 'prefill-replicas'), '4');
  assert.equal(await value(page, 'decode-replicas'), '4');
  assert.equal(await value(page, 'decode-tp'), '1');
  assert.equal(await value(page, 'prefill-gpu'), '', 'same as hardware');
  assert.equal(await page.$(byTestId('replicas')), null, 'the aggregated fields make way for the pools');
  assert.equal(await value(page, 'transfer-latency-us'), '100');
  assert.equal(await value(page, 'transfer-nic-gb-s'), '', "empty: the GPU's NIC");

  await setField(page, 'prefill-replicas', '3');
  await setField(page, 'decode-replicas', '5');
  await page.selectOption(byTestId('decode-tp'), '2');
  await page.selectOption(byTestId('decode-router'), 'least_kv');
  await setField(page, 'transfer-latency-us', '200');
  assert.equal(await page.$(byTestId('validation')), null);
  await run(page);

  const cli = servesimRun(page.url());
  const transfers = cli.kv_transfer;
  assert.ok(transfers.num_transfers > 0, 'KV moves between the pools');
  assert.equal(await text(page, 'kpi-transfers'),
    `${transfers.num_transfers.toLocaleString('en-US')} / ${transfers.num_local_prefills.toLocaleString('en-US')}`);
  assert.equal(await text(page, 'kpi-transfer-p95'), ms(transfers.time_ms.p95));
  assert.equal(await text(page, 'kpi-kv-wait-p95'), ms(transfers.wait_ms.p95));
  assert.equal(await text(page, 'kpi-transfer-bytes'), `${(transfers.bytes.mean / 1e6).toFixed(1)} MB`);
  assert.equal(await text(page, 'kpi-link-utilization'), `${(transfers.link_utilization * 100).toFixed(1)} %`);
  assert.ok(number(await text(page, 'kpi-transfer-bytes')) > 0);
  // Every stage has a number now, and the transfer row is the CLI's.
  for (const stage of ['queue', 'prefill', 'kv-wait', 'transfer', 'decode']) {
    assert.match(await text(page, `stage-${stage}-mean`), /^\d+\.\d ms$/, stage);
  }
  assert.equal(await text(page, 'stage-transfer-mean'), ms(cli.stages.transfer_ms.mean));
  assert.equal(await text(page, 'stage-transfer-p95'), ms(cli.stages.transfer_ms.p95));
  assert.equal(await text(page, 'stage-decode-p95'), ms(cli.stages.decode_ms.p95));
  assert.equal(await text(page, 'pool-prefill-replicas'), '3');
  assert.equal(await text(page, 'pool-decode-replicas'), '5');
  assert.deepEqual(await runKpis(page), cliKpis(cli));
  for (const chart of PD_CHARTS) {
    await page.waitForSelector(byTestId(chart));
    await waitForPainted(page, chart);
    assert.ok(await paintedPixels(page, chart) > 5_000, `${chart} is drawn`);
  }

  // Back to aggregated: one pool of all eight replicas with the prefill pool's parallelism.
  await page.selectOption(byTestId('deployment-mode'), 'aggregated');
  await page.waitForSelector(byTestId('replicas'));
  assert.equal(await value(page, 'replicas'), '8');
  assert.equal(await value(page, 'tp'), '1');
  assert.equal(await page.$(byTestId('validation')), null, 'the decode router went with the decode pool');
  await run(page);
  assert.equal(await page.$(byTestId('pd-view')), null);
  assert.equal(await text(page, 'stage-transfer-mean'), '–');
  assert.deepEqual(errors, []);
  await page.close();
});

test('a bad pool or transfer field is named by its deployment.disaggregated path, and the page keeps working', async () => {
  const { page, errors } = await open(context);
  await waitForText(page, 'run-status', 'Done.');
  const before = await runKpis(page);
  await page.selectOption(byTestId('deployment-mode'), 'disaggregated');
  await setField(page, 'transfer-latency-us', '-1');
  await page.waitForSelector(byTestId('validation'));
  assert.match(await text(page, 'validation'),
    /deployment\.disaggregated\.transfer\.latency_us: must be from 0 to 10,000,000 µs, got -1/);
  await setField(page, 'decode-replicas', '0');
  await page.waitForFunction((selector) => /decode\.replicas/.test(document.querySelector(selector)?.textContent),
    byTestId('validation'));
  assert.match(await text(page, 'validation'), /deployment\.disaggregated\.decode\.replicas: must be ≥ 1, got 0/);
  assert.equal(await page.isDisabled(byTestId('run')), true);
  assert.equal(await page.isDisabled(byTestId('compare-routers')), true);
  // Text that is not a number is refused next to its field and not applied.
  await setField(page, 'transfer-nic-gb-s', 'fast');
  assert.match(await text(page, 'transfer'), /NIC GB\/s \(empty: the GPU's\): enter GB\/s, or nothing for the GPU's NIC/);
  assert.equal(await text(page, 'kpi-run-digest'), before.digest, 'the last results stay');

  // The rest of the page works on: other fields, then the fixes, then a run.
  await setField(page, 'seed', '7');
  await setField(page, 'transfer-latency-us', '50');
  await setField(page, 'decode-replicas', '2');
  await setField(page, 'transfer-nic-gb-s', '25');
  await page.waitForSelector(byTestId('validation'), { state: 'detached' });
  await run(page);
  assert.match(await text(page, 'kpi-transfers'), /^[1-9][\d,]* \/ 0$/);
  assert.deepEqual(await runKpis(page), cliKpis(servesimRun(page.url())));
  assert.deepEqual(errors, []);
  await page.close();
});

test('the examples open and run, share their exact scenario, and show where disaggregation wins and loses', async () => {
  const { page, errors } = await open(context);
  await waitForText(page, 'run-status', 'Done.');
  const results = {};
  for (const id of ['pd-chat-aggregated', 'pd-chat-disaggregated', 'pd-long-prompt-aggregated', 'pd-long-prompt-disaggregated']) {
    const previous = await text(page, 'kpi-run-digest');
    await page.click(byTestId(`example-${id}`));
    await waitForNewResults(page, previous);
    assert.equal(await value(page, 'model'), 'llama-3.1-70b', id);
    assert.equal(await value(page, 'deployment-mode'), id.endsWith('-disaggregated') ? 'disaggregated' : 'aggregated', id);
    // The page ran exactly the example file, and its link holds exactly that scenario.
    const kpis = await runKpis(page);
    const file = new URL(`../../examples/${id}.json`, import.meta.url).pathname;
    assert.deepEqual(kpis, cliKpis(JSON.parse(servesim(['run', file, '--json']))), id);
    assert.deepEqual(kpis, cliKpis(servesimRun(page.url())), id);
    results[id] = {
      url: page.url(),
      kpis,
      ttftP95: number(await text(page, 'kpi-ttft-p95')),
      tpotP95: number(await text(page, 'kpi-tpot-p95')),
      tpotP99: number(await text(page, 'kpi-tpot-p99')),
      e2eP50: number(await text(page, 'kpi-e2e-p50')),
    };
  }
  // Chat: decode replicas without prefills in their steps give a lower TPOT.
  const [chatAgg, chatDis] = [results['pd-chat-aggregated'], results['pd-chat-disaggregated']];
  assert.ok(chatDis.tpotP99 < chatAgg.tpotP99, `TPOT p99 ${chatDis.tpotP99} vs ${chatAgg.tpotP99}`);
  assert.ok(chatDis.tpotP95 < chatAgg.tpotP95, `TPOT p95 ${chatDis.tpotP95} vs ${chatAgg.tpotP95}`);
  // One long prompt at a time: one TP8 replica prefills it faster than a TP4 prefill pool.
  const [longAgg, longDis] = [results['pd-long-prompt-aggregated'], results['pd-long-prompt-disaggregated']];
  assert.ok(longAgg.ttftP95 < longDis.ttftP95, `TTFT p95 ${longAgg.ttftP95} vs ${longDis.ttftP95}`);
  assert.ok(longAgg.e2eP50 < longDis.e2eP50, `E2E p50 ${longAgg.e2eP50} vs ${longDis.e2eP50}`);

  // The example's link reruns it exactly in another tab.
  const { page: reopened } = await open(context, new URL(chatDis.url).hash);
  await waitForText(reopened, 'run-status', 'Done.');
  assert.deepEqual(await runKpis(reopened), chatDis.kpis);
  assert.equal(await value(reopened, 'decode-tp'), '4');
  await reopened.close();
  assert.deepEqual(errors, []);
  await page.close();
});

test('compare routers runs the scenario once per router; KV-aware routing hits the prefix cache more than round robin', async () => {
  const { page, errors } = await open(context);
  await waitForText(page, 'run-status', 'Done.');
  assert.equal(await value(page, 'replicas'), '8', 'the reference replay');
  assert.equal(await value(page, 'router'), 'round_robin');
  const before = await runKpis(page);
  await page.click(byTestId('compare-routers'));
  await page.waitForSelector(byTestId('router-comparison'), { timeout: 60_000 });
  await waitForText(page, 'run-status', 'Done.');
  const rows = await page.$$eval(`${byTestId('router-comparison')} tbody tr`, (trs) => trs.map((tr) => tr.dataset.testid));
  assert.deepEqual(rows, ROUTERS.map((kind) => `router-row-${kind}`));
  for (const kind of ROUTERS) {
    assert.match(await text(page, `router-hit-rate-${kind}`), /^\d+\.\d %$/, kind);
    assert.match(await text(page, `router-ttft-p95-${kind}`), /^\d+\.\d ms$/, kind);
    assert.match(await text(page, `router-tpot-p95-${kind}`), /^\d+\.\d ms$/, kind);
  }
  const hits = async (kind) => number(await text(page, `router-hit-rate-${kind}`));
  assert.ok(await hits('kv_aware') > await hits('round_robin'),
    `kv_aware ${await hits('kv_aware')} % vs round_robin ${await hits('round_robin')} %`);
  // Deterministic: the round-robin row is the page's own run of this scenario.
  assert.equal(await text(page, 'router-ttft-p95-round_robin'), await text(page, 'kpi-ttft-p95'));
  assert.equal(await text(page, 'router-tpot-p95-round_robin'), before.tpotP95);
  assert.equal(await text(page, 'kpi-prefix-hit-rate'), await text(page, 'router-hit-rate-round_robin'));
  assert.deepEqual(await runKpis(page), before, 'the run results stay');
  assert.match(await page.getAttribute(byTestId('router-row-round_robin'), 'class'), /current/);

  // Choosing another router keeps the comparison current; another seed does not.
  await page.selectOption(byTestId('router'), 'kv_aware');
  await page.waitForSelector(byTestId('kv-overlap-weight'));
  assert.equal(await page.$(byTestId('router-comparison-stale')), null);
  await setField(page, 'seed', '7');
  await page.waitForSelector(byTestId('router-comparison-stale'));

  // A comparison can be cancelled like a run; the last table stays.
  const cancelledInTime = await page.evaluate(async ([compare, cancel]) => {
    document.querySelector(compare).click();
    const button = document.querySelector(cancel);
    for (let i = 0; i < 1_000 && button.disabled; i++) await Promise.resolve();
    if (button.disabled) return false;
    button.click();
    return true;
  }, [byTestId('compare-routers'), byTestId('cancel')]);
  assert.ok(cancelledInTime, 'Cancel became clickable while the comparison was running');
  await waitForText(page, 'run-status', 'Cancelled.');
  assert.ok(await page.$(byTestId('router-comparison-stale')), 'the old table is still there, marked stale');
  assert.deepEqual(errors, []);
  await page.close();
});

test('a share link of a disaggregated scenario reopens with the same deployment and the same numbers', async () => {
  const { page } = await open(context);
  await waitForText(page, 'run-status', 'Done.');
  await page.selectOption(byTestId('deployment-mode'), 'disaggregated');
  await setField(page, 'prefill-replicas', '2');
  await setField(page, 'decode-replicas', '6');
  await page.selectOption(byTestId('prefill-gpu'), 'h200');
  await page.selectOption(byTestId('decode-tp'), '2');
  await page.selectOption(byTestId('transfer-nics'), 'per_node');
  await setField(page, 'transfer-nic-gb-s', '25');
  await setField(page, 'transfer-nic-efficiency', '0.8');
  await setField(page, 'transfer-nvlink-domain', '4');
  await setField(page, 'conditional-threshold', '512');
  await page.selectOption(byTestId('router'), 'kv_aware');
  await page.selectOption(byTestId('decode-router'), 'least_kv');
  await setField(page, 'signal-delay-ms', '20');
  await setField(page, 'kv-overlap-weight', '2');
  await setField(page, 'router-temperature', '0.5');
  assert.equal(await page.$(byTestId('validation')), null);
  await run(page);
  const shared = { ...(await runKpis(page)), transfers: await text(page, 'kpi-transfers') };
  assert.match(shared.transfers, /^[\d,]+ \/ [1-9][\d,]*$/, 'short prompts are prefilled on their decode replica');
  await page.click(byTestId('share'));
  const link = await page.inputValue(byTestId('share-link'));
  await page.close();

  const fresh = await launch();
  try {
    const { page: reopened, errors } = await open(fresh, link.slice(link.indexOf('#')));
    await waitForText(reopened, 'run-status', 'Done.');
    const expected = {
      'deployment-mode': 'disaggregated', 'prefill-replicas': '2', 'decode-replicas': '6', 'prefill-gpu': 'h200',
      'decode-gpu': '', 'prefill-tp': '1', 'decode-tp': '2', 'transfer-nics': 'per_node', 'transfer-nic-gb-s': '25',
      'transfer-nic-efficiency': '0.8', 'transfer-nvlink-domain': '4', 'transfer-latency-us': '100',
      'conditional-threshold': '512', router: 'kv_aware', 'decode-router': 'least_kv', 'signal-delay-ms': '20',
      'kv-overlap-weight': '2', 'router-temperature': '0.5',
    };
    for (const [testid, want] of Object.entries(expected)) assert.equal(await value(reopened, testid), want, testid);
    assert.equal(await text(reopened, 'pool-prefill-gpu'), 'NVIDIA H200');
    assert.deepEqual({ ...(await runKpis(reopened)), transfers: await text(reopened, 'kpi-transfers') }, shared);
    assert.equal(reopened.url(), link, 'the reopened page keeps the same link');
    assert.deepEqual(errors, []);
  } finally {
    await fresh.close();
  }
});
