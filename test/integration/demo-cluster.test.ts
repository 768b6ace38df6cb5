/**
 * The embedded demo cluster behind `npm start`: pods from the workload generator are admitted,
 * scheduled by the extender, allocated by the node agents through the kubelet stand-ins and run;
 * a pod that fits nowhere stays pending with the extender's reasons; kubectl can list everything;
 * the command prints where to reach it and stops cleanly.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { NODES, PODS } from '../../src/apiserver/index.js';
import { POD_BIND_PHASE } from '../../src/core/annotations.js';
import type { DashboardView } from '../../src/dashboard/view.js';
import { startDemoCluster } from '../../src/demo/cluster/cluster.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

interface PodView {
  metadata: { name: string; annotations?: Record<string, string> };
  spec: { nodeName?: string };
  status?: { phase?: string; conditions?: { type: string; reason?: string; message?: string }[] };
}

async function until(what: string, condition: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('pods run on shared GPUs, one that fits nowhere waits with reasons, kubectl lists them, and it all stops cleanly', async () => {
  const cluster = await startDemoCluster({ intervalMs: 100, target: 40, lifetimeSeconds: [120, 120], seed: 7 });
  try {
    const pods = (): PodView[] => cluster.api.store.list(PODS).items as unknown as PodView[];
    await until('20 running pods', () => pods().filter((p) => p.status?.phase === 'Running').length >= 20);
    const running = pods().filter((p) => p.status?.phase === 'Running');
    for (const pod of running) {
      assert.ok(pod.spec.nodeName !== undefined);
      assert.equal(pod.metadata.annotations?.[POD_BIND_PHASE], 'success', `${pod.metadata.name} was allocated by the node agent`);
    }
    const sharedNodes = new Set(running.map((p) => p.spec.nodeName));
    assert.ok(sharedNodes.size >= 2, 'the pods spread over several nodes');
    for (const node of cluster.nodes) {
      const stored = cluster.api.store.get(NODES, '', node.name) as { status: { allocatable: Record<string, string> } };
      assert.equal(stored.status.allocatable['nvidia.com/gpu'], String(node.gpus * 10), `${node.name} advertises split-count slots`);
    }
    // Usage flows from the mock GPUs through each node's monitor to the scheduler's dashboard.
    const dashboardUrl = (cluster.scheduler.metricsUrl ?? '').replace(/\/metrics$/, '/api/v1/dashboard');
    let view: DashboardView | undefined;
    const poll = async (): Promise<boolean> => {
      view = (await (await fetch(dashboardUrl)).json()) as DashboardView;
      return view.nodes.every((n) => n.usageProblem === null) && (view.totals.memoryUsedMiB ?? 0) > 0;
    };
    const end = Date.now() + 30_000;
    while (!(await poll()) && Date.now() < end) await new Promise((r) => setTimeout(r, 250));
    assert.ok(view !== undefined && (view.totals.memoryUsedMiB ?? 0) > 0, `the dashboard shows memory in use: ${JSON.stringify(view?.totals)}`);
    assert.ok((view.totals.memoryUsedMiB ?? 0) <= view.totals.memoryAllocatedMiB, 'the demo pods use less than they hold');
    assert.deepEqual(view.nodes.map((n) => n.name), cluster.nodes.map((n) => n.name).sort());

    // The generator's "huge" pods ask for more memory than any GPU has.
    await until('a pod that fits nowhere', () => pods().some((p) => p.metadata.name.startsWith('huge-') && p.status?.conditions?.some((c) => c.reason === 'Unschedulable')), 60_000);
    const huge = pods().find((p) => p.metadata.name.startsWith('huge-') && p.status?.conditions?.some((c) => c.reason === 'Unschedulable'));
    assert.match(huge?.status?.conditions?.[0]?.message ?? '', /^0\/4 nodes are available: 4 CardInsufficientMemory\.$/);

    const kubectl = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      execFile('kubectl', ['--server', cluster.api.url, 'get', 'pods', '-A', '-o', 'jsonpath={range .items[*]}{.metadata.name} {.status.phase}{"\\n"}{end}'], { timeout: 20_000 }, (error, stdout) => resolve({ code: error === null ? 0 : (error as { code?: number }).code ?? null, stdout }));
    });
    if (kubectl.code === 0) assert.ok(kubectl.stdout.split('\n').filter((l) => l.endsWith(' Running')).length >= 20, kubectl.stdout);
  } finally {
    await cluster.close();
  }
  assert.equal(existsSync(cluster.dir), false, 'sockets and per-container files are removed');
});

test('tessera demo prints where to reach the cluster, reports status, and exits 0 on SIGTERM', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src', 'cli', 'main.ts'), 'demo', '--status-interval', '1'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  try {
    await until('the status line', () => /pods: \d+ running, \d+ pending, \d+ failed; GPU memory allocated \d+% of \d+ GiB/.test(output), 40_000);
    assert.match(output, /Tessera demo cluster: 4 nodes, 32 GPUs/);
    assert.match(output, /dashboard {6}http:\/\/127\.0\.0\.1:\d+\/ui\n/);
    assert.match(output, /API server {5}http:\/\/127\.0\.0\.1:\d+ {4}kubectl --server http:\/\/127\.0\.0\.1:\d+ get pods -A/);
    assert.match(output, /explain {8}tessera explain <namespace>\/<pod> --server http:\/\/127\.0\.0\.1:\d+/);
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0, output);
  assert.match(output, /SIGTERM: stopping the demo cluster/);
});
