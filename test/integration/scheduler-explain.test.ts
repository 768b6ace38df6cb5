/**
 * `tessera explain` against a running scheduler: a placed pod shows its node, score and devices
 * per container; a pending one each node's reason; an unknown pod or an unreachable scheduler a
 * clear error.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { NODES, PODS, startApiServer, type ApiServer } from '../../src/apiserver/index.js';
import { gpu } from '../../src/core/testing/builders.js';
import { registeredNode } from '../support/registered-node.js';
import { renderExplanation } from '../../src/cli/commands/explain.js';
import { startScheduler, type RunningScheduler } from '../../src/scheduler/scheduler.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
let api: ApiServer;
let scheduler: RunningScheduler;
let server = '';

function node(name: string, memoryMiB: number): unknown {
  const devices = [0, 1].map((i) => gpu(`GPU-${name}-${i}`, { index: i, memoryMiB, splitCount: 10, type: 'NVIDIA-A10' }));
  return registeredNode(name, devices);
}

function pod(name: string, memory: string): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default' },
    spec: {
      schedulerName: 'hami-scheduler',
      initContainers: [{ name: 'fetch', image: 'busybox' }],
      containers: [{ name: 'infer', image: 'cuda', resources: { limits: { 'nvidia.com/gpu': '1', 'nvidia.com/gpumem': memory, 'nvidia.com/gpucores': '30' } } }],
    },
  };
}

async function post(path: string, body: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(`${scheduler.url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  return (await response.json()) as Record<string, unknown>;
}

/** Runs the CLI without blocking this process, whose event loop serves the scheduler it asks. */
function explain(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', join(root, 'src', 'cli', 'main.ts'), 'explain', ...args], { cwd: root, encoding: 'utf8', timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ status: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr });
    });
  });
}

before(async () => {
  api = await startApiServer();
  api.store.put(NODES, node('gpu-a', 24576));
  api.store.put(NODES, node('gpu-b', 8192));
  scheduler = await startScheduler({ kubeConfig: api.kubeConfig(), log: () => {}, metrics: { port: 0 } });
  server = (scheduler.metricsUrl ?? '').replace(/\/metrics$/, '');
  while (!scheduler.ready() || scheduler.cache.cluster.nodes.length < 2) await new Promise((r) => setTimeout(r, 20));
});

after(async () => {
  await scheduler.close();
  await api.close();
});

test('a placed and bound pod: node, score, the devices of each container, the bind', async () => {
  api.store.create(PODS, 'default', pod('infer', '12000'));
  const filtered = await post('/filter', { Pod: api.store.get(PODS, 'default', 'infer'), NodeNames: ['gpu-a', 'gpu-b'] });
  assert.deepEqual(filtered.NodeNames, ['gpu-a']);
  const uid = (api.store.get(PODS, 'default', 'infer') as { metadata: { uid: string } }).metadata.uid;
  assert.deepEqual(await post('/bind', { PodName: 'infer', PodNamespace: 'default', PodUID: uid, Node: 'gpu-a' }), { Error: '' });

  const json = (await (await fetch(`${server}/api/v1/explain/default/infer`)).json()) as { filter: { outcome: string; node: string; containers: string[] }; bind: { at: string; node: string; error: string } };
  assert.equal(json.filter.outcome, 'placed');
  assert.deepEqual(json.filter.containers, ['fetch', 'infer']);
  assert.deepEqual(json.bind, { at: json.bind.at, node: 'gpu-a', error: '' });

  const shown = await explain('default/infer', '--server', server);
  assert.equal(shown.status, 0, shown.stderr);
  assert.match(shown.stdout, /^Pod default\/infer\nFilter \S+: placed on node gpu-a \(score [\d.]+\) among 2 candidate node\(s\)\n/);
  assert.match(shown.stdout, /\n {2}container infer: GPU-gpu-a-\d 12000 MiB 30%\n/);
  assert.doesNotMatch(shown.stdout, /container fetch/, 'an init container without devices is not listed');
  assert.match(shown.stdout, /Bind \S+: bound to gpu-a\n$/);
});

test('a pending pod: every node with its reason, grouped', async () => {
  api.store.create(PODS, 'default', pod('huge', '40000'));
  await post('/filter', { Pod: api.store.get(PODS, 'default', 'huge'), NodeNames: ['gpu-a', 'gpu-b', 'cpu-1'] });
  const shown = await explain('default/huge', '--server', server);
  assert.equal(shown.status, 0, shown.stderr);
  assert.match(shown.stdout, /pending, no node fits \(0 of 3 candidates\)\n {2}2\/2 CardInsufficientMemory \(2\): gpu-a, gpu-b\n {2}node unregistered \(1\): cpu-1\n/);
});

test('an unknown pod, a bad argument and an unreachable scheduler exit 1 with the reason', async () => {
  const unknown = await explain('default/ghost', '--server', server);
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /no decision recorded for pod default\/ghost since this scheduler started/);
  const bad = await explain('a/b/c');
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /'a\/b\/c' is not a pod: write <namespace>\/<name>/);
  const away = await explain('default/infer', '--server', 'http://127.0.0.1:9');
  assert.equal(away.status, 1);
  assert.match(away.stderr, /cannot reach the scheduler at http:\/\/127\.0\.0\.1:9 .*port-forward/);
});

test('nodes passed over before the chosen one are listed with their reasons', () => {
  const text = renderExplanation({
    namespace: 'ns',
    name: 'p',
    filter: { at: 't', outcome: 'placed', node: 'n3', score: 12.5, candidates: 3, grants: [[{ id: 'GPU-x', vendor: 'NVIDIA', memoryMiB: 1000, cores: 10 }]], containers: ['main'], failedNodes: { n1: '1/1 CardInsufficientMemory', n2: '1/1 CardInsufficientMemory' } },
  });
  assert.equal(
    text,
    'Pod ns/p\nFilter t: placed on node n3 (score 12.50) among 3 candidate node(s)\n  container main: GPU-x 1000 MiB 10%\nPreferred nodes passed over (did not fit):\n  1/1 CardInsufficientMemory (2): n1, n2\nBind: not yet (kube-scheduler binds after Filter)\n',
  );
});

test('a refusal before placement is rendered with its message', () => {
  const text = renderExplanation({ namespace: 'ns', name: 'p', filter: { at: 't', outcome: 'error', candidates: 2, failedNodes: {}, message: 'container main: nvidia.com/gpumem-percentage must be 1..100, got "0"' } });
  assert.equal(text, 'Pod ns/p\nFilter t: refused: container main: nvidia.com/gpumem-percentage must be 1..100, got "0"\n');
});
