import assert from 'node:assert/strict';
import { test } from 'node:test';

import { parseScaledQuantity, parseWholeQuantity } from './quantity.js';

test('whole-number quantities', () => {
  const cases: [string | number, number | string][] = [
    ['1', 1],
    ['3000', 3000],
    ['3k', 3000],
    ['4Gi', 4 * 1024 ** 3],
    ['2Mi', 2 * 1024 ** 2],
    ['1e3', 1000],
    ['1.5k', 1500],
    ['+7', 7],
    ['0', 0],
    ['-0', 0],
    [' 12 ', 12],
    [42, 42],
    ['2000m', 2],
    ['1.5', 'not a whole number'],
    ['500m', 'not a whole number'],
    ['-1', 'negative'],
    ['abc', 'not a quantity'],
    ['', 'not a quantity'],
    ['1Gb', 'not a quantity'],
    ['1e40', 'too large'],
    ['99999999999999999999', 'too large'],
    [1.5, 'not a whole number'],
    [Number.NaN, 'not a quantity'],
  ];
  for (const [input, want] of cases) assert.equal(parseWholeQuantity(input), want, String(input));
});

test('CPU in millicores and memory in MiB, rounded up like Kubernetes', () => {
  const cases: [string | number, 'milli' | 'MiB', number | string][] = [
    ['500m', 'milli', 500],
    ['0.5', 'milli', 500],
    ['2', 'milli', 2000],
    [1.5, 'milli', 1500],
    ['0.0001', 'milli', 1],
    ['100Mi', 'MiB', 100],
    ['1Gi', 'MiB', 1024],
    ['1G', 'MiB', 954],
    ['1', 'MiB', 1],
    ['0', 'MiB', 0],
    ['-1', 'milli', 'negative'],
    ['lots', 'MiB', 'not a quantity'],
    [Number.NaN, 'milli', 'not a quantity'],
  ];
  for (const [input, unit, want] of cases) assert.equal(parseScaledQuantity(input, unit), want, `${String(input)} ${unit}`);
});
