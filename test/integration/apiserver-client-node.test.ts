/**
 * The in-memory API server through the unmodified `@kubernetes/client-node` 1.4.0: generated API
 * classes for CRUD, patches, binding and leases, and `makeInformer` for list+watch, including its
 * relist after a 410. What passes here is what the scheduler and node agent will rely on.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  ApiException,
  CoordinationV1Api,
  CoreV1Api,
  makeInformer,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1ConfigMap,
  type V1Lease,
  type V1Pod,
} from '@kubernetes/client-node';
import { CONFIG_MAPS, PODS, startApiServer, type ApiServer } from '../../src/apiserver/index.js';

let api: ApiServer;
let kc: KubeConfig;
let core: CoreV1Api;

before(async () => {
  api = await startApiServer({ historyLimit: 100 });
  kc = api.kubeConfig();
  core = kc.makeApiClient(CoreV1Api);
});

after(async () => {
  await api.close();
});

function newPod(name: string, labels: Record<string, string> = {}): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels },
    spec: { containers: [{ name: 'main', image: 'busybox:1.36', resources: { limits: { 'nvidia.com/gpu': '1' } } }] },
  };
}

/** The Status an ApiException carries (client-node leaves the body as a JSON string). */
function statusOf(error: unknown): { code: number; reason: string; message: string } {
  assert.ok(error instanceof ApiException, `expected an ApiException, got ${String(error)}`);
  const body = JSON.parse(String(error.body)) as { code: number; reason: string; message: string; kind: string };
  assert.equal(body.kind, 'Status');
  assert.equal(body.code, error.code);
  return body;
}

async function rejectsWith(promise: Promise<unknown>, code: number, reason: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    const status = statusOf(error);
    assert.equal(status.code, code, status.message);
    assert.equal(status.reason, reason, status.message);
    return true;
  });
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test('CoreV1Api: create, list with selectors, get, replace with conflict, patch, bind, delete', async () => {
  const created = await core.createNamespacedPod({ namespace: 'default', body: newPod('web-1', { app: 'web' }) });
  assert.equal(created.metadata?.namespace, 'default');
  assert.ok(created.metadata?.uid);
  assert.equal(created.status?.phase, 'Pending');
  assert.deepEqual(created.spec?.containers[0]?.resources?.requests, { 'nvidia.com/gpu': '1' }, 'requests defaulted from limits');
  await core.createNamespacedPod({ namespace: 'default', body: newPod('db-1', { app: 'db' }) });
  await rejectsWith(core.createNamespacedPod({ namespace: 'default', body: newPod('web-1') }), 409, 'AlreadyExists');

  const web = await core.listNamespacedPod({ namespace: 'default', labelSelector: 'app=web' });
  assert.deepEqual(web.items.map((p) => p.metadata?.name), ['web-1']);
  assert.ok(Number(web.metadata?.resourceVersion) > 0);
  const everywhere = await core.listPodForAllNamespaces({ fieldSelector: 'metadata.name=db-1' });
  assert.deepEqual(everywhere.items.map((p) => p.metadata?.name), ['db-1']);

  const read = await core.readNamespacedPod({ name: 'web-1', namespace: 'default' });
  assert.equal(read.metadata?.resourceVersion, created.metadata?.resourceVersion);
  const relabelled = await core.replaceNamespacedPod({
    name: 'web-1',
    namespace: 'default',
    body: { ...read, metadata: { ...read.metadata, labels: { app: 'web', tier: 'front' } } },
  });
  assert.ok(Number(relabelled.metadata?.resourceVersion) > Number(read.metadata?.resourceVersion));
  // `read` now carries a stale resourceVersion.
  await rejectsWith(core.replaceNamespacedPod({ name: 'web-1', namespace: 'default', body: read }), 409, 'Conflict');

  const merged = await core.patchNamespacedPod(
    { name: 'web-1', namespace: 'default', body: { metadata: { annotations: { 'hami.io/vgpu-node': 'node-1' } } } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
  assert.equal(merged.metadata?.annotations?.['hami.io/vgpu-node'], 'node-1');
  const jsonPatched = await core.patchNamespacedPod({
    name: 'web-1',
    namespace: 'default',
    body: [
      { op: 'test', path: '/metadata/labels/app', value: 'web' },
      { op: 'add', path: '/metadata/annotations/hami.io~1bind-phase', value: 'allocating' },
    ],
  });
  assert.equal(jsonPatched.metadata?.annotations?.['hami.io/bind-phase'], 'allocating');
  await rejectsWith(
    core.patchNamespacedPod({ name: 'web-1', namespace: 'default', body: [{ op: 'test', path: '/metadata/labels/app', value: 'db' }] }),
    422,
    'Invalid',
  );
  await rejectsWith(
    core.patchNamespacedPod(
      { name: 'web-1', namespace: 'default', body: { metadata: { resourceVersion: read.metadata?.resourceVersion, labels: { x: 'y' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    ),
    409,
    'Conflict',
  );

  await core.createNamespacedPodBinding({
    name: 'web-1',
    namespace: 'default',
    body: { apiVersion: 'v1', kind: 'Binding', metadata: { name: 'web-1' }, target: { apiVersion: 'v1', kind: 'Node', name: 'node-1' } },
  });
  const bound = await core.readNamespacedPod({ name: 'web-1', namespace: 'default' });
  assert.equal(bound.spec?.nodeName, 'node-1');
  await rejectsWith(
    core.createNamespacedPodBinding({ name: 'web-1', namespace: 'default', body: { metadata: { name: 'web-1' }, target: { name: 'node-2' } } }),
    409,
    'Conflict',
  );
  await rejectsWith(
    core.createNamespacedPodBinding({ name: 'ghost', namespace: 'default', body: { metadata: { name: 'ghost' }, target: { name: 'node-2' } } }),
    404,
    'NotFound',
  );

  const running = await core.patchNamespacedPodStatus(
    { name: 'web-1', namespace: 'default', body: { status: { phase: 'Running' } } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
  assert.equal(running.status?.phase, 'Running');
  const onNode = await core.listPodForAllNamespaces({ fieldSelector: 'spec.nodeName=node-1,status.phase=Running' });
  assert.deepEqual(onNode.items.map((p) => p.metadata?.name), ['web-1']);

  const deleted = await core.deleteNamespacedPod({ name: 'web-1', namespace: 'default' });
  assert.equal(deleted.metadata?.name, 'web-1');
  await rejectsWith(core.readNamespacedPod({ name: 'web-1', namespace: 'default' }), 404, 'NotFound');
  await core.deleteNamespacedPod({ name: 'db-1', namespace: 'default' });
});

test('CoordinationV1Api: lease create and replace, with a conflict for a stale holder', async () => {
  const leases = kc.makeApiClient(CoordinationV1Api);
  const now = new Date();
  const lease: V1Lease = {
    metadata: { name: 'tessera-scheduler', namespace: 'kube-system' },
    spec: { holderIdentity: 'replica-a', leaseDurationSeconds: 15, acquireTime: now, renewTime: now },
  };
  const created = await leases.createNamespacedLease({ namespace: 'kube-system', body: lease });
  assert.equal(created.spec?.holderIdentity, 'replica-a');
  // client-node 1.4.0 hands MicroTime fields back as the wire string; the instant survives.
  assert.equal(new Date(String(created.spec?.renewTime)).getTime(), now.getTime());

  const renewed = await leases.replaceNamespacedLease({
    name: 'tessera-scheduler',
    namespace: 'kube-system',
    body: { ...created, spec: { ...created.spec, renewTime: new Date(now.getTime() + 1000) } },
  });
  assert.ok(Number(renewed.metadata?.resourceVersion) > Number(created.metadata?.resourceVersion));
  // Replica b read the lease before the renewal: its takeover must lose.
  await rejectsWith(
    leases.replaceNamespacedLease({
      name: 'tessera-scheduler',
      namespace: 'kube-system',
      body: { ...created, spec: { ...created.spec, holderIdentity: 'replica-b' } },
    }),
    409,
    'Conflict',
  );
  const current = await leases.readNamespacedLease({ name: 'tessera-scheduler', namespace: 'kube-system' });
  assert.equal(current.spec?.holderIdentity, 'replica-a');
});

test('makeInformer on pods sees add, update and delete', async () => {
  const informer = makeInformer(kc, '/api/v1/namespaces/default/pods', () => core.listNamespacedPod({ namespace: 'default' }));
  const events: string[] = [];
  const errors: unknown[] = [];
  informer.on('add', (pod) => events.push(`add ${pod.metadata?.name ?? ''}`));
  informer.on('update', (pod) => events.push(`update ${pod.metadata?.name ?? ''} ${pod.metadata?.labels?.['v'] ?? ''}`));
  informer.on('delete', (pod) => events.push(`delete ${pod.metadata?.name ?? ''}`));
  informer.on('error', (error) => errors.push(error));
  api.store.create(PODS, 'default', newPod('before-start'));
  await informer.start();
  try {
    await waitFor('the initial list', () => events.includes('add before-start'));
    await core.createNamespacedPod({ namespace: 'default', body: newPod('live') });
    api.store.patch(PODS, 'default', 'live', 'merge', { metadata: { labels: { v: '2' } } });
    await core.deleteNamespacedPod({ name: 'live', namespace: 'default' });
    await waitFor('add, update and delete of "live"', () => events.includes('delete live'));
    assert.deepEqual(events, ['add before-start', 'add live', 'update live 2', 'delete live']);
    assert.deepEqual(informer.list().map((p) => p.metadata?.name), ['before-start']);
    assert.deepEqual(errors, []);
  } finally {
    await informer.stop();
    api.store.delete(PODS, 'default', 'before-start');
  }
});

test('makeInformer relists after a 410 and converges on changes it never saw as events', async () => {
  api.store.create(CONFIG_MAPS, 'default', { metadata: { name: 'keep' }, data: { v: '1' } });
  api.store.create(CONFIG_MAPS, 'default', { metadata: { name: 'doomed' } });
  const informer = makeInformer(kc, '/api/v1/namespaces/default/configmaps', () => core.listNamespacedConfigMap({ namespace: 'default' }));
  const events: string[] = [];
  const errors: unknown[] = [];
  let connects = 0;
  informer.on('add', (cm) => events.push(`add ${cm.metadata?.name ?? ''}`));
  informer.on('update', (cm) => events.push(`update ${cm.metadata?.name ?? ''}`));
  informer.on('delete', (cm) => events.push(`delete ${cm.metadata?.name ?? ''}`));
  informer.on('error', (error) => errors.push(error));
  informer.on('connect', () => connects++);
  await informer.start();
  try {
    await waitFor('the initial list', () => events.length === 2 && api.openWatches === 1);
    // Nothing was written since the informer listed, so its version is the store's.
    const staleVersion = api.store.resourceVersion;
    // A latency rule that selects nothing, as a request log: what the informer does next.
    const requests: string[] = [];
    api.faults.addLatency(0, (request) => {
      requests.push(`${request.watch ? 'watch' : 'list'} rv=${request.query.get('resourceVersion') ?? ''}`);
      return false;
    });

    // All at once, before the client can re-watch: the stream ends, changes happen, and the
    // history that would let the client catch up from its version is compacted away.
    api.faults.dropWatches();
    api.store.delete(CONFIG_MAPS, 'default', 'doomed');
    api.store.create(CONFIG_MAPS, 'default', { metadata: { name: 'born' } });
    api.store.patch(CONFIG_MAPS, 'default', 'keep', 'merge', { data: { v: '2' } });
    api.faults.compactHistory();

    const storeNames = (): string[] => api.store.list(CONFIG_MAPS, { namespace: 'default' }).items.map((i) => String((i['metadata'] as { name: string }).name));
    const cacheNames = (): string[] => informer.list().map((cm: V1ConfigMap) => cm.metadata?.name ?? '').sort();
    await waitFor('the cache to converge after the relist', () => JSON.stringify(cacheNames()) === JSON.stringify(storeNames()) && api.openWatches === 1);
    assert.deepEqual(cacheNames(), ['born', 'keep']);
    assert.equal(informer.get('keep', 'default')?.data?.['v'], '2');
    assert.ok(events.includes('delete doomed') && events.includes('add born') && events.includes('update keep'), events.join(', '));
    api.faults.clearLatency();
    assert.equal(requests[0], `watch rv=${staleVersion}`, 'the re-watch from the old version (answered 410)');
    assert.equal(requests[1], 'list rv=', 'the relist');
    assert.equal(requests[2], `watch rv=${api.store.resourceVersion}`, 'the watch from the relisted version');
    assert.ok(connects >= 3, `connects: initial, the re-watch that got 410, the relist (got ${connects})`);
    assert.deepEqual(errors, [], 'a 410 is not an error to the informer');

    // And it keeps watching afterwards.
    api.store.create(CONFIG_MAPS, 'default', { metadata: { name: 'after' } });
    await waitFor('a live event after the relist', () => events.includes('add after'));
  } finally {
    await informer.stop();
  }
});
