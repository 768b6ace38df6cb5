/**
 * The resilient informer against the in-memory API server through the real client-node: events
 * reach the cache and the handlers, and after every way the server can let a watch down (a
 * clean end, a reset connection, a compacted history, failing relists) the cache converges on
 * the server's state again. Handler exceptions are contained, and stop() leaves nothing running.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { NODES, PODS, startApiServer, type ApiServer } from '../apiserver/index.js';
import { createKubeClient, type KubeClient, type Node, type Pod } from './client.js';
import { createNodeInformer, createPodInformer, type Informer, type InformerErrorContext } from './informer.js';

let api: ApiServer;
let client: KubeClient;
const NAMESPACES = ['events', 'drop-end', 'drop-reset', 'relist', 'fail-relist', 'handlers', 'stop', 'late'];

before(async () => {
  api = await startApiServer({ namespaces: NAMESPACES, historyLimit: 1000 });
  client = createKubeClient(api.kubeConfig());
});

/** Every informer made here, stopped in after() even when a test failed half-way. */
const made: Informer<unknown>[] = [];

after(async () => {
  await Promise.all(made.map((informer) => informer.stop()));
  await api.close();
});

function pod(name: string, labels: Record<string, string> = {}): object {
  return { metadata: { name, labels }, spec: { containers: [{ name: 'main', image: 'busybox:1.36' }] } };
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** `name@resourceVersion` of every pod in the namespace, as the server has them. */
function serverPods(namespace: string): string[] {
  return api.store
    .list(PODS, { namespace })
    .items.map((p) => {
      const metadata = p['metadata'] as { name: string; resourceVersion: string };
      return `${metadata.name}@${metadata.resourceVersion}`;
    })
    .sort();
}

function cachedPods(informer: Informer<Pod>, namespace: string): string[] {
  return informer
    .list(namespace)
    .map((p) => `${p.metadata?.name ?? ''}@${p.metadata?.resourceVersion ?? ''}`)
    .sort();
}

async function converged(informer: Informer<Pod>, namespace: string, timeoutMs = 5000): Promise<void> {
  try {
    await waitFor(`the cache of ${namespace} to match the server`, () => JSON.stringify(cachedPods(informer, namespace)) === JSON.stringify(serverPods(namespace)), timeoutMs);
  } catch (error) {
    assert.deepEqual(cachedPods(informer, namespace), serverPods(namespace), String(error));
  }
}

/** A pod informer on one namespace whose reported errors are collected. */
function podInformer(namespace: string): { informer: Informer<Pod>; errors: { error: unknown; context: InformerErrorContext }[] } {
  const errors: { error: unknown; context: InformerErrorContext }[] = [];
  const informer = createPodInformer(api.kubeConfig(), { namespace, onError: (error, context) => errors.push({ error, context }) });
  made.push(informer);
  return { informer, errors };
}

/** Changes the namespace's pods behind the informer's back: one deleted, one added, one modified. */
function churn(namespace: string, round: number): void {
  api.store.delete(PODS, namespace, `p-${round}`);
  api.store.create(PODS, namespace, pod(`p-${round + 4}`));
  api.store.patch(PODS, namespace, `p-${round + 1}`, 'merge', { metadata: { labels: { round: String(round) } } });
}

function seed(namespace: string): void {
  for (let i = 0; i < 4; i++) api.store.create(PODS, namespace, pod(`p-${i}`));
}

test('add, update and delete reach the cache and the handlers', async () => {
  const ns = 'events';
  api.store.create(PODS, ns, pod('before', { app: 'x' }));
  const { informer, errors } = podInformer(ns);
  const seen: string[] = [];
  informer.on('add', (p) => seen.push(`add ${p.metadata?.name ?? ''}`));
  informer.on('update', (p) => seen.push(`update ${p.metadata?.name ?? ''} ${p.metadata?.labels?.['v'] ?? ''}`));
  const offDelete = informer.on('delete', (p) => seen.push(`delete ${p.metadata?.name ?? ''}`));
  assert.equal(informer.hasSynced(), false);
  informer.start();
  informer.start();
  try {
    await informer.synced;
    assert.equal(informer.hasSynced(), true);
    assert.equal(informer.get('before', ns)?.metadata?.labels?.['app'], 'x');
    assert.deepEqual(seen, ['add before']);

    await client.mergePatchPod(ns, 'before', { metadata: { labels: { v: '2' } } });
    api.store.create(PODS, ns, pod('live'));
    api.store.delete(PODS, ns, 'before');
    await waitFor('the delete', () => seen.includes('delete before'));
    assert.deepEqual(seen, ['add before', 'update before 2', 'add live', 'delete before']);
    assert.equal(informer.get('before', ns), undefined);
    assert.deepEqual(informer.list().map((p) => p.metadata?.name), ['live']);
    assert.deepEqual(informer.list('elsewhere'), []);

    offDelete();
    api.store.delete(PODS, ns, 'live');
    await waitFor('the cache to drop "live"', () => informer.list(ns).length === 0);
    assert.equal(seen.at(-1), 'delete before', 'a removed handler hears nothing');
    assert.deepEqual(errors, []);
  } finally {
    await informer.stop();
  }
});

test('after the server ends every watch cleanly, the informer resumes and converges', async () => {
  const ns = 'drop-end';
  seed(ns);
  const { informer, errors } = podInformer(ns);
  informer.start();
  try {
    await informer.synced;
    await waitFor('the watch', () => api.openWatches >= 1);
    for (let round = 0; round < 2; round++) {
      api.faults.dropWatches('end');
      churn(ns, round);
      await converged(informer, ns);
    }
    assert.equal(informer.restarts, 0, 'a clean end is not a failure');
    assert.deepEqual(errors, []);
  } finally {
    await informer.stop();
  }
});

test('after a reset connection, the informer restarts with backoff and converges', async () => {
  const ns = 'drop-reset';
  seed(ns);
  const { informer, errors } = podInformer(ns);
  informer.start();
  try {
    await informer.synced;
    await waitFor('the watch', () => api.openWatches >= 1);
    api.faults.dropWatches('reset');
    churn(ns, 0);
    await converged(informer, ns);
    await waitFor('the restart', () => informer.restarts === 1);
    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.context.during, 'list-watch');
    assert.equal(errors[0]?.context.informer, 'pods in namespace "drop-reset"');
    const delay = errors[0]?.context.restartInMs ?? 0;
    assert.ok(delay > 0 && delay <= 100, `first restart delay ${delay} ms`);
    // And it keeps watching live changes.
    api.store.create(PODS, ns, pod('after'));
    await converged(informer, ns);
  } finally {
    await informer.stop();
  }
});

test('after a compacted history, the re-watch gets 410 and the relist converges, deletions included', async () => {
  const ns = 'relist';
  seed(ns);
  const { informer, errors } = podInformer(ns);
  const deleted: string[] = [];
  informer.on('delete', (p) => deleted.push(p.metadata?.name ?? ''));
  informer.start();
  try {
    await informer.synced;
    await waitFor('the watch', () => api.openWatches >= 1);
    const requests: string[] = [];
    api.faults.addLatency(0, (r) => {
      if (r.path.includes(`/namespaces/${ns}/`)) requests.push(`${r.watch ? 'watch' : 'list'} rv=${r.query.get('resourceVersion') ?? ''}`);
      return false;
    });
    const stale = api.store.resourceVersion;
    api.faults.dropWatches('end');
    churn(ns, 0);
    churn(ns, 1);
    api.faults.compactHistory();
    await converged(informer, ns);
    api.faults.clearLatency();
    assert.deepEqual(deleted.sort(), ['p-0', 'p-1'], 'objects deleted while nobody watched are reported on relist');
    assert.equal(requests[0], `watch rv=${stale}`);
    assert.equal(requests[1], 'list rv=');
    assert.equal(informer.restarts, 0, 'a 410 is handled by client-node itself');
    assert.deepEqual(errors, []);
  } finally {
    api.faults.clearLatency();
    await informer.stop();
  }
});

test('a relist failing three times with 500 is retried with doubling delays and converges', async () => {
  const ns = 'fail-relist';
  seed(ns);
  const { informer, errors } = podInformer(ns);
  informer.start();
  try {
    await informer.synced;
    await waitFor('the watch', () => api.openWatches >= 1);
    api.faults.failNext(3, { code: 500, match: { method: 'GET', watch: false, path: `/api/v1/namespaces/${ns}/pods` } });
    const startedAt = Date.now();
    api.faults.dropWatches('end');
    churn(ns, 0);
    api.faults.compactHistory();
    await converged(informer, ns);
    const took = Date.now() - startedAt;
    assert.equal(informer.restarts, 3);
    const delays = errors.map((e) => e.context.restartInMs ?? 0);
    assert.equal(delays.length, 3, JSON.stringify(errors.map((e) => String(e.error))));
    // 100, 200, 400 ms, each less up to 20% jitter.
    [100, 200, 400].forEach((want, i) => {
      const got = delays[i] ?? 0;
      assert.ok(got <= want && got >= want * 0.8, `restart ${i + 1}: ${got} ms, want ${want * 0.8}..${want}`);
    });
    assert.ok(took >= 560, `converged after ${took} ms, before the backoff could have elapsed`);
    for (const e of errors) assert.match(String(e.error), /list pods in namespace "fail-relist": 500 InternalError/);
  } finally {
    await informer.stop();
  }
});

test('a throwing handler is reported and neither stops the others nor the informer', async () => {
  const ns = 'handlers';
  api.store.create(PODS, ns, pod('initial'));
  const { informer, errors } = podInformer(ns);
  const calm: string[] = [];
  informer.on('add', (p) => {
    throw new Error(`boom on ${p.metadata?.name ?? ''}`);
  });
  informer.on('add', (p) => calm.push(p.metadata?.name ?? ''));
  informer.on('update', () => {
    throw new Error('boom on update');
  });
  informer.start();
  try {
    await informer.synced;
    api.store.create(PODS, ns, pod('second'));
    api.store.patch(PODS, ns, 'second', 'merge', { metadata: { labels: { v: '2' } } });
    api.store.create(PODS, ns, pod('third'));
    await waitFor('the third add', () => calm.includes('third'));
    await converged(informer, ns);
    assert.deepEqual(calm, ['initial', 'second', 'third']);
    assert.deepEqual(
      errors.map((e) => `${e.context.during} ${e.context.event ?? ''}: ${String(e.error)}`),
      ['handler add: Error: boom on initial', 'handler add: Error: boom on second', 'handler update: Error: boom on update', 'handler add: Error: boom on third'],
    );
    assert.equal(informer.restarts, 0);
  } finally {
    await informer.stop();
  }
});

test('a handler added after the sync first hears an add for each cached object', async () => {
  const ns = 'late';
  seed(ns);
  const { informer } = podInformer(ns);
  informer.start();
  try {
    await informer.synced;
    const late: string[] = [];
    informer.on('add', (p) => late.push(p.metadata?.name ?? ''));
    assert.deepEqual(late.sort(), ['p-0', 'p-1', 'p-2', 'p-3']);
  } finally {
    await informer.stop();
  }
});

test('node informer: a label selector filters, and a node that stops matching is deleted from the cache', async () => {
  api.store.create(NODES, '', { metadata: { name: 'gpu-a', labels: { gpu: 'on' } } });
  api.store.create(NODES, '', { metadata: { name: 'cpu-a' } });
  const errors: unknown[] = [];
  const informer: Informer<Node> = createNodeInformer(api.kubeConfig(), { labelSelector: 'gpu=on', onError: (e) => errors.push(e) });
  made.push(informer);
  const deleted: string[] = [];
  informer.on('delete', (n) => deleted.push(n.metadata?.name ?? ''));
  informer.start();
  try {
    await informer.synced;
    assert.deepEqual(informer.list().map((n) => n.metadata?.name), ['gpu-a']);
    assert.equal(informer.get('gpu-a')?.metadata?.labels?.['gpu'], 'on');
    api.store.create(NODES, '', { metadata: { name: 'gpu-b', labels: { gpu: 'on' } } });
    api.store.patch(NODES, '', 'gpu-a', 'merge', { metadata: { labels: { gpu: null } } });
    await waitFor('gpu-a to leave the cache', () => deleted.includes('gpu-a'));
    assert.deepEqual(informer.list().map((n) => n.metadata?.name), ['gpu-b']);
    assert.deepEqual(errors, []);
  } finally {
    await informer.stop();
  }
});

test('stop() ends the watch, a pending restart and all handler calls; synced rejects if never reached', async () => {
  const ns = 'stop';
  seed(ns);
  // Earlier tests' informers close their watches asynchronously.
  await waitFor('no open watches', () => api.openWatches === 0);
  const watchesBefore = 0;
  const { informer } = podInformer(ns);
  const heard: string[] = [];
  informer.on('add', (p) => heard.push(p.metadata?.name ?? ''));
  informer.start();
  await informer.synced;
  await waitFor('the watch', () => api.openWatches === watchesBefore + 1);
  await informer.stop();
  await informer.stop();
  await waitFor('the watch to close', () => api.openWatches === watchesBefore);
  api.store.create(PODS, ns, pod('unheard'));
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.ok(!heard.includes('unheard'));
  assert.throws(() => informer.start(), /was stopped; create a new one/);

  // Stopped while waiting to restart after failed lists: no request follows, nothing is left.
  const requests: string[] = [];
  api.faults.addLatency(0, (r) => {
    if (r.path.includes(`/namespaces/${ns}/`)) requests.push(r.path);
    return false;
  });
  api.faults.failNext(1000, { code: 503, match: { path: `/api/v1/namespaces/${ns}/pods` } });
  const failing = podInformer(ns);
  failing.informer.start();
  try {
    await waitFor('a failed list', () => failing.errors.length >= 1);
    await failing.informer.stop();
    await assert.rejects(failing.informer.synced, /was stopped before its first list/);
    const count = requests.length;
    // Longer than the first two backoff delays (100 and 200 ms).
    await new Promise((resolve) => setTimeout(resolve, 250));
    assert.equal(requests.length, count, 'no restart after stop()');
    assert.equal(failing.informer.hasSynced(), false);
  } finally {
    api.faults.reset();
  }
  // Stopped during the first list: no watch is opened afterwards.
  api.faults.addLatency(100, { path: `/api/v1/namespaces/${ns}/pods`, watch: false });
  const slow = podInformer(ns);
  slow.informer.start();
  await new Promise((resolve) => setTimeout(resolve, 20));
  await slow.informer.stop();
  await new Promise((resolve) => setTimeout(resolve, 150));
  api.faults.reset();
  assert.equal(api.openWatches, watchesBefore);
  assert.deepEqual(slow.errors, []);
});
