import assert from 'node:assert/strict';
import { test } from 'node:test';

import { deviceModel } from './device.js';

test('the model is the type without the vendor prefix HAMi adds', () => {
  const cases: [string, string, string][] = [
    ['NVIDIA', 'NVIDIA-NVIDIA A100-SXM4-80GB', 'NVIDIA A100-SXM4-80GB'],
    ['NVIDIA', 'NVIDIA-Tesla T4', 'Tesla T4'],
    ['NVIDIA', 'Tesla T4', 'Tesla T4'],
    ['MLU', 'MLU-370', '370'],
    ['NVIDIA', 'NVIDIA-', 'NVIDIA-'],
  ];
  for (const [vendor, type, want] of cases) assert.equal(deviceModel({ vendor, type }), want, type);
});
