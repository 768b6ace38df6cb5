/**
 * Replicas that follow kube-scheduler's Lease, as the chart runs them: only the replica whose pod's
 * kube-scheduler holds the Lease (`holderIdentity` = `<pod name>_<uuid>`) decides; the others
 * answer 503. When kube-scheduler's leadership moves to another pod, the extender's moves with it.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { LEASES, startApiServer, type ApiServer } from '../../src/apiserver/index.js';
import { startScheduler, type RunningScheduler } from '../../src/scheduler/scheduler.js';

let api: ApiServer;
const replicas: RunningScheduler[] = [];

before(async () => {
  api = await startApiServer();
});

after(async () => {
  await Promise.all(replicas.map((r) => r.close()));
  await api.close();
});

function kubeSchedulerLeads(pod: string): void {
  api.store.put(LEASES, {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name: 'tessera-kube-scheduler', namespace: 'kube-system' },
    spec: { holderIdentity: `${pod}_3b1f0c2e-9a8d-4f7e-b6c5-d4e3f2a1b0c9`, leaseDurationSeconds: 15 },
  });
}

async function readyz(replica: RunningScheduler): Promise<number> {
  return (await fetch(`${replica.url}/readyz`)).status;
}

async function until(what: string, condition: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test("the extender leads exactly while the kube-scheduler in its own pod holds the Lease", async () => {
  kubeSchedulerLeads('tessera-5d8c7-aaaaa');
  for (const identity of ['tessera-5d8c7-aaaaa', 'tessera-5d8c7-bbbbb']) {
    replicas.push(await startScheduler({ kubeConfig: api.kubeConfig(), log: () => {}, followLease: { namespace: 'kube-system', name: 'tessera-kube-scheduler', identity, pollMs: 50 } }));
  }
  const [a, b] = replicas as [RunningScheduler, RunningScheduler];
  await until('pod a to serve', async () => (await readyz(a)) === 200);
  assert.equal(await readyz(b), 503);
  const refused = await fetch(`${b.url}/filter`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ Pod: { metadata: { name: 'p' } }, NodeNames: [] }) });
  assert.equal(refused.status, 503);

  kubeSchedulerLeads('tessera-5d8c7-bbbbb');
  await until('leadership to move to pod b', async () => (await readyz(b)) === 200 && (await readyz(a)) === 503);
  assert.equal(a.isLeader(), false);
  assert.equal(b.isLeader(), true);
});

test('electing a leader of its own and following kube-scheduler exclude each other', async () => {
  await assert.rejects(
    startScheduler({
      kubeConfig: api.kubeConfig(),
      log: () => {},
      leaderElection: { namespace: 'kube-system', name: 'x', identity: 'a' },
      followLease: { namespace: 'kube-system', name: 'y', identity: 'a' },
    }),
    /choose one of leaderElection .* and followLease/,
  );
});
