import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';

import { ExplanationLog, type FilterExplanation, serveExplain } from './explain.js';

function placed(failedNodes: Record<string, string>): FilterExplanation {
  return { at: '2026-12-07T08:00:00.000Z', outcome: 'placed', node: 'n9', score: 3, fits: 1, candidates: 10, failedNodes };
}

test('an explanation reads back as it was given: every node with its own reason', () => {
  const log = new ExplanationLog();
  const failedNodes = { n1: '1/1 CardInsufficientMemory', n2: '1/1 CardInsufficientCore', n3: '1/1 CardInsufficientMemory', '42': 'node unregistered' };
  log.filtered('default', 'p', placed(failedNodes));
  log.bound('default', 'p', { at: '2026-12-07T08:00:01.000Z', node: 'n9', error: '' });
  assert.deepEqual(log.get('default', 'p'), { namespace: 'default', name: 'p', filter: placed(failedNodes), bind: { at: '2026-12-07T08:00:01.000Z', node: 'n9', error: '' } });
  assert.equal(log.get('default', 'other'), undefined);
});

test('the oldest pods are forgotten past the pod capacity or the budget of node reasons', () => {
  const reasons = (n: number): Record<string, string> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`n${String(i)}`, '1/1 CardInsufficientMemory']));
  const byCount = new ExplanationLog(2);
  for (const name of ['a', 'b', 'c']) byCount.filtered('default', name, placed({}));
  assert.deepEqual([byCount.size, byCount.get('default', 'a'), byCount.get('default', 'c')?.name], [2, undefined, 'c']);

  const byReasons = new ExplanationLog(100, 250);
  for (const name of ['a', 'b', 'c']) byReasons.filtered('default', name, placed(reasons(100)));
  assert.equal(byReasons.get('default', 'a'), undefined, '300 reasons held: the oldest pod goes');
  assert.equal(Object.keys(byReasons.get('default', 'b')?.filter?.failedNodes ?? {}).length, 100);
  byReasons.filtered('default', 'b', placed(reasons(10)));
  byReasons.filtered('default', 'd', placed(reasons(100)));
  assert.deepEqual([byReasons.size, byReasons.get('default', 'c')?.name], [3, 'c'], 'a new Filter of b gave back what its old one held');
  const alone = new ExplanationLog(100, 5);
  alone.filtered('default', 'big', placed(reasons(50)));
  assert.equal(alone.size, 1, 'the newest pod is kept even over the budget');
});

test('GET /api/v1/explain/<namespace>/<name> answers the decision, 404 for an unknown pod, 400 for a path it cannot read', { timeout: 10_000 }, async () => {
  const log = new ExplanationLog();
  log.filtered('team a', 'p', placed({}));
  const server = createServer((request, response) => {
    if (!serveExplain(log, request, response)) response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${String((server.address() as AddressInfo).port)}/api/v1/explain/`;
  try {
    const found = await fetch(`${base}team%20a/p`);
    assert.equal(found.status, 200);
    assert.equal(((await found.json()) as { name: string }).name, 'p');
    assert.equal((await fetch(`${base}default/nope`)).status, 404);
    assert.equal((await fetch(`${base}only-one`)).status, 400);
    // Not valid percent-encoding: decodeURIComponent throws, which once ended the scheduler's process.
    const malformed = await fetch(`${base}%E0%A4%A/p`, { signal: AbortSignal.timeout(5000) });
    assert.equal(malformed.status, 400);
    assert.match(((await malformed.json()) as { error: string }).error, /namespace>\/<name>/);
    assert.equal((await fetch(`${base}team%20a/p`)).status, 200);
  } finally {
    server.close();
  }
});
