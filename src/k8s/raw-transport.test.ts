/**
 * The lean transport over HTTPS, as in a cluster: the server's certificate is checked against the
 * kubeconfig's CA, the bearer token is sent, bodies go out with the content type given, and a
 * refusal keeps its HTTP code and Status.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { KubeConfig } from '@kubernetes/client-node';

import { RawResponseError, RawTransport } from './raw-transport.js';

let server: Server | undefined;
let url = '';
let ca = '';
const seen: { method: string; path: string; auth: string; type: string; body: string }[] = [];

before(() => {
  const dir = mkdtempSync(join(tmpdir(), 'raw-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  } catch {
    return; // no openssl: the tests skip
  }
  ca = readFileSync(join(dir, 'cert.pem'), 'utf8');
  server = createServer({ key: readFileSync(join(dir, 'key.pem')), cert: ca }, (request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => {
      seen.push({ method: request.method ?? '', path: request.url ?? '', auth: request.headers.authorization ?? '', type: request.headers['content-type'] ?? '', body: Buffer.concat(chunks).toString() });
      if (request.url?.includes('conflict')) {
        response.writeHead(409, { 'Content-Type': 'application/json', 'Retry-After': '2' });
        response.end(JSON.stringify({ kind: 'Status', status: 'Failure', reason: 'Conflict', message: 'the object has been modified', code: 409 }));
      } else if (request.url?.includes('garbage')) {
        response.writeHead(200, { 'Content-Type': 'text/plain' });
        response.end('<html>');
      } else {
        response.writeHead(200, { 'Content-Type': 'application/json' });
        response.end(JSON.stringify({ kind: 'Pod', metadata: { name: 'p' } }));
      }
    });
  });
  return new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', () => {
    url = `https://127.0.0.1:${(server?.address() as AddressInfo).port}`;
    resolve();
  }));
});

after(() => {
  server?.close();
});

function kubeConfig(withCa: boolean): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: url, ...(withCa && { caData: Buffer.from(ca).toString('base64') }) }],
    users: [{ name: 'u', token: 'sekret-token' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

test('HTTPS with the kubeconfig CA and bearer token; JSON both ways', async (t) => {
  if (!server) return t.skip('openssl is not installed');
  const transport = new RawTransport(kubeConfig(true));
  const answer = await transport.request('PATCH', '/api/v1/namespaces/default/pods/p', { metadata: { annotations: { a: 'b' } } }, 'application/merge-patch+json');
  assert.deepEqual(answer, { kind: 'Pod', metadata: { name: 'p' } });
  assert.deepEqual(seen.at(-1), {
    method: 'PATCH',
    path: '/api/v1/namespaces/default/pods/p',
    auth: 'Bearer sekret-token',
    type: 'application/merge-patch+json',
    body: '{"metadata":{"annotations":{"a":"b"}}}',
  });
  await transport.request('GET', '/api/v1/nodes/n');
  assert.equal(seen.at(-1)?.type, '', 'no content type without a body');
  transport.close();
});

test('a certificate the CA did not sign is refused; a refusal keeps code, Status and Retry-After; non-JSON is an error', async (t) => {
  if (!server) return t.skip('openssl is not installed');
  const untrusted = new RawTransport(kubeConfig(false));
  await assert.rejects(untrusted.request('GET', '/api/v1/nodes/n'), (e: unknown) => e instanceof RawResponseError && e.httpCode === 0 && /self.signed|certificate/i.test(e.message));
  untrusted.close();
  const transport = new RawTransport(kubeConfig(true));
  await assert.rejects(transport.request('GET', '/conflict'), (e: unknown) => e instanceof RawResponseError && e.httpCode === 409 && e.status?.['reason'] === 'Conflict' && e.retryAfterHeader === '2');
  await assert.rejects(transport.request('GET', '/garbage'), (e: unknown) => e instanceof RawResponseError && e.httpCode === 200 && /not JSON/.test(e.message));
  transport.close();
});
