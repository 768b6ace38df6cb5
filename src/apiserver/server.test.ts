/**
 * The server over real loopback HTTP with a plain client: status codes, Status bodies, discovery,
 * watch streams and fault injection, as any client would see them.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, test } from 'node:test';
import type { JsonObject } from './json.js';
import { CONFIG_MAPS, PODS } from './kinds.js';
import { startApiServer, type ApiServer } from './server.js';
import { openWatch, type WatchEvent } from './testing.js';

let api: ApiServer;
const internalErrors: unknown[] = [];

before(async () => {
  api = await startApiServer({ historyLimit: 20, bookmarkIntervalMs: 50, onInternalError: (error) => internalErrors.push(error) });
});

after(async () => {
  await api.close();
});

interface Reply {
  readonly status: number;
  readonly headers: Headers;
  readonly body: JsonObject;
}

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const init: RequestInit = { method, headers: { 'Content-Type': 'application/json', ...headers } };
  if (body !== undefined) init.body = typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body);
  const response = await fetch(`${api.url}${path}`, init);
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === '' ? {} : (JSON.parse(text) as JsonObject) };
}

function pod(name: string, labels: Record<string, string> = {}): JsonObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, labels }, spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] } };
}

function nameOf(event: WatchEvent | 'end'): string {
  if (event === 'end') return 'end';
  const metadata = event.object['metadata'] as JsonObject | undefined;
  return `${event.type} ${String(metadata?.['name'] ?? '')}`;
}

function assertStatus(reply: Reply, code: number, reason: string, mentions = ''): void {
  assert.equal(reply.status, code, JSON.stringify(reply.body));
  assert.equal(reply.body['kind'], 'Status');
  assert.equal(reply.body['apiVersion'], 'v1');
  assert.equal(reply.body['status'], 'Failure');
  assert.equal(reply.body['reason'], reason);
  assert.equal(reply.body['code'], code);
  assert.ok(String(reply.body['message']).includes(mentions), `${String(reply.body['message'])} should mention ${mentions}`);
}

test('discovery documents describe the served kinds', async () => {
  const version = await call('GET', '/version');
  assert.equal(version.body['gitVersion'], 'v1.32.0-tessera');
  const core = await call('GET', '/api');
  assert.deepEqual(core.body['versions'], ['v1']);
  const v1 = await call('GET', '/api/v1');
  const resources = v1.body['resources'] as JsonObject[];
  const pods = resources.find((r) => r['name'] === 'pods');
  assert.deepEqual(pods?.['shortNames'], ['po']);
  assert.equal(pods?.['namespaced'], true);
  assert.ok((pods?.['verbs'] as string[]).includes('watch'));
  assert.deepEqual(
    resources.map((r) => r['name']).filter((n) => String(n).includes('/')),
    ['pods/status', 'pods/binding', 'nodes/status', 'namespaces/status', 'resourcequotas/status'],
  );
  assert.equal(resources.find((r) => r['name'] === 'nodes')?.['namespaced'], false);
  const groups = await call('GET', '/apis');
  assert.deepEqual((groups.body['groups'] as JsonObject[]).map((g) => g['name']), ['coordination.k8s.io']);
  const leases = await call('GET', '/apis/coordination.k8s.io/v1');
  assert.equal((leases.body['resources'] as JsonObject[])[0]?.['kind'], 'Lease');
  const health = await fetch(`${api.url}/healthz`);
  assert.equal(await health.text(), 'ok');
  assertStatus(await call('GET', '/api/v1/widgets'), 404, 'NotFound', 'could not find the requested resource');
  assertStatus(await call('GET', '/openapi/v2'), 404, 'NotFound');
});

test('errors are v1.Status bodies with the matching HTTP status', async () => {
  const missing = await call('GET', '/api/v1/namespaces/default/pods/nope');
  assertStatus(missing, 404, 'NotFound', 'pods "nope" not found');
  assert.deepEqual(missing.body['details'], { name: 'nope', kind: 'pods' });
  const lease = await call('GET', '/apis/coordination.k8s.io/v1/namespaces/default/leases/nope');
  assert.equal(lease.body['message'], 'leases.coordination.k8s.io "nope" not found');
  assert.deepEqual(lease.body['details'], { name: 'nope', group: 'coordination.k8s.io', kind: 'leases' });

  assertStatus(await call('POST', '/api/v1/namespaces/default/pods', '{"metadata": {'), 400, 'BadRequest', 'not valid JSON');
  assertStatus(await call('POST', '/api/v1/namespaces/default/pods', ''), 400, 'BadRequest', 'empty');
  const invalid = await call('POST', '/api/v1/namespaces/default/pods', { metadata: {}, spec: { containers: [{ name: 'c', image: 'i' }] } });
  assertStatus(invalid, 422, 'Invalid', 'Pod "" is invalid: metadata.name: Required value');
  assert.deepEqual((invalid.body['details'] as JsonObject)['causes'], [
    { reason: 'FieldValueRequired', message: 'Required value: name or generateName is required', field: 'metadata.name' },
  ]);
  const big = Buffer.alloc(3 * 1024 * 1024 + 1, 0x20);
  assertStatus(await call('POST', '/api/v1/namespaces/default/pods', big), 413, 'RequestEntityTooLarge', 'limit is 3145728');
  assertStatus(await call('POST', '/api/v1/namespaces/default/pods', 'x', { 'Content-Type': 'application/vnd.kubernetes.protobuf' }), 415, 'UnsupportedMediaType');
  assertStatus(await call('PUT', '/api/v1/namespaces/default/pods', pod('x')), 405, 'MethodNotAllowed');
  assertStatus(await call('GET', '/api/v1/pods', undefined, { Accept: 'application/vnd.kubernetes.protobuf' }), 406, 'NotAcceptable');
  assertStatus(await call('GET', '/api/v1/pods?labelSelector=a%20in%20b'), 400, 'BadRequest', 'unable to parse requirement');
  assertStatus(await call('GET', '/api/v1/pods?fieldSelector=spec.bogus%3D1'), 400, 'BadRequest', 'field label not supported');
  assertStatus(await call('GET', '/api/v1/pods?limit=-1'), 400, 'BadRequest', 'limit');

  await call('POST', '/api/v1/namespaces/default/pods', pod('patchme'));
  assertStatus(
    await call('PATCH', '/api/v1/namespaces/default/pods/patchme', '{}', { 'Content-Type': 'application/apply-patch+yaml' }),
    415,
    'UnsupportedMediaType',
    'server-side apply',
  );
  assertStatus(
    await call('PATCH', '/api/v1/namespaces/default/pods/patchme', [{ op: 'test', path: '/metadata/name', value: 'other' }], {
      'Content-Type': 'application/json-patch+json',
    }),
    422,
    'Invalid',
    'test failed',
  );
  assert.deepEqual(internalErrors, []);
});

test('writes answer 201/200/202 with the object, or a success Status where upstream does', async () => {
  const created = await call('POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'cm1' }, data: { a: '1' } });
  assert.equal(created.status, 201);
  const deleted = await call('DELETE', '/api/v1/namespaces/default/configmaps/cm1');
  assert.equal(deleted.status, 200);
  assert.equal(deleted.body['kind'], 'Status');
  assert.equal(deleted.body['status'], 'Success');
  assert.equal((deleted.body['details'] as JsonObject)['kind'], 'configmaps');

  await call('POST', '/api/v1/namespaces/default/pods', pod('bindme'));
  const bound = await call('POST', '/api/v1/namespaces/default/pods/bindme/binding', {
    apiVersion: 'v1',
    kind: 'Binding',
    metadata: { name: 'bindme' },
    target: { kind: 'Node', name: 'node-1' },
  });
  assert.equal(bound.status, 201);
  assert.deepEqual(bound.body, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 });
  const again = await call('POST', '/api/v1/namespaces/default/pods/bindme/binding', { metadata: { name: 'bindme' }, target: { name: 'node-2' } });
  assertStatus(again, 409, 'Conflict', 'already assigned to node "node-1"');
  const podDeleted = await call('DELETE', '/api/v1/namespaces/default/pods/bindme', { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' });
  assert.equal(podDeleted.status, 200);
  assert.equal(podDeleted.body['kind'], 'Pod');

  await call('POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'held', finalizers: ['x/y'] } });
  const held = await call('DELETE', '/api/v1/namespaces/default/configmaps/held');
  assert.equal(held.status, 202);
  assert.ok((held.body['metadata'] as JsonObject)['deletionTimestamp'] !== undefined);
  await call('PATCH', '/api/v1/namespaces/default/configmaps/held', { metadata: { finalizers: null } }, { 'Content-Type': 'application/merge-patch+json' });
  assertStatus(await call('GET', '/api/v1/namespaces/default/configmaps/held'), 404, 'NotFound');
});

test('watch from a resourceVersion streams every later change in order, with selectors honoured', async () => {
  const start = api.store.resourceVersion;
  const all = await openWatch(`${api.url}/api/v1/namespaces/default/pods?watch=true&resourceVersion=${start}`);
  const web = await openWatch(`${api.url}/api/v1/namespaces/default/pods?watch=1&resourceVersion=${start}&labelSelector=app%3Dweb`);
  assert.equal(all.status, 200);
  api.store.create(PODS, 'default', pod('w1', { app: 'web' }));
  api.store.create(PODS, 'default', pod('w2', { app: 'db' }));
  api.store.patch(PODS, 'default', 'w2', 'merge', { metadata: { labels: { app: 'web' } } });
  api.store.patch(PODS, 'default', 'w1', 'merge', { metadata: { labels: { app: 'db' } } });
  api.store.delete(PODS, 'default', 'w2');
  const seen: string[] = [];
  for (let i = 0; i < 5; i++) seen.push(nameOf(await all.next()));
  assert.deepEqual(seen, ['ADDED w1', 'ADDED w2', 'MODIFIED w2', 'MODIFIED w1', 'DELETED w2']);
  const filtered: string[] = [];
  for (let i = 0; i < 4; i++) filtered.push(nameOf(await web.next()));
  // w2 starts matching (ADDED), w1 stops matching (DELETED with its last matching labels).
  assert.deepEqual(filtered, ['ADDED w1', 'ADDED w2', 'DELETED w1', 'DELETED w2']);
  all.close();
  web.close();
});

test('watch without a resourceVersion first sends the current objects as ADDED', async () => {
  api.store.create(CONFIG_MAPS, 'default', { metadata: { name: 'existing' } });
  const watch = await openWatch(`${api.url}/api/v1/namespaces/default/configmaps?watch=true&fieldSelector=metadata.name%3Dexisting`);
  assert.equal(nameOf(await watch.next()), 'ADDED existing');
  api.store.patch(CONFIG_MAPS, 'default', 'existing', 'merge', { data: { a: 'b' } });
  const modified = await watch.next();
  assert.equal(nameOf(modified), 'MODIFIED existing');
  assert.equal((modified as WatchEvent).object['kind'], 'ConfigMap', 'watch objects carry kind and apiVersion');
  watch.close();
  const legacy = await openWatch(`${api.url}/api/v1/watch/namespaces/default/configmaps/existing`);
  assert.equal(nameOf(await legacy.next()), 'ADDED existing');
  legacy.close();
});

test('watch-list: sendInitialEvents sends the state, then a bookmark marking its end', async () => {
  api.store.create(CONFIG_MAPS, 'kube-public', { metadata: { name: 'cluster-info' } });
  const watch = await openWatch(
    `${api.url}/api/v1/namespaces/kube-public/configmaps?watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan`,
  );
  assert.equal(nameOf(await watch.next()), 'ADDED cluster-info');
  const end = await watch.next();
  assert.equal(end !== 'end' && end.type, 'BOOKMARK');
  assert.deepEqual(((end as WatchEvent).object['metadata'] as JsonObject)['annotations'], { 'k8s.io/initial-events-end': 'true' });
  watch.close();
  assertStatus(await call('GET', '/api/v1/pods?watch=true&resourceVersion=abc'), 400, 'BadRequest', 'resourceVersion');
});

test('bookmarks carry only the current resourceVersion; timeoutSeconds ends the stream', async () => {
  const watch = await openWatch(`${api.url}/api/v1/nodes?watch=true&resourceVersion=${api.store.resourceVersion}&allowWatchBookmarks=true&timeoutSeconds=1`);
  const bookmark = await watch.next(2000);
  assert.notEqual(bookmark, 'end');
  assert.equal((bookmark as WatchEvent).type, 'BOOKMARK');
  assert.deepEqual((bookmark as WatchEvent).object, { kind: 'Node', apiVersion: 'v1', metadata: { resourceVersion: api.store.resourceVersion } });
  const started = Date.now();
  let last: WatchEvent | 'end' = bookmark;
  while (last !== 'end') last = await watch.next(3000);
  assert.ok(Date.now() - started < 2500, 'the stream ended near its timeout');
});

test('a resourceVersion older than the retained history gets ERROR 410 Expired, then the end', async () => {
  const old = api.store.resourceVersion;
  for (let i = 0; i < 25; i++) api.store.create(CONFIG_MAPS, 'default', { metadata: { name: `churn-${i}` } });
  const watch = await openWatch(`${api.url}/api/v1/configmaps?watch=true&resourceVersion=${old}`);
  const error = await watch.next();
  assert.notEqual(error, 'end');
  assert.equal((error as WatchEvent).type, 'ERROR');
  const status = (error as WatchEvent).object;
  assert.equal(status['kind'], 'Status');
  assert.equal(status['code'], 410);
  assert.equal(status['reason'], 'Expired');
  assert.match(String(status['message']), /^too old resource version: \d+ \(\d+\)$/);
  assert.equal(await watch.next(), 'end');

  const recent = api.store.resourceVersion;
  api.faults.compactHistory();
  api.store.create(CONFIG_MAPS, 'default', { metadata: { name: 'after-compaction' } });
  const compacted = await openWatch(`${api.url}/api/v1/configmaps?watch=true&resourceVersion=${Number(recent) - 1}`);
  const afterCompaction = await compacted.next();
  assert.equal(afterCompaction !== 'end' && afterCompaction.type, 'ERROR', 'a compacted history expires every older version');
  assert.equal(await compacted.next(), 'end');
});

test('faults: failures with Retry-After, matchers, crashes, latency, dropped watches', async () => {
  api.faults.failNext(2, { code: 429, retryAfterSeconds: 7, match: { method: 'GET', path: '/api/v1/nodes' } });
  const other = await call('GET', '/api/v1/namespaces');
  assert.equal(other.status, 200, 'a request the matcher does not select is served');
  const limited = await call('GET', '/api/v1/nodes');
  assertStatus(limited, 429, 'TooManyRequests');
  assert.equal(limited.headers.get('retry-after'), '7');
  assert.equal((limited.body['details'] as JsonObject)['retryAfterSeconds'], 7);
  assert.equal((await call('GET', '/api/v1/nodes')).status, 429);
  assert.equal((await call('GET', '/api/v1/nodes')).status, 200, 'two failures, then served');

  api.faults.failNext(1);
  assertStatus(await call('GET', '/version'), 500, 'InternalError');

  api.faults.crashNext(1, (request) => request.method === 'POST');
  const crashed = await call('POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'never' } });
  assertStatus(crashed, 500, 'InternalError', 'injected handler crash');
  assert.equal(internalErrors.length, 1, 'the crash was reported');
  internalErrors.length = 0;
  assert.equal((await call('GET', '/api/v1/namespaces/default/configmaps/never')).status, 404, 'the server lives on, nothing was written');

  api.faults.addLatency(150, { path: /\/configmaps$/ });
  const started = Date.now();
  await call('GET', '/api/v1/namespaces/default/configmaps');
  assert.ok(Date.now() - started >= 140, 'latency added');
  api.faults.clearLatency();

  const watch = await openWatch(`${api.url}/api/v1/pods?watch=true&resourceVersion=${api.store.resourceVersion}`);
  assert.ok(api.openWatches >= 1);
  assert.ok(api.faults.dropWatches() >= 1);
  assert.equal(await watch.next(), 'end');
  const reset = await openWatch(`${api.url}/api/v1/pods?watch=true&resourceVersion=${api.store.resourceVersion}`);
  api.faults.dropWatches('reset');
  assert.equal(await reset.next(), 'end');
});

test('close ends open watches and frees the port', async () => {
  const own = await startApiServer();
  const watch = await openWatch(`${own.url}/api/v1/pods?watch=true`);
  const started = Date.now();
  await own.close();
  assert.equal(await watch.next(), 'end');
  assert.ok(Date.now() - started < 2000);
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen(own.port, '127.0.0.1', () => resolve());
  });
  await new Promise<void>((resolve) => probe.close(() => resolve()));
});

test('a client that goes away while its request is delayed is not an internal error', async () => {
  const errors: string[] = [];
  const server = await startApiServer({ onInternalError: (error, request) => errors.push(`${request.method} ${request.path}: ${String(error)}`) });
  server.faults.addLatency(200);
  const aborter = new AbortController();
  const sent = fetch(`${server.url}/api/v1/namespaces/default/configmaps`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: '{"metadata":{"name":"x"}}',
    signal: aborter.signal,
  }).catch(() => undefined);
  setTimeout(() => aborter.abort(), 50);
  await sent;
  await new Promise((resolve) => setTimeout(resolve, 300));
  await server.close();
  assert.deepEqual(errors, []);
});
