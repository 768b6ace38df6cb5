import assert from 'node:assert/strict';
import { test } from 'node:test';

import { gpu } from '../core/testing/builders.js';
import { deviceSlots, preferredSlots, slotDevice } from './slots.js';

test('each GPU is advertised split-count times; unhealthy and cordoned GPUs as Unhealthy', () => {
  const devices = [gpu('GPU-a', { splitCount: 2, numa: 1 }), gpu('GPU-b', { splitCount: 2, healthy: false }), gpu('GPU-c', { splitCount: 1 })];
  const slots = deviceSlots(devices, new Set(['GPU-c']), false);
  assert.deepEqual(slots, [
    { id: 'GPU-a::0', health: 'Healthy' },
    { id: 'GPU-a::1', health: 'Healthy' },
    { id: 'GPU-b::0', health: 'Unhealthy' },
    { id: 'GPU-b::1', health: 'Unhealthy' },
    { id: 'GPU-c::0', health: 'Unhealthy' },
  ]);
  assert.deepEqual(deviceSlots(devices, new Set(), true)[0], { id: 'GPU-a::0', health: 'Healthy', numa: 1 });
  const longest = deviceSlots([gpu('GPU-12345678-1234-1234-1234-123456789012', { splitCount: 100 })], new Set(), false);
  assert.ok(longest.every((s) => s.id.length <= 63), 'slot ids fit the kubelet limit of 63 characters');
});

test('preferred slots keep the required ones and spread over GPUs', () => {
  const available = ['GPU-a::0', 'GPU-a::1', 'GPU-b::0', 'GPU-b::1', 'GPU-c::0'];
  assert.deepEqual(preferredSlots(available, [], 2), ['GPU-a::0', 'GPU-b::0']);
  assert.deepEqual(preferredSlots(available, ['GPU-b::1'], 2), ['GPU-b::1', 'GPU-a::0']);
  assert.deepEqual(preferredSlots(available, [], 4), ['GPU-a::0', 'GPU-b::0', 'GPU-c::0', 'GPU-a::1']);
  assert.equal(slotDevice('GPU-a::7'), 'GPU-a');
});
