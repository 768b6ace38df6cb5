import assert from 'node:assert/strict';
import { test } from 'node:test';

import { NODE_LOCK } from '../core/annotations.js';
import { BusyNodes, PENDING_TTL_MS } from './busy-nodes.js';

const T0 = new Date('2026-11-27T12:00:00Z');

function harness() {
  let now = T0;
  const locks = new Map<string, string>();
  const nodeObject = (name: string) => ({ metadata: { name, annotations: locks.has(name) ? { [NODE_LOCK]: locks.get(name) ?? '' } : {} } });
  const busy = new BusyNodes({ node: nodeObject, now: () => now });
  return {
    busy,
    locks,
    /** The informer delivers the node as it now is. */
    informer: (name: string) => busy.nodeChanged(nodeObject(name)),
    advance: (ms: number) => (now = new Date(now.getTime() + ms)),
  };
}

test('a node is busy from Filter until the device plugin releases the lock its pod took', () => {
  const h = harness();
  assert.equal(h.busy.busy('n1'), false);
  h.busy.sent('u1', 'n1', 'ns', 'p');
  assert.equal(h.busy.busy('n1'), true, 'sent: Bind will take the lock');
  assert.equal(h.busy.busy('n2'), false);
  // Bind took the lock; the informer shows it: the annotation is followed from now on.
  h.locks.set('n1', '2026-11-27T12:00:00Z,ns,p');
  h.informer('n1');
  assert.equal(h.busy.size, 0);
  assert.equal(h.busy.busy('n1'), true, 'locked');
  // The device plugin released it after Allocate.
  h.locks.delete('n1');
  h.informer('n1');
  assert.equal(h.busy.busy('n1'), false);
});

test("another pod's lock on the node keeps this pod waiting for its own", () => {
  const h = harness();
  h.locks.set('n1', '2026-11-27T12:00:00Z,ns,other');
  h.busy.sent('u1', 'n1', 'ns', 'p');
  h.informer('n1');
  assert.equal(h.busy.size, 1, "only the pod's own lock ends its wait");
  h.locks.delete('n1');
  h.informer('n1');
  assert.equal(h.busy.busy('n1'), true, 'still on its way to the lock');
});

test('a pod that will not take the lock (its Bind failed, it was filtered again or deleted) frees the node', () => {
  const h = harness();
  h.busy.sent('u1', 'n1', 'ns', 'p');
  h.busy.sent('u2', 'n1', 'ns', 'q');
  h.busy.forget('u1');
  assert.equal(h.busy.busy('n1'), true, 'q is still on its way');
  h.busy.sent('u2', 'n2', 'ns', 'q');
  assert.equal(h.busy.busy('n1'), false, 'sent again elsewhere');
  assert.equal(h.busy.busy('n2'), true);
});

test('a pod whose Bind never comes stops counting after the TTL', () => {
  const h = harness();
  h.busy.sent('u1', 'n1', 'ns', 'p');
  h.advance(PENDING_TTL_MS - 1);
  assert.equal(h.busy.busy('n1'), true);
  h.advance(1);
  assert.equal(h.busy.busy('n1'), false);
  assert.equal(h.busy.size, 0);
});

test("an expired lock does not make a node busy (Bind takes it over); one this code cannot read does (Bind refuses it)", () => {
  const h = harness();
  h.locks.set('n1', '2026-11-27T11:54:59Z,ns,old');
  assert.equal(h.busy.busy('n1'), false, 'older than 5 min');
  h.locks.set('n1', '2026-11-27T11:55:00Z,ns,old');
  assert.equal(h.busy.busy('n1'), true, 'exactly 5 min');
  h.locks.set('n1', 'yesterday,ns,p');
  assert.equal(h.busy.busy('n1'), true);
  h.locks.set('n1', '2026-11-27T11:59:00Z');
  assert.equal(h.busy.busy('n1'), true, "HAMi's legacy bare time");
});
