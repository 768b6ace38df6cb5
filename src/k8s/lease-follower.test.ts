import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { LEASES, startApiServer, type ApiServer } from '../apiserver/index.js';
import { createKubeClient } from './client.js';
import { holdsLease, LeaseFollower } from './lease-follower.js';

let api: ApiServer;

before(async () => {
  api = await startApiServer();
});

after(async () => {
  await api.close();
});

function putLease(name: string, holder: string, durationSeconds = 2): void {
  const existing = api.store.find(LEASES, 'kube-system', name) as { metadata?: Record<string, unknown> } | undefined;
  const lease = {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { ...(existing?.metadata ?? {}), name, namespace: 'kube-system' },
    spec: { holderIdentity: holder, leaseDurationSeconds: durationSeconds, renewTime: new Date().toISOString().replace('Z', '000Z') },
  };
  api.store.put(LEASES, lease);
}

async function until(what: string, condition: () => boolean, ms = 4000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test("kube-scheduler's identity is <hostname>_<uuid>: the pod name is a prefix up to the underscore", () => {
  assert.equal(holdsLease('sched-7d9f-abcde_0c2f9b1e-1111-2222-3333-444455556666', 'sched-7d9f-abcde'), true);
  assert.equal(holdsLease('sched-7d9f-abcde', 'sched-7d9f-abcde'), true);
  assert.equal(holdsLease('sched-7d9f-abcdef_0c2f', 'sched-7d9f-abcde'), false, 'a longer pod name is another pod');
  assert.equal(holdsLease(undefined, 'x'), false);
});

test('the replica whose pod holds the Lease leads; a change of holder moves leadership; an unrenewed or deleted Lease stops it', async () => {
  const client = createKubeClient(api.kubeConfig());
  const events: string[] = [];
  const follower = (identity: string) =>
    new LeaseFollower(client, {
      namespace: 'kube-system',
      name: 'tessera-kube-scheduler',
      identity,
      pollMs: 50,
      onStartedLeading: () => events.push(`${identity} leads`),
      onStoppedLeading: () => events.push(`${identity} stops`),
    });
  const a = follower('pod-a');
  const b = follower('pod-b');
  a.start();
  b.start();
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(a.isLeader() || b.isLeader(), false, 'no Lease, no leader');

  putLease('tessera-kube-scheduler', 'pod-a_5f0c');
  await until('pod-a to lead', () => a.isLeader());
  assert.equal(b.isLeader(), false);

  putLease('tessera-kube-scheduler', 'pod-b_77aa');
  await until('pod-b to lead', () => b.isLeader() && !a.isLeader());

  // Nobody renews it: after leaseDurationSeconds (2 s) it counts for no one.
  await until('the stale Lease to stop pod-b', () => !b.isLeader(), 4000);

  putLease('tessera-kube-scheduler', 'pod-a_5f0c');
  await until('pod-a to lead again', () => a.isLeader());
  api.store.delete(LEASES, 'kube-system', 'tessera-kube-scheduler');
  await until('the deleted Lease to stop pod-a', () => !a.isLeader());

  await a.stop();
  await b.stop();
  assert.deepEqual(events.filter((e) => e.startsWith('pod-a')), ['pod-a leads', 'pod-a stops', 'pod-a leads', 'pod-a stops']);
  assert.deepEqual(events.filter((e) => e.startsWith('pod-b')), ['pod-b leads', 'pod-b stops']);
});
