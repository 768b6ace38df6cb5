/**
 * HAMi's node lock against the in-memory API server through the real client: taking, refusing,
 * releasing, expiry on an injected clock, force-release of a dead owner, and mutual exclusion
 * when many binders race for one node.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { NODES, PODS, startApiServer, type ApiServer } from '../apiserver/index.js';
import { NODE_LOCK } from '../core/annotations.js';
import { KubeApiError, createKubeClient, type KubeClient, type Node } from './client.js';
import { NODE_LOCK_TIMEOUT_MS, NodeLocker, type AcquireResult, type NodeLockOwner } from './node-lock.js';

let api: ApiServer;
let client: KubeClient;
const T0 = new Date('2026-08-21T08:20:39Z');

before(async () => {
  api = await startApiServer();
  client = createKubeClient(api.kubeConfig());
});

after(async () => {
  await api.close();
});

function node(name: string, annotations: Record<string, string> = {}): void {
  api.store.create(NODES, '', { metadata: { name, annotations } });
}

function owner(name: string): NodeLockOwner {
  if (api.store.find(PODS, 'default', name) === undefined) {
    api.store.create(PODS, 'default', { metadata: { name }, spec: { containers: [{ name: 'main', image: 'busybox:1.36' }] } });
  }
  return { namespace: 'default', name };
}

function lockValue(nodeName: string): string | undefined {
  const metadata = api.store.get(NODES, '', nodeName)['metadata'] as { annotations?: Record<string, string> };
  return metadata.annotations?.[NODE_LOCK];
}

/** A clock a test moves by hand. */
function clock(start: Date): { now: () => Date; set(at: Date): void } {
  let at = start;
  return { now: () => at, set: (next) => (at = next) };
}

test('acquire, re-acquire by the holder, refusal of a second owner, release only by the owner', async () => {
  node('gpu-1');
  const time = clock(T0);
  const locker = new NodeLocker(client, { now: time.now });
  const a = owner('pod-a');
  const b = owner('pod-b');

  assert.deepEqual(await locker.acquire('gpu-1', a), { acquired: true, how: 'free' });
  assert.equal(lockValue('gpu-1'), '2026-08-21T08:20:39Z,default,pod-a', 'HAMi\'s format: RFC 3339 time, namespace, pod');

  time.set(new Date(T0.getTime() + 60_000));
  const again = await locker.acquire('gpu-1', a);
  assert.equal(again.acquired && again.how, 'already-held');
  assert.equal(lockValue('gpu-1'), '2026-08-21T08:20:39Z,default,pod-a', 'the time is left as it was, as HAMi does');

  const refused = await locker.acquire('gpu-1', b);
  assert.ok(!refused.acquired);
  assert.equal(refused.reason, 'held');
  assert.deepEqual(refused.holder?.owner, a);
  assert.equal(
    refused.message,
    'node "gpu-1" has been locked within 5m0s by pod "default/pod-a" (since 2026-08-21T08:20:39Z): node lock contention',
  );

  const notMine = await locker.release('gpu-1', b);
  assert.ok(!notMine.released);
  assert.equal(notMine.reason, 'other-owner');
  assert.match(notMine.message, /locked by pod "default\/pod-a", not by pod "default\/pod-b"/);
  assert.equal(lockValue('gpu-1'), '2026-08-21T08:20:39Z,default,pod-a');

  assert.deepEqual(await locker.release('gpu-1', a), { released: true });
  assert.equal(lockValue('gpu-1'), undefined);
  const twice = await locker.release('gpu-1', a);
  assert.equal(!twice.released && twice.reason, 'not-locked');
  assert.deepEqual(await locker.acquire('gpu-1', b), { acquired: true, how: 'free' });
});

test('a lock older than 5 minutes is taken over; one of exactly 5 minutes is not', async () => {
  node('gpu-2');
  const time = clock(T0);
  const locker = new NodeLocker(client, { now: time.now });
  const a = owner('pod-a');
  const b = owner('pod-b');
  await locker.acquire('gpu-2', a);

  assert.equal(NODE_LOCK_TIMEOUT_MS, 300_000);
  time.set(new Date(T0.getTime() + NODE_LOCK_TIMEOUT_MS));
  const atTimeout = await locker.acquire('gpu-2', b);
  assert.equal(!atTimeout.acquired && atTimeout.reason, 'held', 'HAMi: time.Since(lockTime) > NodeLockTimeout');

  time.set(new Date(T0.getTime() + NODE_LOCK_TIMEOUT_MS + 1000));
  const taken = await locker.acquire('gpu-2', b);
  assert.ok(taken.acquired);
  assert.equal(taken.how, 'expired');
  assert.deepEqual(taken.previous, { at: T0, owner: a });
  assert.equal(lockValue('gpu-2'), '2026-08-21T08:25:40Z,default,pod-b');

  // The old holder's release no longer touches the new lock.
  const stale = await locker.release('gpu-2', a);
  assert.equal(!stale.released && stale.reason, 'other-owner');
});

test('the lock of a pod that no longer exists is force-released', async () => {
  node('gpu-3');
  const locker = new NodeLocker(client, { now: () => T0 });
  const doomed = owner('doomed');
  const b = owner('pod-b');
  await locker.acquire('gpu-3', doomed);
  api.store.delete(PODS, 'default', 'doomed');
  const taken = await locker.acquire('gpu-3', b);
  assert.ok(taken.acquired);
  assert.equal(taken.how, 'owner-gone');
  assert.deepEqual(taken.previous?.owner, doomed);
  assert.equal(lockValue('gpu-3'), '2026-08-21T08:20:39Z,default,pod-b');
});

test('legacy and unreadable lock values', async () => {
  // Very old HAMi wrote the bare time: no owner to check, so only its age can free it.
  node('gpu-4', { [NODE_LOCK]: '2026-08-21T08:20:00Z' });
  const time = clock(T0);
  const locker = new NodeLocker(client, { now: time.now });
  const b = owner('pod-b');
  const legacy = await locker.acquire('gpu-4', b);
  assert.ok(!legacy.acquired);
  assert.match(legacy.message, /by an unnamed owner \(legacy lock\)/);
  assert.equal((await locker.release('gpu-4', b)).released, false);
  time.set(new Date(T0.getTime() + NODE_LOCK_TIMEOUT_MS));
  const expired = await locker.acquire('gpu-4', b);
  assert.equal(expired.acquired && expired.how, 'expired');

  node('gpu-5', { [NODE_LOCK]: 'locked by someone' });
  const unreadable = await locker.acquire('gpu-5', b);
  assert.ok(!unreadable.acquired);
  assert.equal(unreadable.reason, 'unreadable');
  assert.match(unreadable.message, /cannot be read .*kubectl annotate node gpu-5 hami\.io\/mutex\.lock-$/);
  assert.equal((await locker.release('gpu-5', b)).released, false);
  assert.equal(lockValue('gpu-5'), 'locked by someone');
});

test('a missing node is a KubeApiError; a bad owner is refused before any request', async () => {
  const locker = new NodeLocker(client);
  await assert.rejects(locker.acquire('no-such-node', owner('pod-a')), (error: unknown) => {
    assert.ok(error instanceof KubeApiError);
    assert.equal(error.httpCode, 404);
    assert.match(error.message, /^get node "no-such-node": 404 NotFound/);
    return true;
  });
  await assert.rejects(locker.acquire('gpu-1', { namespace: 'default', name: 'Bad_Name' }), RangeError);
  assert.throws(() => new NodeLocker(client, { maxAttempts: 0 }), /maxAttempts must be a positive integer/);
});

test('20 binders in separate processes race for one node: exactly one wins', async () => {
  node('gpu-race');
  const owners = Array.from({ length: 20 }, (_, i) => owner(`racer-${i}`));
  let writes = 0;
  api.faults.addLatency(0, (r) => {
    if (r.method === 'PATCH' && r.path === '/api/v1/nodes/gpu-race') writes++;
    return false;
  });
  // One locker and one client each, as separate scheduler replicas would have.
  const results: AcquireResult[] = await Promise.all(
    owners.map((o) => new NodeLocker(createKubeClient(api.kubeConfig()), { now: () => T0, retryDelayMs: 5 }).acquire('gpu-race', o)),
  );
  api.faults.clearLatency();
  // Several read the node while it was free and wrote: the version precondition let one through.
  assert.ok(writes > 1, `only ${writes} conditional write(s): the racers did not overlap`);
  const winners = results.flatMap((r, i) => (r.acquired ? [i] : []));
  assert.equal(winners.length, 1, JSON.stringify(results));
  const winner = owners[winners[0] ?? -1];
  assert.equal(lockValue('gpu-race'), `2026-08-21T08:20:39Z,default,${winner?.name ?? ''}`);
  for (const r of results) if (!r.acquired) assert.equal(r.reason, 'held', r.message);

  // And within one process, where the per-node queue orders them.
  node('gpu-race-2');
  const shared = new NodeLocker(client, { now: () => T0 });
  const inProcess = await Promise.all(owners.map((o) => shared.acquire('gpu-race-2', o)));
  assert.equal(inProcess.filter((r) => r.acquired).length, 1);
});

test('a write that loses to unrelated node updates is retried, up to maxAttempts', async () => {
  node('gpu-busy');
  /** The real client, except that someone else updates the node right after each of the first `n` reads. */
  function busyClient(n: number): KubeClient {
    let reads = 0;
    // Every other call goes to the real client through the prototype chain.
    const busy = Object.create(client) as KubeClient;
    busy.getNode = async (name: string): Promise<Node> => {
      const read = await client.getNode(name);
      if (reads++ < n) api.store.patch(NODES, '', name, 'merge', { metadata: { labels: { heartbeat: String(reads) } } });
      return read;
    };
    return busy;
  }
  const a = owner('pod-a');
  const third = await new NodeLocker(busyClient(2), { now: () => T0, retryDelayMs: 1 }).acquire('gpu-busy', a);
  assert.deepEqual(third, { acquired: true, how: 'free' });
  const released = await new NodeLocker(busyClient(2), { retryDelayMs: 1 }).release('gpu-busy', a);
  assert.deepEqual(released, { released: true });

  const starved = await new NodeLocker(busyClient(3), { now: () => T0, retryDelayMs: 1, maxAttempts: 3 }).acquire('gpu-busy', a);
  assert.ok(!starved.acquired);
  assert.equal(starved.reason, 'contended');
  assert.match(starved.message, /3 conditional writes of hami\.io\/mutex\.lock lost to concurrent updates/);
  assert.equal(lockValue('gpu-busy'), undefined);
});

test("the cache's copy of the node: used when it shows no lock; a stale one costs a 409 and the lock is still taken; a lock it shows is read afresh", async () => {
  node('gpu-cached');
  const read = (): Node => api.store.get(NODES, '', 'gpu-cached') as Node;
  let copy: Node | undefined = read();
  const gets: string[] = [];
  // The client's methods live on its prototype: wrap it, do not spread it.
  const writes: string[] = [];
  const counting = Object.assign(Object.create(client) as KubeClient, {
    getNode: async (name: string) => {
      gets.push(name);
      return client.getNode(name);
    },
    mergePatchNode: async (...args: Parameters<KubeClient['mergePatchNode']>) => {
      writes.push(args[2]?.resourceVersion ?? '');
      return client.mergePatchNode(...args);
    },
  });
  const locker = new NodeLocker(counting, { cached: () => copy, retryDelayMs: 0 });
  const a = owner('cache-a');
  const b = owner('cache-b');

  assert.deepEqual(await locker.acquire('gpu-cached', a), { acquired: true, how: 'free' });
  assert.deepEqual(gets, [], 'current copy, no lock on it: one conditional patch, no GET');
  assert.match(lockValue('gpu-cached') ?? '', /,default,cache-a$/);

  // The copy is from before pod a's lock: its write loses, the fresh read sees a's lock.
  const writesBefore = writes.length;
  const refused = await locker.acquire('gpu-cached', b);
  assert.equal(refused.acquired, false);
  assert.equal(!refused.acquired && refused.reason, 'held');
  assert.deepEqual(gets, ['gpu-cached']);
  assert.equal(writes.length, writesBefore + 1, 'one write against the stale copy, not one per turn spent waiting for it');

  // A copy showing a lock that is gone by now is not trusted.
  copy = read();
  assert.deepEqual(await locker.release('gpu-cached', a), { released: true });
  assert.deepEqual(await locker.acquire('gpu-cached', b), { acquired: true, how: 'free' });
  assert.match(lockValue('gpu-cached') ?? '', /,default,cache-b$/);
  assert.deepEqual(gets, ['gpu-cached', 'gpu-cached', 'gpu-cached'], 'a copy that stays behind: the node is read afresh (the release reads it too)');

  // A copy a watch event behind that catches up a turn later: the lock waits for it, no GET.
  copy = read();
  assert.deepEqual(await locker.release('gpu-cached', b), { released: true });
  const readsBefore = gets.length;
  setImmediate(() => {
    copy = read();
  });
  assert.deepEqual(await locker.acquire('gpu-cached', a), { acquired: true, how: 'free' });
  assert.match(lockValue('gpu-cached') ?? '', /,default,cache-a$/);
  assert.equal(gets.length, readsBefore, 'no GET: the copy caught up');
});
