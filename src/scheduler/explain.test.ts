import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ExplanationLog, type FilterExplanation } from './explain.js';

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
