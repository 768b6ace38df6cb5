/**
 * The README's dashboard screenshot: runs the demo cluster for a while (so the chart has a history),
 * opens the dashboard in headless Chromium and saves the first screen.
 *
 *   npx tsx scripts/dashboard-screenshot.ts [seconds=150] [out=docs/images/dashboard.png]
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { buildDashboardBundle } from '../src/dashboard/bundle.js';
import { startDemoCluster } from '../src/demo/cluster/cluster.js';
import { launchChromium } from '../test/support/chromium.js';

const seconds = Number(process.argv[2] ?? 150);
const out = process.argv[3] ?? 'docs/images/dashboard.png';
if (!Number.isFinite(seconds) || seconds < 0) throw new Error(`seconds: ${String(process.argv[2])} is not a number of seconds`);

const bundleDir = mkdtempSync(join(tmpdir(), 'tessera-ui-'));
await buildDashboardBundle(bundleDir);
const cluster = await startDemoCluster({ bundleDir, seed: 3 });
try {
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await page.goto((cluster.scheduler.metricsUrl ?? '').replace(/\/metrics$/, '/ui'));
    await page.waitForSelector('body[data-ready="1"]');
    await page.locator('[data-testid="whatif-result"]', { hasText: /With sharing/ }).waitFor();
    mkdirSync(dirname(out), { recursive: true });
    await page.screenshot({ path: out });
    process.stdout.write(`wrote ${out}\n`);
  } finally {
    await browser.close();
  }
} finally {
  await cluster.close();
  rmSync(bundleDir, { recursive: true, force: true });
}
