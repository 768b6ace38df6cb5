import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { assertDecodeError, decodeOrReject, fuzz, mutatedText, randomText, wholeSecondDate } from './fuzz-support.test.js';
import type { Handshake } from './handshake.js';
import { decodeHandshake, encodeHandshakeReport, encodeHandshakeRequest } from './handshake.js';

const KEY = 'hami.io/node-handshake';
const utc = (iso: string): Date => new Date(iso);

// HAMi control-plane reference §3 (node annotations) and §2.1 (the three forms).
const REFERENCE_REQUEST = 'Requesting_2026-08-21 08:20:39';

test('reference example decodes and encodes back byte for byte', () => {
  assert.deepEqual(decodeHandshake(REFERENCE_REQUEST), { state: 'requesting', at: utc('2026-08-21T08:20:39Z') });
  assert.equal(encodeHandshakeRequest(utc('2026-08-21T08:20:39Z')), REFERENCE_REQUEST);
});

test('decode reads the three forms', () => {
  const cases: readonly { name: string; text: string; want: Handshake }[] = [
    { name: 'deleted (schedulers before v2.10)', text: 'Deleted_2026-08-21 08:20:39', want: { state: 'deleted', at: utc('2026-08-21T08:20:39Z') } },
    { name: 'leap day', text: 'Requesting_2024-02-29 23:59:59', want: { state: 'requesting', at: utc('2024-02-29T23:59:59Z') } },
    { name: 'year 0000', text: 'Requesting_0000-01-01 00:00:00', want: { state: 'requesting', at: utc('0000-01-01T00:00:00Z') } },
    {
      name: 'reported with Go Time.String(), zone offset and monotonic clock',
      text: 'Reported 2024-03-05 10:11:12.345678901 +0800 CST m=+3.000000001',
      want: { state: 'reported', at: utc('2024-03-05T02:11:12.345Z') },
    },
    {
      name: 'reported in UTC without fraction',
      text: 'Reported 2024-03-05 10:11:12 +0000 UTC',
      want: { state: 'reported', at: utc('2024-03-05T10:11:12Z') },
    },
    { name: 'reported with anything else', text: 'Reported yesterday', want: { state: 'reported', at: null } },
    { name: 'reported with an impossible date', text: 'Reported 2024-02-30 10:11:12 +0000 UTC', want: { state: 'reported', at: null } },
  ];
  for (const { name, text, want } of cases) assert.deepEqual(decodeHandshake(text), want, name);
});

test('encode writes UTC and drops milliseconds', () => {
  assert.equal(encodeHandshakeRequest(utc('2026-01-02T03:04:05.999Z')), 'Requesting_2026-01-02 03:04:05');
  assert.equal(encodeHandshakeRequest(utc('0042-12-31T23:59:59Z')), 'Requesting_0042-12-31 23:59:59');
  for (const bad of [new Date(NaN), utc('+010000-01-01T00:00:00Z'), utc('-000001-12-31T23:59:59Z')]) {
    assert.throws(() => encodeHandshakeRequest(bad), RangeError, String(bad));
  }
});

test('a device plugin\'s report reads back as a report at the same millisecond', () => {
  const cases: readonly [string, string][] = [
    ['2026-08-21T08:20:39.123Z', 'Reported 2026-08-21 08:20:39.123 +0000 UTC'],
    ['2026-08-21T08:20:39.120Z', 'Reported 2026-08-21 08:20:39.12 +0000 UTC'],
    ['2026-08-21T08:20:39.000Z', 'Reported 2026-08-21 08:20:39 +0000 UTC'],
  ];
  for (const [iso, text] of cases) {
    assert.equal(encodeHandshakeReport(utc(iso)), text);
    assert.deepEqual(decodeHandshake(text), { state: 'reported', at: utc(iso) });
  }
  assert.throws(() => encodeHandshakeReport(new Date(Number.NaN)), RangeError);
});

test('decode errors name the field and quote the offending text', () => {
  const cases: readonly { name: string; text: string; field: string; bad: string }[] = [
    { name: 'empty', text: '', field: KEY, bad: '' },
    { name: 'unknown word', text: 'Accepted_2026-08-21 08:20:39', field: KEY, bad: 'Accepted_' },
    { name: 'Requesting without "_"', text: 'Requesting', field: KEY, bad: 'Requesting' },
    { name: 'lower case', text: 'requesting_2026-08-21 08:20:39', field: KEY, bad: 'requesting_' },
    { name: 'RFC 3339 instead of DateTime', text: 'Requesting_2026-08-21T08:20:39Z', field: `${KEY}.time`, bad: '2026-08-21T08:20:39Z' },
    { name: 'no time', text: 'Requesting_', field: `${KEY}.time`, bad: '' },
    { name: 'one-digit hour', text: 'Requesting_2026-08-21 8:20:39', field: `${KEY}.time`, bad: '2026-08-21 8:20:39' },
    { name: 'fraction', text: 'Requesting_2026-08-21 08:20:39.5', field: `${KEY}.time`, bad: '08:20:39.5' },
    { name: 'trailing space', text: 'Deleted_2026-08-21 08:20:39 ', field: `${KEY}.time`, bad: '08:20:39 ' },
    { name: 'month 13', text: 'Requesting_2026-13-01 00:00:00', field: `${KEY}.time`, bad: '2026-13-01' },
    { name: 'February 29 of a common year', text: 'Requesting_2026-02-29 00:00:00', field: `${KEY}.time`, bad: '2026-02-29' },
    { name: 'February 29 of 1900', text: 'Deleted_1900-02-29 00:00:00', field: `${KEY}.time`, bad: '1900-02-29' },
    { name: 'day 0', text: 'Requesting_2026-01-00 00:00:00', field: `${KEY}.time`, bad: '2026-01-00' },
    { name: 'hour 24', text: 'Requesting_2026-01-01 24:00:00', field: `${KEY}.time`, bad: '24:00:00' },
    { name: 'leap second', text: 'Requesting_2016-12-31 23:59:60', field: `${KEY}.time`, bad: '23:59:60' },
  ];
  for (const { name, text, field, bad } of cases) {
    assert.doesNotThrow(() => assertDecodeError(() => decodeHandshake(text), field, bad), name);
  }
  assertDecodeError(() => decodeHandshake('x', 'hami.io/node-handshake-dcu'), 'hami.io/node-handshake-dcu', 'x');
});

test('property: decode(encodeHandshakeRequest(at)) gives a request at the same second', () => {
  fc.assert(
    fc.property(wholeSecondDate(), fc.integer({ min: 0, max: 999 }), (at, ms) => {
      assert.deepEqual(decodeHandshake(encodeHandshakeRequest(new Date(at.getTime() + ms))), { state: 'requesting', at });
    }),
    { numRuns: 2_000 },
  );
});

/** Re-encodes a decoded requesting/deleted value; `Deleted_` shares the request's time layout. */
function reencode(h: Handshake, at: Date): string {
  const request = encodeHandshakeRequest(at);
  return h.state === 'deleted' ? request.replace(/^Requesting_/, 'Deleted_') : request;
}

/** A decoded handshake must carry a whole-second time that reads back the same. */
function checkDecoded(text: string): void {
  const handshake = decodeOrReject(() => decodeHandshake(text));
  if (handshake === undefined) return;
  if (handshake.state === 'reported') {
    assert.ok(handshake.at === null || !Number.isNaN(handshake.at.getTime()), 'reported time');
    return;
  }
  assert.ok(handshake.at !== null && handshake.at.getTime() % 1000 === 0, 'whole seconds');
  assert.deepEqual(decodeHandshake(reencode(handshake, handshake.at)), handshake);
}

test('fuzz: random strings decode to a stable value or a DecodeError', () => {
  const prefixed = fc
    .tuple(fc.constantFrom('Requesting_', 'Deleted_', 'Reported ', ''), randomText())
    .map(([prefix, rest]) => prefix + rest);
  fuzz(prefixed, checkDecoded);
});

test('fuzz: mutated encodings decode to a stable value or a DecodeError', () => {
  const valid = fc
    .tuple(fc.constantFrom('Requesting_', 'Deleted_'), wholeSecondDate())
    .map(([prefix, at]) => encodeHandshakeRequest(at).replace('Requesting_', prefix));
  const examples = [REFERENCE_REQUEST, 'Deleted_2026-08-21 08:20:39', 'Reported 2024-03-05 10:11:12.345678901 +0800 CST m=+3.000000001'];
  fuzz(mutatedText(valid, examples), checkDecoded);
});
