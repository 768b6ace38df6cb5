/**
 * The KubeClient port through the real client-node against the in-memory API server: each call
 * reaches the server as the apiserver expects it, and every refusal comes back as a KubeApiError
 * with the HTTP code and Status reason.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { EVENTS, LEASES, NODES, PODS, RESOURCE_QUOTAS, startApiServer, type ApiServer } from '../apiserver/index.js';
import { TesseraError } from '../core/errors.js';
import { KubeApiError, createKubeClient, isAlreadyExists, isConflict, isNotFound, type KubeClient } from './client.js';

let api: ApiServer;
let client: KubeClient;
const clockAt = new Date('2026-08-21T08:20:39.250Z');

before(async () => {
  api = await startApiServer({ namespaces: ['team-a'] });
  client = createKubeClient(api.kubeConfig(), { now: () => clockAt });
});

after(async () => {
  await api.close();
});

function pod(name: string, labels: Record<string, string> = {}): object {
  return { metadata: { name, labels }, spec: { containers: [{ name: 'main', image: 'busybox:1.36' }] } };
}

/** Asserts that `promise` rejects with a KubeApiError of this code and reason, and returns it. */
async function apiError(promise: Promise<unknown>, httpCode: number, reason: string): Promise<KubeApiError> {
  let caught: unknown;
  await assert.rejects(promise, (error: unknown) => {
    caught = error;
    return true;
  });
  assert.ok(caught instanceof KubeApiError, `expected a KubeApiError, got ${String(caught)}`);
  assert.ok(caught instanceof TesseraError);
  assert.equal(caught.code, 'TESSERA_ERR_KUBE_API');
  assert.equal(caught.httpCode, httpCode, caught.message);
  assert.equal(caught.reason, reason, caught.message);
  return caught;
}

test('pods: get, list with namespace and selectors, merge patch with and without a version, json patch', async () => {
  api.store.create(PODS, 'default', pod('web-1', { app: 'web' }));
  api.store.create(PODS, 'default', pod('db-1', { app: 'db' }));
  api.store.create(PODS, 'team-a', pod('web-2', { app: 'web' }));

  const web1 = await client.getPod('default', 'web-1');
  assert.equal(web1.metadata?.name, 'web-1');
  assert.equal(web1.status?.phase, 'Pending');

  const inDefault = await client.listPods({ namespace: 'default' });
  assert.deepEqual(inDefault.items.map((p) => p.metadata?.name).sort(), ['db-1', 'web-1']);
  assert.equal(inDefault.resourceVersion, api.store.resourceVersion);
  const web = await client.listPods({ labelSelector: 'app=web' });
  assert.deepEqual(web.items.map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`).sort(), ['default/web-1', 'team-a/web-2']);
  const byField = await client.listPods({ fieldSelector: 'metadata.namespace=team-a' });
  assert.deepEqual(byField.items.map((p) => p.metadata?.name), ['web-2']);
  const page = await client.listPods({ limit: 2 });
  assert.equal(page.items.length, 2);
  assert.ok(page.continue !== undefined);
  const rest = await client.listPods({ limit: 2, continue: page.continue });
  assert.equal(rest.items.length, 1);
  assert.equal(rest.continue, undefined);

  const version = web1.metadata?.resourceVersion;
  assert.ok(version !== undefined);
  const patched = await client.mergePatchPod('default', 'web-1', { metadata: { annotations: { 'hami.io/bind-phase': 'allocating' } } }, { resourceVersion: version });
  assert.equal(patched.metadata?.annotations?.['hami.io/bind-phase'], 'allocating');
  // `version` is stale now: the precondition refuses the second write.
  const stale = await apiError(
    client.mergePatchPod('default', 'web-1', { metadata: { annotations: { 'hami.io/bind-phase': 'failed' } } }, { resourceVersion: version }),
    409,
    'Conflict',
  );
  assert.ok(isConflict(stale));
  assert.ok(!isNotFound(stale));
  assert.match(stale.message, /^merge-patch pod "default\/web-1": 409 Conflict: Operation cannot be fulfilled on pods "web-1": the object has been modified/);
  assert.match(stale.message, /re-read the object and retry/);
  assert.equal(stale.operation, 'merge-patch pod "default/web-1"');

  const removed = await client.mergePatchPod('default', 'web-1', { metadata: { annotations: { 'hami.io/bind-phase': null } } });
  assert.equal(removed.metadata?.annotations?.['hami.io/bind-phase'], undefined);

  const jsonPatched = await client.jsonPatchPod('default', 'web-1', [
    { op: 'test', path: '/metadata/labels/app', value: 'web' },
    { op: 'add', path: '/metadata/annotations/hami.io~1vgpu-node', value: 'gpu-1' },
  ]);
  assert.equal(jsonPatched.metadata?.annotations?.['hami.io/vgpu-node'], 'gpu-1');
  await apiError(client.jsonPatchPod('default', 'web-1', [{ op: 'test', path: '/metadata/labels/app', value: 'db' }]), 422, 'Invalid');

  const missing = await apiError(client.getPod('default', 'nope'), 404, 'NotFound');
  assert.ok(isNotFound(missing));
  assert.ok(!isConflict(missing));
  assert.match(missing.message, /^get pod "default\/nope": 404 NotFound: pods "nope" not found \(check the name and namespace\)$/);
});

test('bind: the pod lands on the node; a second bind conflicts, a missing pod is not found', async () => {
  const created = api.store.create(PODS, 'default', pod('to-bind'));
  const uid = String((created['metadata'] as { uid: string }).uid);
  await client.bindPod('default', 'to-bind', 'gpu-1', { uid, annotations: { 'hami.io/bind-phase': 'allocating' } });
  const bound = await client.getPod('default', 'to-bind');
  assert.equal(bound.spec?.nodeName, 'gpu-1');
  assert.equal(bound.metadata?.annotations?.['hami.io/bind-phase'], 'allocating');
  const again = await apiError(client.bindPod('default', 'to-bind', 'gpu-2'), 409, 'Conflict');
  assert.match(again.message, /^bind pod "default\/to-bind" to node "gpu-2": 409 Conflict/);
  await apiError(client.bindPod('default', 'ghost', 'gpu-1'), 404, 'NotFound');
});

test('nodes: get, list with a label selector, merge patch with a version precondition, json patch', async () => {
  api.store.create(NODES, '', { metadata: { name: 'gpu-1', labels: { gpu: 'on' } } });
  api.store.create(NODES, '', { metadata: { name: 'cpu-1' } });
  const node = await client.getNode('gpu-1');
  assert.equal(node.metadata?.name, 'gpu-1');
  assert.deepEqual((await client.listNodes({ labelSelector: 'gpu=on' })).items.map((n) => n.metadata?.name), ['gpu-1']);
  assert.equal((await client.listNodes()).items.length, 2);

  const version = node.metadata?.resourceVersion ?? '';
  const locked = await client.mergePatchNode('gpu-1', { metadata: { annotations: { 'hami.io/mutex.lock': 'x' } } }, { resourceVersion: version });
  assert.equal(locked.metadata?.annotations?.['hami.io/mutex.lock'], 'x');
  await apiError(client.mergePatchNode('gpu-1', { metadata: { annotations: { 'hami.io/mutex.lock': 'y' } } }, { resourceVersion: version }), 409, 'Conflict');
  // The precondition applies to patches without metadata too.
  await apiError(client.mergePatchNode('gpu-1', { spec: { unschedulable: true } }, { resourceVersion: version }), 409, 'Conflict');

  const unlocked = await client.jsonPatchNode('gpu-1', [{ op: 'remove', path: '/metadata/annotations/hami.io~1mutex.lock' }]);
  assert.equal(unlocked.metadata?.annotations?.['hami.io/mutex.lock'], undefined);
  await apiError(client.getNode('nope'), 404, 'NotFound');
  assert.throws(() => client.mergePatchNode('gpu-1', { metadata: null }, { resourceVersion: '1' }), TypeError);
});

test('events: recorded with reason, message, type, involved object, count and source', async () => {
  const event = await client.createEvent({
    involvedObject: { kind: 'Pod', namespace: 'team-a', name: 'web-2', uid: 'u-1' },
    reason: 'BindingSucceed',
    message: 'bound to gpu-1',
    type: 'Normal',
    component: 'tessera-scheduler',
  });
  assert.equal(event.metadata?.namespace, 'team-a');
  assert.match(event.metadata?.name ?? '', /^web-2\.[0-9a-f]+$/);
  const stored = api.store.get(EVENTS, 'team-a', event.metadata?.name ?? '');
  assert.deepEqual(
    { reason: stored['reason'], message: stored['message'], type: stored['type'], count: stored['count'], source: stored['source'] },
    { reason: 'BindingSucceed', message: 'bound to gpu-1', type: 'Normal', count: 1, source: { component: 'tessera-scheduler' } },
  );
  assert.deepEqual(stored['involvedObject'], { apiVersion: 'v1', kind: 'Pod', name: 'web-2', namespace: 'team-a', uid: 'u-1' });
  assert.equal(new Date(String(stored['firstTimestamp'])).getTime(), clockAt.getTime());

  // A cluster-scoped object's events go to `default`; two in the same instant get distinct names.
  const first = await client.createEvent({ involvedObject: { kind: 'Node', name: 'gpu-1' }, reason: 'Unhealthy', message: 'm', type: 'Warning', count: 3 });
  const second = await client.createEvent({ involvedObject: { kind: 'Node', name: 'gpu-1' }, reason: 'Unhealthy', message: 'm', type: 'Warning' });
  assert.equal(first.metadata?.namespace, 'default');
  assert.equal(first.count, 3);
  assert.notEqual(first.metadata?.name, second.metadata?.name);
  await apiError(client.createEvent({ involvedObject: { kind: 'Pod', namespace: 'nowhere', name: 'p' }, reason: 'R', message: 'm', type: 'Normal' }), 404, 'NotFound');
});

test('resource quotas: listed per namespace and across all', async () => {
  api.store.create(RESOURCE_QUOTAS, 'team-a', { metadata: { name: 'gpu-quota' }, spec: { hard: { 'nvidia.com/gpumem': '8000' } } });
  api.store.create(RESOURCE_QUOTAS, 'default', { metadata: { name: 'other' }, spec: { hard: { pods: '10' } } });
  const teamA = await client.listResourceQuotas({ namespace: 'team-a' });
  assert.deepEqual(teamA.items.map((q) => q.spec?.hard?.['nvidia.com/gpumem']), ['8000']);
  assert.equal((await client.listResourceQuotas()).items.length, 2);
});

test('leases: create, get with Date times written with microseconds, conditional update, AlreadyExists', async () => {
  const at = new Date('2026-08-21T08:20:39.123Z');
  const created = await client.createLease({
    metadata: { namespace: 'kube-system', name: 'tessera' },
    spec: { holderIdentity: 'a', leaseDurationSeconds: 15, acquireTime: at, renewTime: at, leaseTransitions: 0 },
  });
  assert.ok(created.spec?.renewTime instanceof Date, 'client-node returns a string; the port gives a Date');
  assert.equal(created.spec.renewTime.getTime(), at.getTime());
  // MicroTime on the wire: six fractional digits, what a real apiserver's parser requires.
  const stored = api.store.get(LEASES, 'kube-system', 'tessera');
  assert.equal((stored['spec'] as { renewTime: string }).renewTime, '2026-08-21T08:20:39.123000Z');

  const read = await client.getLease('kube-system', 'tessera');
  assert.ok(read.spec?.acquireTime instanceof Date);
  assert.equal(read.spec.acquireTime.getTime(), at.getTime());
  const renewed = await client.updateLease({ ...read, spec: { ...read.spec, renewTime: new Date(at.getTime() + 2000) } });
  assert.equal(renewed.spec?.renewTime?.getTime(), at.getTime() + 2000);
  // `read` carries the old resourceVersion: the takeover loses.
  const lost = await apiError(client.updateLease({ ...read, spec: { ...read.spec, holderIdentity: 'b' } }), 409, 'Conflict');
  assert.ok(isConflict(lost));
  const exists = await apiError(client.createLease({ metadata: { namespace: 'kube-system', name: 'tessera' }, spec: {} }), 409, 'AlreadyExists');
  assert.ok(isAlreadyExists(exists));
  assert.ok(!isConflict(exists), 'AlreadyExists is not a Conflict');
  assert.match(exists.message, /409 AlreadyExists: leases.coordination.k8s.io "tessera" already exists$/);
  await apiError(client.getLease('kube-system', 'nope'), 404, 'NotFound');
});

test('server failures carry Retry-After; an unreachable server is code 0 with a hint', async () => {
  api.faults.failNext(1, { code: 429, retryAfterSeconds: 3, match: { method: 'GET', path: '/api/v1/nodes' } });
  const throttled = await apiError(client.listNodes(), 429, 'TooManyRequests');
  assert.equal(throttled.retryAfterSeconds, 3);
  assert.match(throttled.message, /retry with backoff/);
  api.faults.failNext(1, { code: 500, match: { method: 'GET', path: '/api/v1/nodes/gpu-1' } });
  await apiError(client.getNode('gpu-1'), 500, 'InternalError');

  // A port that was just free: nothing listens there.
  const gone = await startApiServer();
  const config = gone.kubeConfig();
  await gone.close();
  const unreachable = await apiError(createKubeClient(config).getNode('gpu-1'), 0, '');
  assert.match(unreachable.message, /^get node "gpu-1": no response: .*ECONNREFUSED.*\(check that the API server is reachable/);
  assert.ok(unreachable.cause !== undefined);
});
