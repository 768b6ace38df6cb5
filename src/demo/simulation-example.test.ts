import assert from 'node:assert/strict';
import { test } from 'node:test';

import { DEMO_POLICIES, runSimulationExample } from './simulation-example.js';

test('the simulation example fills the built-in cluster under each demo policy and prints their figures', async () => {
  const text = await runSimulationExample();
  for (const policy of DEMO_POLICIES) assert.match(text, new RegExp(`^${policy} +\\d+\\.\\d\\d ± \\d+\\.\\d\\d`, 'm'));
  assert.match(text, /built-in example cluster \(48 nodes, 272 GPUs\)/);
  assert.match(text, /x=100/);
});
