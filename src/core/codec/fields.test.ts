import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  civilToDate,
  compareCodePoints,
  deviceIdReason,
  dns1123LabelReason,
  dns1123SubdomainReason,
  formatUtc,
  goJson,
  INT32_MAX,
  parseIntText,
  readJsonInt,
  writableTimeReason,
} from './fields.js';

test('parseIntText reads decimal integers the way Go ParseInt does, within int32', () => {
  const cases: readonly { text: string; min: number; want: number | 'error' }[] = [
    { text: '0', min: 0, want: 0 },
    { text: '007', min: 0, want: 7 },
    { text: '-0', min: 0, want: 0 },
    { text: '-1', min: -1, want: -1 },
    { text: '-1', min: 0, want: 'error' },
    { text: '0', min: 1, want: 'error' },
    { text: String(INT32_MAX), min: 0, want: INT32_MAX },
    { text: String(INT32_MAX + 1), min: 0, want: 'error' },
    { text: '+1', min: 0, want: 'error' },
    { text: '1.0', min: 0, want: 'error' },
    { text: '1e2', min: 0, want: 'error' },
    { text: ' 1', min: 0, want: 'error' },
    { text: '', min: 0, want: 'error' },
    { text: '٣', min: 0, want: 'error' },
  ];
  for (const { text, min, want } of cases) {
    const got = parseIntText(text, min);
    if (want === 'error') assert.equal(typeof got, 'object', text);
    else assert.ok(Object.is(got, want), `${text}: got ${String(got)}`);
  }
  assert.ok(Object.is(readJsonInt(-0, 0), 0), 'JSON -0 reads as 0');
  assert.equal(typeof readJsonInt('1', 0), 'object');
  assert.equal(typeof readJsonInt(1.5, 0), 'object');
});

test('name rules follow Kubernetes DNS-1123 and the wire separators', () => {
  const cases: readonly { name: string; got: string | undefined; ok: boolean }[] = [
    { name: 'id', got: deviceIdReason('GPU-0fc3eda5-e98b-a25b-5b0d-cf5c855d1448'), ok: true },
    { name: 'id empty', got: deviceIdReason(''), ok: false },
    { name: 'id with ";"', got: deviceIdReason('a;b'), ok: false },
    { name: 'label', got: dns1123LabelReason('kube-system'), ok: true },
    { name: 'label of 63', got: dns1123LabelReason('a'.repeat(63)), ok: true },
    { name: 'label of 64', got: dns1123LabelReason('a'.repeat(64)), ok: false },
    { name: 'label starting with "-"', got: dns1123LabelReason('-a'), ok: false },
    { name: 'label with a dot', got: dns1123LabelReason('a.b'), ok: false },
    { name: 'subdomain', got: dns1123SubdomainReason('gpu-pod.v1'), ok: true },
    { name: 'subdomain ending in "."', got: dns1123SubdomainReason('a.'), ok: false },
    { name: 'subdomain upper case', got: dns1123SubdomainReason('A'), ok: false },
  ];
  for (const { name, got, ok } of cases) assert.equal(got === undefined, ok, name);
});

test('civil times: Go time.Parse ranges, years 0–99 not shifted, offsets applied', () => {
  const at = (y: number, mo: number, d: number, h = 0, mi = 0, s = 0, offset = 0) =>
    civilToDate({ year: y, month: mo, day: d, hour: h, minute: mi, second: s }, offset);
  assert.deepEqual(at(2024, 2, 29), new Date('2024-02-29T00:00:00Z'));
  assert.deepEqual(at(2000, 2, 29), new Date('2000-02-29T00:00:00Z'));
  assert.deepEqual(at(42, 1, 1), new Date('0042-01-01T00:00:00Z'));
  assert.deepEqual(at(2026, 8, 21, 16, 20, 39, 480), new Date('2026-08-21T08:20:39Z'));
  for (const bad of [at(2100, 2, 29), at(2026, 0, 1), at(2026, 6, 31), at(2026, 1, 1, 24), at(2026, 1, 1, 0, 60), at(2026, 1, 1, 0, 0, 60)]) {
    assert.ok(!(bad instanceof Date));
  }
  assert.equal(formatUtc(new Date('0042-03-04T05:06:07.890Z'), 'T'), '0042-03-04T05:06:07');
  assert.equal(writableTimeReason(new Date('9999-12-31T23:59:59Z')), undefined);
  assert.notEqual(writableTimeReason(new Date('+010000-01-01T00:00:00Z')), undefined);
  assert.notEqual(writableTimeReason(new Date(NaN)), undefined);
});

test('goJson escapes like Go encoding/json; compareCodePoints orders like Go strings', () => {
  assert.equal(goJson({ a: '<&>\u2028\u2029é' }), '{"a":"\\u003c\\u0026\\u003e\\u2028\\u2029é"}');
  // U+FF61 sorts before U+1F600 by code point (and UTF-8 bytes), after it by UTF-16 unit.
  assert.deepEqual(['😀', '｡', 'b', 'a', 'ab'].sort(compareCodePoints), ['a', 'ab', 'b', '｡', '😀']);
});
