import assert from 'node:assert/strict';
import { test } from 'node:test';

import { NODE_HANDSHAKE, NODE_MONITOR_URL, NODE_NVIDIA_REGISTER, NODE_NVIDIA_SCORE } from '../core/annotations.js';
import { encodeNodeRegister } from '../core/codec/index.js';
import { gpu } from '../core/testing/builders.js';
import { registrationPatch } from './node-annotations.js';

const NOW = new Date('2026-11-27T10:00:00.250Z');
const healthyB = gpu('GPU-b', { index: 1 });
const devices = [gpu('GPU-a', { index: 0 }), healthyB];
const links = [
  { from: 'GPU-a', to: 'GPU-b', score: 1220 },
  { from: 'GPU-b', to: 'GPU-a', score: 1220 },
];

test('a bare node gets the register and score annotations', () => {
  const patch = registrationPatch({}, { devices, links, topologyScore: true }, NOW);
  assert.equal(patch?.[NODE_NVIDIA_REGISTER], encodeNodeRegister(devices));
  assert.equal(patch?.[NODE_NVIDIA_SCORE], '[{"uuid":"GPU-a","score":{"GPU-b":1220}},{"uuid":"GPU-b","score":{"GPU-a":1220}}]');
  assert.equal(patch?.[NODE_HANDSHAKE], undefined, 'no handshake is written unasked');
});

test('nothing is written when the node already says it', () => {
  const first = registrationPatch({}, { devices, links, topologyScore: true }, NOW) as Record<string, string>;
  assert.equal(registrationPatch(first, { devices, links, topologyScore: true }, NOW), undefined);
});

test('a health change rewrites only the register annotation', () => {
  const first = registrationPatch({}, { devices, links, topologyScore: true }, NOW) as Record<string, string>;
  const sick = [gpu('GPU-a', { index: 0 }), { ...healthyB, healthy: false }];
  assert.deepEqual(Object.keys(registrationPatch(first, { devices: sick, links, topologyScore: true }, NOW) ?? {}), [NODE_NVIDIA_REGISTER]);
});

test('scores are removed when topology scoring is off or no pair is left', () => {
  const first = registrationPatch({}, { devices, links, topologyScore: true }, NOW) as Record<string, string>;
  assert.deepEqual(registrationPatch(first, { devices, links, topologyScore: false }, NOW), { [NODE_NVIDIA_SCORE]: null });
  assert.deepEqual(registrationPatch(first, { devices, links: [], topologyScore: true }, NOW), { [NODE_NVIDIA_SCORE]: null });
});

test("the scheduler's handshake request is answered once, with the time", () => {
  const registered = registrationPatch({}, { devices, links: [], topologyScore: true }, NOW) as Record<string, string>;
  const asked = { ...registered, [NODE_HANDSHAKE]: 'Requesting_2026-11-27 09:59:58' };
  assert.deepEqual(registrationPatch(asked, { devices, links: [], topologyScore: true }, NOW), {
    [NODE_HANDSHAKE]: 'Reported 2026-11-27 10:00:00.25 +0000 UTC',
  });
  const deleted = { ...registered, [NODE_HANDSHAKE]: 'Deleted_2026-11-27 09:00:00' };
  assert.ok(registrationPatch(deleted, { devices, links: [], topologyScore: true }, NOW)?.[NODE_HANDSHAKE]?.startsWith('Reported '));
  const answered = { ...registered, [NODE_HANDSHAKE]: 'Reported 2026-11-27 10:00:00.25 +0000 UTC' };
  assert.equal(registrationPatch(answered, { devices, links: [], topologyScore: true }, NOW), undefined);
});

test("the monitor's URL is advertised when given and rewritten only when it changes", () => {
  const registered = registrationPatch({}, { devices, links: [], topologyScore: true }, NOW) as Record<string, string>;
  assert.equal(registered[NODE_MONITOR_URL], undefined, 'nothing advertised unless asked');
  const url = 'http://10.0.3.7:9394/metrics';
  assert.deepEqual(registrationPatch(registered, { devices, links: [], topologyScore: true, monitorUrl: url }, NOW), { [NODE_MONITOR_URL]: url });
  assert.equal(registrationPatch({ ...registered, [NODE_MONITOR_URL]: url }, { devices, links: [], topologyScore: true, monitorUrl: url }, NOW), undefined);
});
