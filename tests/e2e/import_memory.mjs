// The memory a large trace costs the browser tab, for `cargo xtask bench` (also runnable alone:
// `BASE_URL=… node tests/e2e/import_memory.mjs`). It writes a ~200 MB Azure LLM 2023 CSV,
// opens the page on a scenario that cannot run (so only the import and the trace summary are
// measured, not a simulation of millions of requests), picks the file with the file input, and
// samples the resident memory of every Chromium process every 50 ms until the page reports the
// import. Prints one JSON line: file size, rows, wall time, and the peak resident memory above
// what the browser held before the file was picked. It fails unless the page reports every row.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { launch, open, byTestId } from './browser.mjs';

const TARGET_BYTES = Number(process.env.IMPORT_BYTES ?? 200e6);

/** Writes an Azure 2023 CSV of about `bytes` bytes; returns its path and row count. */
function writeAzureCsv(bytes) {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'servesim-import-')), 'azure-200mb.csv');
  const out = fs.openSync(file, 'w');
  let written = 0;
  let rows = 0;
  let chunk = 'TIMESTAMP,ContextTokens,GeneratedTokens';
  const start = Date.UTC(2023, 10, 16, 18, 0, 0);
  while (written + chunk.length < bytes) {
    const micros = rows * 700 + (rows * 7919) % 500;
    const at = new Date(start + Math.floor(micros / 1000)).toISOString().replace('T', ' ').slice(0, 19);
    const fraction = String((micros % 1_000_000) * 10).padStart(7, '0');
    chunk += `\r\n${at}.${fraction},${1 + (rows * 7) % 7437},${6 + (rows * 13) % 1000}`;
    rows += 1;
    if (chunk.length > 1 << 20) {
      fs.writeSync(out, chunk);
      written += chunk.length;
      chunk = '';
    }
  }
  fs.writeSync(out, chunk);
  fs.closeSync(out);
  return { file, rows };
}

/** Resident memory of all Chromium processes, bytes. */
function chromiumRss() {
  try {
    const text = execFileSync('ps', ['-C', 'chromium', '-o', 'rss='], { encoding: 'utf8' });
    return text.split('\n').filter(Boolean).reduce((sum, kib) => sum + Number(kib) * 1024, 0);
  } catch {
    return 0;
  }
}

const { file, rows } = writeAzureCsv(TARGET_BYTES);
const size = fs.statSync(file).size;
const context = await launch();
try {
  // Llama-3.1-405B on one H100 does not fit: the scenario is refused, the file is still imported.
  const { page } = await open(context);
  await page.waitForSelector(byTestId('kpi-requests'));
  await page.selectOption(byTestId('model'), 'llama-3.1-405b');
  await page.waitForTimeout(3_000);
  const before = chromiumRss();
  let peak = before;
  const sampler = setInterval(() => { peak = Math.max(peak, chromiumRss()); }, 50);
  const started = Date.now();
  await page.setInputFiles(byTestId('file-input'), file);
  const expected = `${rows.toLocaleString('en-US')} rows read, ${rows.toLocaleString('en-US')} requests`;
  await page.waitForFunction((text) => document.querySelector('[data-testid="import-rows"]')?.textContent === text,
    expected, { timeout: 600_000, polling: 200 });
  const wallS = (Date.now() - started) / 1000;
  clearInterval(sampler);
  peak = Math.max(peak, chromiumRss());
  console.log(JSON.stringify({
    import_file_bytes: size,
    import_rows: rows,
    import_wall_s: wallS,
    import_rss_before_mb: before / 1e6,
    import_rss_peak_above_before_mb: (peak - before) / 1e6,
    import_peak_over_file_size: (peak - before) / size,
  }));
} finally {
  await context.close();
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
}
