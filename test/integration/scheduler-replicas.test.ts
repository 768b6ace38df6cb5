/**
 * Two scheduler replicas behind one Lease, racing on one cluster: 200 pods are filtered and bound
 * concurrently through whichever replica answers, the leader is killed mid-stream, and in the end
 * no device holds more than it has (checked from the pods' final annotations alone), every pod is
 * bound or was told why not, and a scheduler started from scratch sees the same usage.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { NODES, PODS, startApiServer, type ApiServer } from '../../src/apiserver/index.js';
import { NODE_LOCK, POD_DEVICES_ALLOCATED } from '../../src/core/annotations.js';
import { decodePodGrants } from '../../src/core/codec/index.js';
import { gpu } from '../../src/core/testing/builders.js';
import { registeredNode } from '../support/registered-node.js';
import { startScheduler, type RunningScheduler } from '../../src/scheduler/scheduler.js';

const NODE_COUNT = 20;
const GPUS_PER_NODE = 2;
const GPU_MEMORY = 24576;
const POD_COUNT = 200;
const nodeNames = Array.from({ length: NODE_COUNT }, (_, i) => `gpu-${String(i).padStart(2, '0')}`);

let api: ApiServer;
const replicas = new Map<string, RunningScheduler>();

function startReplica(identity: string, releaseOnStop = true): Promise<RunningScheduler> {
  return startScheduler({
    kubeConfig: api.kubeConfig(),
    log: () => {},
    leaderElection: { namespace: 'kube-system', name: 'tessera-scheduler', identity, leaseDurationMs: 1000, renewDeadlineMs: 600, retryPeriodMs: 100, releaseOnStop },
  });
}

async function until(what: string, condition: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function post(url: string, path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  try {
    const response = await fetch(`${url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    return { status: response.status, json: (await response.json()) as Record<string, unknown> };
  } catch {
    return { status: 0, json: {} }; // a replica that was killed
  }
}

/** The device plugin's part: after Allocate it releases the node lock Bind took for the pod. */
function releaseLock(node: string, pod: string): void {
  const current = api.store.get(NODES, '', node) as { metadata: { annotations?: Record<string, string> } };
  if (!(current.metadata.annotations?.[NODE_LOCK] ?? '').endsWith(`,default,${pod}`)) return;
  api.store.patch(NODES, '', node, 'merge', { metadata: { annotations: { [NODE_LOCK]: null } } });
}

type Outcome = 'bound' | 'unschedulable';

/** kube-scheduler's loop for one pod: filter, then bind, on whichever replica serves; retries while replicas change hands. */
async function schedule(name: string, attempt = 0): Promise<Outcome> {
  if (attempt > 200) throw new Error(`${name}: no replica would serve it`);
  const live = [...replicas.values()];
  const replica = live[attempt % live.length];
  if (!replica) throw new Error('no replica');
  const pod = api.store.get(PODS, 'default', name) as { spec?: { nodeName?: string } };
  // A bind that reached the API server while its answer was lost (the replica died): kube-scheduler
  // sees the pod bound through its informer and stops, and the device plugin serves it.
  if (pod.spec?.nodeName) {
    releaseLock(pod.spec.nodeName, name);
    return 'bound';
  }
  const filtered = await post(replica.url, '/filter', { Pod: pod, NodeNames: nodeNames });
  const retry = async (): Promise<Outcome> => {
    await new Promise((r) => setTimeout(r, 20));
    return schedule(name, attempt + 1);
  };
  if (filtered.status !== 200) return retry();
  const failed = filtered.json.FailedNodes as Record<string, string> | null;
  const chosen = (filtered.json.NodeNames as string[] | null)?.[0];
  if (chosen === undefined) {
    assert.ok(failed && Object.keys(failed).length === NODE_COUNT, `${name}: neither a node nor the reasons: ${JSON.stringify(filtered.json)}`);
    return 'unschedulable';
  }
  const bound = await post(replica.url, '/bind', { PodName: name, PodNamespace: 'default', PodUID: '', Node: chosen });
  if (bound.status !== 200 || bound.json.Error !== '') return retry();
  releaseLock(chosen, name);
  return 'bound';
}

before(async () => {
  api = await startApiServer();
  for (const name of nodeNames) {
    const devices = Array.from({ length: GPUS_PER_NODE }, (_, i) => gpu(`GPU-${name}-${String(i)}`, { index: i, memoryMiB: GPU_MEMORY, splitCount: 10 }));
    api.store.put(NODES, registeredNode(name, devices));
  }
  for (let i = 0; i < POD_COUNT; i++) {
    const name = `p-${String(i).padStart(3, '0')}`;
    const limits = { 'nvidia.com/gpu': '1', 'nvidia.com/gpumem': String(2000 + 1000 * (i % 5)), 'nvidia.com/gpucores': String(20 + 10 * (i % 3)) };
    api.store.create(PODS, 'default', { metadata: { name, uid: `uid-${name}` }, spec: { schedulerName: 'hami-scheduler', containers: [{ name: 'main', image: 'cuda', resources: { limits } }] } });
  }
  // The one that will be killed does not give up its Lease: the other must wait it out.
  replicas.set('a', await startReplica('a', false));
  replicas.set('b', await startReplica('b'));
  await until('a leader', () => [...replicas.values()].some((r) => r.ready()));
});

after(async () => {
  await Promise.all([...replicas.values()].map((r) => r.close()));
  await api.close();
});

test('200 pods through two racing replicas, the leader killed mid-stream: no device over-committed, nothing lost', async () => {
  const names = Array.from({ length: POD_COUNT }, (_, i) => `p-${String(i).padStart(3, '0')}`);
  const outcomes = new Map<string, Outcome>();
  let next = 0;
  let killed = '';
  const worker = async (): Promise<void> => {
    while (next < names.length) {
      const name = names[next++] ?? '';
      outcomes.set(name, await schedule(name));
      if (outcomes.size === POD_COUNT / 2 && killed === '') {
        killed = [...replicas.entries()].find(([, r]) => r.isLeader())?.[0] ?? '';
        const leader = replicas.get(killed);
        replicas.delete(killed);
        await leader?.close();
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, () => worker()));
  assert.notEqual(killed, '', 'a leader was killed mid-stream');
  assert.equal(outcomes.size, POD_COUNT, 'every pod was bound or told why not');

  // Capacity, from the final annotations alone.
  const use = new Map<string, { memory: number; cores: number; tasks: number }>();
  let bound = 0;
  for (const item of api.store.list(PODS, { namespace: 'default' }).items) {
    const pod = item as { spec?: { nodeName?: string }; metadata: { name: string; annotations?: Record<string, string> } };
    if (!pod.spec?.nodeName) continue;
    bound++;
    for (const container of decodePodGrants(pod.metadata.annotations?.[POD_DEVICES_ALLOCATED] ?? '')) {
      for (const g of container) {
        const u = use.get(g.id) ?? { memory: 0, cores: 0, tasks: 0 };
        use.set(g.id, { memory: u.memory + g.memoryMiB, cores: u.cores + g.cores, tasks: u.tasks + 1 });
        assert.ok(g.id.startsWith(`GPU-${pod.spec.nodeName}-`), `${pod.metadata.name}: granted ${g.id} on another node than ${pod.spec.nodeName}`);
      }
    }
  }
  for (const [id, u] of use) {
    assert.ok(u.memory <= GPU_MEMORY && u.cores <= 100 && u.tasks <= 10, `${id} over-committed: ${JSON.stringify(u)}`);
  }
  assert.equal(bound, [...outcomes.values()].filter((o) => o === 'bound').length);
  assert.ok(bound >= 100, `the cluster's compute fits about 120 of these pods; ${String(bound)} bound`);

  // A scheduler started from scratch rebuilds the same usage from the annotations.
  const fresh = await startScheduler({ kubeConfig: api.kubeConfig(), log: () => {} });
  try {
    await until('the fresh scheduler to sync', () => fresh.ready());
    for (const [id, u] of use) {
      const node = fresh.cache.cluster.node(id.replace(/^GPU-(.*)-\d+$/, '$1'));
      const position = node?.position(id) ?? -1;
      assert.deepEqual([node?.memory[position], node?.cores[position], node?.tasks[position]], [u.memory, u.cores, u.tasks], id);
    }
  } finally {
    await fresh.close();
  }
});
