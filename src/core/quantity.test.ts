import assert from 'node:assert/strict';
import { test } from 'node:test';

import { parseWholeQuantity } from './quantity.js';

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
