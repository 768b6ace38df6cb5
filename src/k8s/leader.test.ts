/**
 * Lease-based leader election against the in-memory API server through the real client, with
 * short timings (lease 1 s, renew deadline 600 ms, retry 100 ms): one leader at a time, a fast
 * handover on stop(), takeover of an abandoned lease only once it expired, and a leader that
 * cannot renew stepping down by its deadline.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { LEASES, startApiServer, type ApiServer } from '../apiserver/index.js';
import { createKubeClient, type KubeClient } from './client.js';
import { LeaderElector, type LeaderElectionOptions } from './leader.js';

let api: ApiServer;
let client: KubeClient;
const TIMINGS = { leaseDurationMs: 1000, renewDeadlineMs: 600, retryPeriodMs: 100 } as const;
/** Timer latency allowed on a loaded 2-core machine. */
const SLACK_MS = 200;
const made: LeaderElector[] = [];

before(async () => {
  api = await startApiServer();
  client = createKubeClient(api.kubeConfig());
});

after(async () => {
  api.faults.reset();
  await Promise.all(made.map((e) => e.stop()));
  await api.close();
});

interface Replica {
  readonly elector: LeaderElector;
  /** `started` and `stopped`, in the order the callbacks came. */
  readonly log: string[];
  readonly errors: unknown[];
}

function replica(lease: string, identity: string, extra: Partial<LeaderElectionOptions> = {}): Replica {
  const log: string[] = [];
  const errors: unknown[] = [];
  const elector = new LeaderElector(client, {
    namespace: 'kube-system',
    name: lease,
    identity,
    ...TIMINGS,
    onStartedLeading: () => log.push('started'),
    onStoppedLeading: () => log.push('stopped'),
    onError: (error) => errors.push(error),
    ...extra,
  });
  made.push(elector);
  return { elector, log, errors };
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 5000): Promise<number> {
  const from = Date.now();
  while (!condition()) {
    if (Date.now() - from > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return Date.now() - from;
}

function storedSpec(lease: string): { holderIdentity?: string; leaseTransitions?: number; leaseDurationSeconds?: number; acquireTime?: string; renewTime?: string } {
  return api.store.get(LEASES, 'kube-system', lease)['spec'] as never;
}

test('two electors on one lease: exactly one leads, and keeps leading', async () => {
  const a = replica('one', 'a');
  const b = replica('one', 'b');
  a.elector.start();
  b.elector.start();
  await waitFor('a leader', () => a.elector.isLeader() || b.elector.isLeader());
  const [leader, follower] = a.elector.isLeader() ? [a, b] : [b, a];
  // Sample across several renewals: never two leaders, never none.
  const until = Date.now() + 500;
  while (Date.now() < until) {
    assert.equal(Number(a.elector.isLeader()) + Number(b.elector.isLeader()), 1);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.ok(leader.elector.isLeader());
  assert.deepEqual(leader.log, ['started']);
  assert.deepEqual(follower.log, []);
  const spec = storedSpec('one');
  assert.equal(spec.holderIdentity, leader === a ? 'a' : 'b');
  assert.equal(spec.leaseTransitions, 0);
  assert.equal(spec.leaseDurationSeconds, 1);
  assert.ok(Date.parse(spec.renewTime ?? '') > Date.parse(spec.acquireTime ?? ''), 'renewed since it was acquired');
  assert.deepEqual([...a.errors, ...b.errors], []);
  await a.elector.stop();
  await b.elector.stop();
});

test('stop() of the leader releases the lease and the other takes over within about two retry periods', async (t) => {
  let holderWhenStopped: string | undefined = 'not stopped';
  // The leader-only work must stop before the lease is released, so the lease still names `a`.
  const a = replica('two', 'a', { onStoppedLeading: () => (holderWhenStopped = storedSpec('two').holderIdentity) });
  a.elector.start();
  await waitFor('a to lead', () => a.elector.isLeader());
  const b = replica('two', 'b');
  b.elector.start();
  // b has seen the lease held by a.
  await new Promise((resolve) => setTimeout(resolve, 150));
  assert.ok(!b.elector.isLeader());

  await a.elector.stop();
  const stoppedAt = Date.now();
  assert.equal(holderWhenStopped, 'a');
  assert.ok(!a.elector.isLeader());
  assert.equal(storedSpec('two').holderIdentity === 'a', false, 'a released the lease');

  await waitFor('b to lead', () => b.elector.isLeader(), 2000);
  const took = Date.now() - stoppedAt;
  t.diagnostic(`takeover ${took} ms after stop()`);
  assert.ok(took <= 2 * TIMINGS.retryPeriodMs + SLACK_MS / 2, `b took over after ${took} ms`);
  const spec = storedSpec('two');
  assert.equal(spec.holderIdentity, 'b');
  assert.equal(spec.leaseTransitions, 1, 'one change of holder: a to b (the release keeps the count)');
  assert.deepEqual(b.log, ['started']);
  assert.deepEqual([...a.errors, ...b.errors], []);
  await b.elector.stop();
});

test('a lease abandoned without release is taken over only once it has expired', async (t) => {
  const a = replica('three', 'a', { releaseOnStop: false });
  const b = replica('three', 'b');
  a.elector.start();
  await waitFor('a to lead', () => a.elector.isLeader());
  b.elector.start();
  await new Promise((resolve) => setTimeout(resolve, 150));
  // a dies: no more renewals, the lease still names it.
  await a.elector.stop();
  const diedAt = Date.now();
  assert.equal(storedSpec('three').holderIdentity, 'a');
  await waitFor('b to lead', () => b.elector.isLeader(), 3000);
  const took = Date.now() - diedAt;
  t.diagnostic(`takeover ${took} ms after the leader died`);
  // b last saw the lease change at a's last renewal, less than one retry period before it died.
  assert.ok(took >= TIMINGS.leaseDurationMs - TIMINGS.retryPeriodMs - 50, `b took over after ${took} ms, before the lease expired`);
  assert.ok(took <= TIMINGS.leaseDurationMs + 3 * TIMINGS.retryPeriodMs, `b took over after ${took} ms`);
  assert.equal(storedSpec('three').leaseTransitions, 1);
  await b.elector.stop();
});

test('a leader that cannot renew steps down by its renew deadline, then leads again once the API recovers', async (t) => {
  const c = replica('four', 'c');
  c.elector.start();
  await waitFor('c to lead', () => c.elector.isLeader());

  api.faults.failNext(100_000, { code: 500, match: { path: /\/leases\/four$/ } });
  const failingFrom = Date.now();
  await waitFor('c to step down', () => !c.elector.isLeader(), 2000);
  const took = Date.now() - failingFrom;
  t.diagnostic(`stepped down ${took} ms after renewals began to fail`);
  // The slack is timer latency on a loaded machine; the deadline itself counts from the last renewal.
  assert.ok(took <= TIMINGS.renewDeadlineMs + SLACK_MS, `stepped down ${took} ms after the failures began`);
  assert.ok(took >= TIMINGS.renewDeadlineMs - 2 * TIMINGS.retryPeriodMs, `stepped down after only ${took} ms: it did not keep trying`);
  assert.deepEqual(c.log, ['started', 'stopped']);
  assert.ok(c.errors.length >= 3, 'each failed renewal is reported');
  assert.match(String(c.errors[0]), /lease "kube-system\/four": 500 InternalError/);

  api.faults.reset();
  await waitFor('c to lead again', () => c.elector.isLeader(), 2000);
  assert.deepEqual(c.log, ['started', 'stopped', 'started']);
  assert.equal(storedSpec('four').leaseTransitions, 0, 'its own lease: no transition');

  // A hung API server: the calls never answer in time, and the deadline alone ends the leadership.
  const HANG_MS = 700;
  let lastHung = 0;
  api.faults.addLatency(HANG_MS, (r) => {
    const hit = /\/leases\/four$/.test(r.path);
    if (hit) lastHung = Date.now();
    return hit;
  });
  const hungFrom = Date.now();
  await waitFor('c to step down on a hung server', () => !c.elector.isLeader(), 2000);
  const hungTook = Date.now() - hungFrom;
  api.faults.clearLatency();
  t.diagnostic(`stepped down ${hungTook} ms after the server hung`);
  // Tighter than SLACK_MS on purpose: the hung renewal, begun a retry period after the last
  // good one, times out only at renewDeadline + retryPeriod; stepping down before that shows
  // the deadline timer, not the timeout, ended the leadership.
  assert.ok(hungTook < TIMINGS.renewDeadlineMs + TIMINGS.retryPeriodMs - 10, `stepped down ${hungTook} ms after the server hung`);
  assert.deepEqual(c.log, ['started', 'stopped', 'started', 'stopped']);
  await c.elector.stop();
  // Let the delayed requests finish, so that closing the server does not cut them off.
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, lastHung + HANG_MS + 50 - Date.now())));
});

test('options are checked as client-go checks them', () => {
  const base = { namespace: 'kube-system', name: 'x', identity: 'a' };
  assert.throws(() => new LeaderElector(client, { ...base, identity: '' }), /identity must not be empty/);
  assert.throws(() => new LeaderElector(client, { ...base, leaseDurationMs: 1500 }), /whole number of seconds/);
  assert.throws(() => new LeaderElector(client, { ...base, leaseDurationMs: 10_000, renewDeadlineMs: 10_000 }), /must be less than leaseDurationMs/);
  assert.throws(() => new LeaderElector(client, { ...base, renewDeadlineMs: 2000, retryPeriodMs: 2000 }), /retryPeriodMs \* 1.2 < renewDeadlineMs/);
  const defaults = new LeaderElector(client, base);
  assert.equal(defaults.isLeader(), false);
});
