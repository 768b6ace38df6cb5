/**
 * HAMi's node lock lets one pod at a time be between Bind and the device plugin's Allocate on a
 * node. Under binpack consecutive pods want the same (fullest) node, so with HAMi's choice the
 * second pod's Bind fails on the lock and kube-scheduler retries it after a backoff (HAMi #1130).
 * Tessera passes over such a node while another fits. Both behaviours, end to end against the
 * in-memory API server through real sockets.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { NODES, PODS, startApiServer } from '../../src/apiserver/index.js';
import { NODE_LOCK } from '../../src/core/annotations.js';
import { gpu } from '../../src/core/testing/builders.js';
import { startScheduler } from '../../src/scheduler/scheduler.js';
import { registeredNode } from '../support/registered-node.js';

const NODE_NAMES = ['gpu-a', 'gpu-b', 'gpu-c'];

function node(name: string): unknown {
  const devices = [0, 1].map((i) => gpu(`GPU-${name}-${String(i)}`, { index: i, memoryMiB: 24576, splitCount: 10, type: 'NVIDIA-A10' }));
  return registeredNode(name, devices, { cpu: '32', memory: '128Gi', pods: '110' });
}

function share(name: string): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default' },
    spec: { schedulerName: 'hami-scheduler', containers: [{ name: 'main', image: 'cuda:13', resources: { limits: { 'nvidia.com/gpu': '1', 'nvidia.com/gpumem': '3000' } } }] },
  };
}

async function until(what: string, condition: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Filters and binds two pods back to back, as kube-scheduler does, with no device plugin releasing the first lock in between. */
async function twoPods(avoidBusyNodes: boolean): Promise<{ nodes: string[]; binds: string[]; locks: string[] }> {
  const api = await startApiServer();
  for (const name of NODE_NAMES) api.store.put(NODES, node(name));
  const scheduler = await startScheduler({ kubeConfig: api.kubeConfig(), log: () => {}, avoidBusyNodes });
  try {
    await until('the scheduler to be ready', () => scheduler.ready() && scheduler.cache.cluster.nodes.length === NODE_NAMES.length);
    const post = async (path: string, body: unknown): Promise<Record<string, unknown>> => {
      const response = await fetch(`${scheduler.url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
      return (await response.json()) as Record<string, unknown>;
    };
    const nodes: string[] = [];
    const binds: string[] = [];
    for (const name of ['first', 'second']) {
      const pod = api.store.create(PODS, 'default', share(name)) as { metadata: { uid: string } };
      await until(`the scheduler to see ${name}`, () => scheduler.ready());
      const filtered = await post('/filter', { Pod: pod, NodeNames: NODE_NAMES });
      const chosen = (filtered.NodeNames as string[] | null)?.[0] ?? '';
      nodes.push(chosen);
      const bound = await post('/bind', { PodName: name, PodNamespace: 'default', PodUID: pod.metadata.uid, Node: chosen });
      binds.push(String(bound.Error));
    }
    const locks = NODE_NAMES.map((n) => (api.store.get(NODES, '', n) as { metadata: { annotations?: Record<string, string> } }).metadata.annotations?.[NODE_LOCK]?.split(',')[2] ?? '');
    return { nodes, binds, locks };
  } finally {
    await scheduler.close();
    await api.close();
  }
}

test('a node where a pod is between Bind and Allocate is passed over: both pods bind at once', async () => {
  const { nodes, binds, locks } = await twoPods(true);
  assert.notEqual(nodes[1], nodes[0]);
  assert.deepEqual(binds, ['', '']);
  assert.deepEqual(locks.filter((l) => l !== '').sort(), ['first', 'second'], 'each holds the lock of its node for its device plugin');
});

test("avoidBusyNodes: false chooses as HAMi does, and the second pod's Bind meets the first one's lock", async () => {
  const { nodes, binds } = await twoPods(false);
  assert.equal(nodes[1], nodes[0], 'binpack: the fuller node');
  assert.equal(binds[0], '');
  assert.match(binds[1] ?? '', /node lock contention/);
});
