import assert from 'node:assert/strict';
import { test } from 'node:test';

import { pendingReason, waitingPods } from './build-view.js';

test('waitingPods: pods asking this scheduler, without a node, not finished or being deleted', () => {
  const pod = (name: string, spec: { schedulerName?: string; nodeName?: string }, extra: { phase?: string; deleting?: boolean; created?: string } = {}) => ({
    metadata: {
      name,
      namespace: 'ml',
      ...(extra.created !== undefined && { creationTimestamp: extra.created }),
      ...(extra.deleting === true && { deletionTimestamp: '2026-11-27T10:00:00Z' }),
    },
    spec,
    status: extra.phase === undefined ? {} : { phase: extra.phase },
  });
  const pods = [
    pod('waits', { schedulerName: 'hami-scheduler' }, { phase: 'Pending', created: '2026-11-27T09:00:00Z' }),
    pod('new', { schedulerName: 'hami-scheduler' }),
    pod('bad-time', { schedulerName: 'hami-scheduler' }, { created: 'yesterday' }),
    pod('placed', { schedulerName: 'hami-scheduler', nodeName: 'n1' }, { phase: 'Pending' }),
    pod('other', { schedulerName: 'default-scheduler' }, { phase: 'Pending' }),
    pod('failed', { schedulerName: 'hami-scheduler' }, { phase: 'Failed' }),
    pod('going', { schedulerName: 'hami-scheduler' }, { phase: 'Pending', deleting: true }),
  ];
  assert.deepEqual(waitingPods(pods, 'hami-scheduler'), [
    { namespace: 'ml', name: 'waits', createdAt: '2026-11-27T09:00:00.000Z' },
    { namespace: 'ml', name: 'new', createdAt: null },
    { namespace: 'ml', name: 'bad-time', createdAt: null },
  ]);
});

test('pendingReason: the last Filter says why, or that none ran yet', () => {
  const at = '2026-11-27T10:00:00Z';
  assert.equal(pendingReason(undefined), 'waiting for the scheduler: no Filter recorded yet');
  assert.equal(pendingReason({ namespace: 'ml', name: 'p', filter: { at, outcome: 'placed', node: 'n1', candidates: 2, failedNodes: {} } }), 'placed on n1, waiting for bind');
  assert.equal(
    pendingReason({ namespace: 'ml', name: 'p', filter: { at, outcome: 'placed', node: 'n1', candidates: 2, failedNodes: {} }, bind: { at, node: 'n1', error: 'node lock contention' } }),
    'bind to n1 failed: node lock contention',
  );
  assert.equal(pendingReason({ namespace: 'ml', name: 'p', filter: { at, outcome: 'unschedulable', candidates: 2, failedNodes: { n1: 'x', n2: 'y' } } }), 'no node fits (2 refused)');
  assert.equal(pendingReason({ namespace: 'ml', name: 'p', filter: { at, outcome: 'error', candidates: 0, failedNodes: {}, message: 'quota exceeded' } }), 'quota exceeded');
});
