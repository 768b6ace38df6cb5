/**
 * The webhook over real sockets on port 0: every path answers a status, bad bodies are refused
 * with the right code and the server keeps serving; over HTTPS, replaced certificate files are
 * served without a restart.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { connect } from 'node:tls';

import { DEFAULT_DEVICE_CONFIG } from '../config/device-config.js';
import type { Vendor } from '../core/vendors/vendor.js';
import type { AdmissionReviewResponse, NamespaceContext } from './admission.js';
import { startWebhookServer, type AdmissionEvent, type WebhookServer } from './server.js';

const gpuPod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'trainer', namespace: 'team' },
  spec: { schedulerName: 'default-scheduler', containers: [{ name: 'main', resources: { limits: { 'nvidia.com/gpu': '1', 'nvidia.com/gpumem': '3000' } } }] },
};
const cpuPod = { metadata: { name: 'web' }, spec: { containers: [{ name: 'main' }] } };

function review(object: object, uid = 'uid-1', namespace = 'team'): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: { uid, kind: { group: '', version: 'v1', kind: 'Pod' }, namespace, operation: 'CREATE', object },
  });
}

interface Reply {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly text: string;
}

async function call(url: string, method: string, body?: string | Buffer, contentType = 'application/json'): Promise<Reply> {
  const init: RequestInit = { method, headers: { 'Content-Type': contentType } };
  if (body !== undefined) init.body = body;
  const response = await fetch(url, init);
  const text = await response.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // Plain text (healthz).
  }
  return { status: response.status, body: parsed, text };
}

function assertStatus(reply: Reply, code: number, reason: string, mentions: string): void {
  assert.equal(reply.status, code, reply.text);
  assert.equal(reply.body['kind'], 'Status');
  assert.equal(reply.body['code'], code);
  assert.equal(reply.body['reason'], reason);
  assert.ok(String(reply.body['message']).includes(mentions), `${String(reply.body['message'])} should mention ${mentions}`);
}

let server: WebhookServer;
const lookups: string[] = [];
const errors: { error: unknown; where: string }[] = [];
const events: AdmissionEvent[] = [];

/** Vendor whose module has a bug on pods named `bug`, to reach the 500 safety net. */
function buggy(): Vendor {
  return {
    name: 'BUGGY',
    containerAsk: (container) => {
      if (container.name === 'bug') throw new TypeError('vendor module bug');
      return null;
    },
    constraints: () => ({ useTypes: [], avoidTypes: [], useIds: [], avoidIds: [], numaBind: false, mode: null }),
    matches: () => null,
    grant: () => 'CardNotHealth',
    mayGrant: () => false,
  };
}

before(async () => {
  const { vendorsFromConfig } = await import('../config/vendors.js');
  server = await startWebhookServer({
    admission: { config: DEFAULT_DEVICE_CONFIG, vendors: [...vendorsFromConfig(DEFAULT_DEVICE_CONFIG), buggy()] },
    lookupNamespace: async (namespace): Promise<NamespaceContext> => {
      lookups.push(namespace);
      if (namespace === 'broken') throw new Error('informer not synced');
      if (namespace === 'slow') return new Promise(() => undefined);
      if (namespace === 'quiet') return { labels: { 'hami.io/webhook': 'ignore' } };
      return {
        quota: {
          quotas: [{ metadata: { name: 'gpu-quota' }, spec: { hard: { 'limits.nvidia.com/gpumem': '4000' } } }],
          used: { 'nvidia.com/gpumem': namespace === 'full' ? 2000 : 0 },
        },
      };
    },
    lookupTimeoutMs: 200,
    onError: (error, where) => errors.push({ error, where }),
    onAdmission: (event) => events.push(event),
  });
});

after(async () => {
  await server.close();
});

/** A good review still gets its answer: the server survived whatever came before. */
async function stillServing(uid: string): Promise<void> {
  const reply = await call(`${server.url}/webhook`, 'POST', review(gpuPod, uid));
  assert.equal(reply.status, 200, reply.text);
  const answer = reply.body as unknown as AdmissionReviewResponse;
  assert.equal(answer.response.uid, uid);
  assert.equal(answer.response.allowed, true);
}

test('a good review: 200, the uid echoed, a patch routing the pod', async () => {
  const reply = await call(`${server.url}/webhook`, 'POST', review(gpuPod, 'e1b2c3'));
  assert.equal(reply.status, 200, reply.text);
  const answer = reply.body as unknown as AdmissionReviewResponse;
  assert.equal(answer.apiVersion, 'admission.k8s.io/v1');
  assert.equal(answer.kind, 'AdmissionReview');
  assert.equal(answer.response.uid, 'e1b2c3');
  assert.equal(answer.response.allowed, true);
  assert.equal(answer.response.patchType, 'JSONPatch');
  const patch = JSON.parse(Buffer.from(answer.response.patch ?? '', 'base64').toString('utf8')) as unknown;
  assert.deepEqual(patch, [{ op: 'replace', path: '/spec/schedulerName', value: 'hami-scheduler' }]);
  assert.equal(lookups.at(-1), 'team');
  const event = events.at(-1);
  assert.equal(event?.pod, 'team/trainer');
  assert.equal(event?.outcome, 'mutated');
});

test('decisions that depend on the namespace: quota and the ignore label', async () => {
  const full = await call(`${server.url}/webhook`, 'POST', review({ ...gpuPod, metadata: { name: 'p', namespace: 'full' } }, 'q1', 'full'));
  const answer = full.body as unknown as AdmissionReviewResponse;
  assert.equal(full.status, 200);
  assert.equal(answer.response.allowed, false);
  assert.equal(answer.response.status?.code, 403);
  assert.match(answer.response.status?.message ?? '', /"gpu-quota".*requested 3000 MiB, used 2000 MiB, hard 4000 MiB/);

  const quiet = await call(`${server.url}/webhook`, 'POST', review(gpuPod, 'q2', 'quiet'));
  assert.deepEqual((quiet.body as unknown as AdmissionReviewResponse).response, { uid: 'q2', allowed: true });

  const before = lookups.length;
  const cpu = await call(`${server.url}/webhook`, 'POST', review(cpuPod, 'q3'));
  assert.deepEqual((cpu.body as unknown as AdmissionReviewResponse).response, { uid: 'q3', allowed: true });
  assert.equal(lookups.length, before, 'a pod without GPUs does not wait on the namespace');
});

test('every bad request gets a status, and the server keeps serving', async () => {
  const url = `${server.url}/webhook`;
  const cases: { name: string; send: () => Promise<Reply>; code: number; reason: string; mentions: string }[] = [
    { name: 'malformed JSON', send: () => call(url, 'POST', '{"apiVersion": '), code: 400, reason: 'BadRequest', mentions: 'not valid JSON' },
    { name: 'empty body', send: () => call(url, 'POST', ''), code: 400, reason: 'BadRequest', mentions: 'not valid JSON' },
    {
      name: 'not an AdmissionReview',
      send: () => call(url, 'POST', JSON.stringify({ apiVersion: 'v1', kind: 'Pod' })),
      code: 400,
      reason: 'BadRequest',
      mentions: 'malformed AdmissionReview: apiVersion',
    },
    {
      name: 'wrong content type',
      send: () => call(url, 'POST', review(gpuPod), 'application/yaml'),
      code: 415,
      reason: 'UnsupportedMediaType',
      mentions: 'application/json',
    },
    {
      name: 'a body over 1 MiB',
      send: () => call(url, 'POST', Buffer.alloc(1024 * 1024 + 1, 0x20)),
      code: 413,
      reason: 'RequestEntityTooLarge',
      mentions: '1048576 bytes',
    },
    { name: 'GET /webhook', send: () => call(url, 'GET'), code: 405, reason: 'MethodNotAllowed', mentions: 'only POST' },
    { name: 'an unknown path', send: () => call(`${server.url}/mutate`, 'POST', review(gpuPod)), code: 404, reason: 'NotFound', mentions: 'POST /webhook' },
    {
      name: 'the namespace lookup fails',
      send: () => call(url, 'POST', review(gpuPod, 'b1', 'broken')),
      code: 500,
      reason: 'InternalError',
      mentions: 'informer not synced',
    },
    {
      name: 'the namespace lookup hangs',
      send: () => call(url, 'POST', review(gpuPod, 'b2', 'slow')),
      code: 500,
      reason: 'InternalError',
      mentions: 'took longer than 200 ms',
    },
    {
      name: 'a bug in the decision',
      send: () => call(url, 'POST', review({ spec: { containers: [{ name: 'bug' }] } })),
      code: 500,
      reason: 'InternalError',
      mentions: 'vendor module bug',
    },
  ];
  for (const [i, c] of cases.entries()) {
    assertStatus(await c.send(), c.code, c.reason, c.mentions);
    await stillServing(`after-${i}`);
  }
  assert.deepEqual(
    errors.map((e) => e.where),
    ['POST /webhook namespace lookup', 'POST /webhook namespace lookup', 'POST /webhook'],
  );
  const health = await call(`${server.url}/healthz`, 'GET');
  assert.deepEqual([health.status, health.text], [200, 'ok']);
  const ready = await call(`${server.url}/readyz`, 'GET');
  assert.equal(ready.status, 200);
});

// ---------------------------------------------------------------------------------------------
// HTTPS and certificate rotation

interface Pair {
  readonly cert: string;
  readonly key: string;
  readonly fingerprint: string;
}

function selfSigned(dir: string, name: string): Pair {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', keyFile, '-out', certFile],
    { stdio: 'ignore' },
  );
  const cert = readFileSync(certFile, 'utf8');
  return { cert, key: readFileSync(keyFile, 'utf8'), fingerprint: new X509Certificate(cert).fingerprint256 };
}

/** The certificate a fresh TLS connection is served. */
function servedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false }, () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      socket.end();
      resolve(fingerprint);
    });
    socket.on('error', reject);
  });
}

/** POST over HTTPS, trusting only `ca`: the certificate must verify for 127.0.0.1. */
function postTrusting(url: string, ca: string, body: string): Promise<{ status: number; body: AdmissionReviewResponse }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(`${url}/webhook`, { method: 'POST', ca, agent: false, headers: { 'Content-Type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as AdmissionReviewResponse }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Writes a file the way a rotation does: a new file renamed over the old one. */
function replace(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('HTTPS: a rotated certificate is served without a restart', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-webhook-tls-'));
  const tlsErrors: unknown[] = [];
  let https: WebhookServer | undefined;
  try {
    const first = selfSigned(dir, 'first');
    const second = selfSigned(dir, 'second');
    const certFile = join(dir, 'tls.crt');
    const keyFile = join(dir, 'tls.key');
    writeFileSync(certFile, first.cert);
    writeFileSync(keyFile, first.key);

    https = await startWebhookServer({
      admission: { config: DEFAULT_DEVICE_CONFIG },
      tls: { certFile, keyFile, reloadIntervalMs: 20 },
      onError: (error) => tlsErrors.push(error),
    });
    const port = https.port;
    assert.ok(https.url.startsWith('https://127.0.0.1:'));
    assert.equal(await servedFingerprint(port), first.fingerprint);
    const answer = await postTrusting(https.url, first.cert, review(gpuPod, 'tls-1'));
    assert.equal(answer.status, 200);
    assert.equal(answer.body.response.uid, 'tls-1');

    // Half a rotation: the new certificate beside the old key. Refused, reported, old pair kept.
    replace(certFile, second.cert);
    await eventually('the mismatched pair to be reported', async () => tlsErrors.length > 0);
    assert.match(String(tlsErrors[0]), /cannot be used.*key belongs to the certificate/);
    assert.equal(await servedFingerprint(port), first.fingerprint);

    replace(keyFile, second.key);
    await eventually('the new certificate to be served', async () => (await servedFingerprint(port)) === second.fingerprint);
    const rotated = await postTrusting(https.url, second.cert, review(gpuPod, 'tls-2'));
    assert.equal(rotated.body.response.uid, 'tls-2');
    await assert.rejects(postTrusting(https.url, first.cert, review(gpuPod, 'tls-3')), /self[- ]signed|unable to verify|certificate/i);

    // And back, in place (no rename), checked on demand rather than by the poll.
    writeFileSync(keyFile, first.key);
    writeFileSync(certFile, first.cert);
    await https.reloadCertificates();
    assert.equal(await servedFingerprint(port), first.fingerprint);
    // The poll may also catch the in-place rewrite half done; nothing else is reported.
    for (const error of tlsErrors) assert.match(String(error), /cannot be used/);
  } finally {
    await https?.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('HTTPS refuses to start on a pair that does not match', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-webhook-tls-'));
  try {
    const a = selfSigned(dir, 'a');
    const b = selfSigned(dir, 'b');
    writeFileSync(join(dir, 'tls.crt'), a.cert);
    writeFileSync(join(dir, 'tls.key'), b.key);
    await assert.rejects(
      startWebhookServer({ admission: { config: DEFAULT_DEVICE_CONFIG }, tls: { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') } }),
      /tls\.crt with key .*tls\.key cannot be used/,
    );
    await assert.rejects(
      startWebhookServer({ admission: { config: DEFAULT_DEVICE_CONFIG }, tls: { certFile: join(dir, 'missing.crt'), keyFile: join(dir, 'tls.key') } }),
      /ENOENT/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
