/**
 * The dashboard in a real browser: the embedded demo cluster runs with its workload, Debian's
 * Chromium (headless, through playwright-core) opens `/ui`, and the page must show the demo's
 * nodes and GPUs, a pending pod with its reason, the what-if answer and live updates. A screenshot
 * is saved to test-artifacts/dashboard.png.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { PODS } from '../../src/apiserver/index.js';
import { buildDashboardBundle } from '../../src/dashboard/bundle.js';
import { startDemoCluster } from '../../src/demo/cluster/cluster.js';
import { launchChromium } from '../support/chromium.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const ARTIFACTS = join(root, 'test-artifacts');

interface PodView {
  metadata: { name: string };
  status?: { phase?: string; conditions?: { reason?: string }[] };
}

async function until(what: string, condition: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('the dashboard shows the demo cluster: nodes, GPUs, a pending pod and why, what-if, live updates', { timeout: 180_000 }, async (t) => {
  const bundleDir = mkdtempSync(join(tmpdir(), 'tessera-ui-'));
  t.after(() => rmSync(bundleDir, { recursive: true, force: true }));
  await buildDashboardBundle(bundleDir);
  const cluster = await startDemoCluster({ bundleDir, intervalMs: 100, target: 36, lifetimeSeconds: [600, 600], seed: 11 });
  t.after(() => cluster.close());
  const pods = (): PodView[] => cluster.api.store.list(PODS).items as unknown as PodView[];
  await until('running pods and one that fits nowhere', () =>
    pods().filter((p) => p.status?.phase === 'Running').length >= 15 &&
    pods().some((p) => p.metadata.name.startsWith('huge-') && p.status?.conditions?.some((c) => c.reason === 'Unschedulable')),
  );

  const browser = await launchChromium();
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(error.message));
  const url = (cluster.scheduler.metricsUrl ?? '').replace(/\/metrics$/, '/ui');
  await page.goto(url);
  await page.waitForSelector('body[data-ready="1"]', { timeout: 20_000 });

  const nodes = await page.locator('[data-testid="node"]').evaluateAll((cards) => cards.map((c) => c.getAttribute('data-node')));
  assert.deepEqual(nodes, cluster.nodes.map((n) => n.name).sort());
  assert.equal(await page.locator('[data-testid="gpu"]').count(), 32);
  // The node filter narrows the grid, says when nothing matches, and clearing it shows every node.
  const nodeFilter = page.getByPlaceholder('node name');
  await nodeFilter.fill(nodes[0] ?? '');
  await until('one node card', async () => (await page.locator('[data-testid="node"]').count()) === 1);
  await nodeFilter.fill('no-such-node');
  await page.locator('.empty', { hasText: 'No node matches “no-such-node”.' }).waitFor();
  await nodeFilter.fill('');
  await until('every node card again', async () => (await page.locator('[data-testid="node"]').count()) === nodes.length);
  const reasons = await page.locator('[data-testid="pending-reason"]').allTextContents();
  assert.ok(reasons.some((r) => /CardInsufficientMemory/.test(r)), `a pending pod says why: ${JSON.stringify(reasons)}`);
  await page.locator('[data-testid="whatif-result"]', { hasText: /With sharing, this cluster would hold \d+ more/ }).waitFor({ timeout: 20_000 });
  await page.locator('[data-testid="live-status"]', { hasText: /^\s*live\s*$/ }).waitFor({ timeout: 20_000 });

  // Live: a pod submitted now shows up without a reload.
  cluster.workload?.close();
  cluster.api.store.create(PODS, 'research', {
    metadata: { name: 'late-arrival', namespace: 'research' },
    spec: { schedulerName: 'hami-scheduler', containers: [{ name: 'main', image: 'x', resources: { limits: { 'nvidia.com/gpu': '1', 'nvidia.com/gpumem': '900000' } } }] },
    status: { phase: 'Pending' },
  });
  await page.locator('[data-testid="pending"]', { hasText: 'late-arrival' }).waitFor({ timeout: 20_000 });

  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: false });
  assert.deepEqual(problems, [], 'no errors in the browser console');
});
