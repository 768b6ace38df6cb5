import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { assertDecodeError, decodeOrReject, fuzz, mutatedText, randomText, wholeSecondDate } from './fuzz-support.test.js';
import type { NodeLock } from './node-lock.js';
import { decodeNodeLock, encodeNodeLock } from './node-lock.js';

const KEY = 'hami.io/mutex.lock';
const utc = (iso: string): Date => new Date(iso);

// HAMi control-plane reference §3 (node annotations).
const REFERENCE = '2026-08-21T08:20:39Z,default,gpu-pod';

test('reference example decodes and encodes back byte for byte', () => {
  assert.deepEqual(decodeNodeLock(REFERENCE), {
    at: utc('2026-08-21T08:20:39Z'),
    owner: { namespace: 'default', name: 'gpu-pod' },
  });
  assert.equal(encodeNodeLock(utc('2026-08-21T08:20:39Z'), 'default', 'gpu-pod'), REFERENCE);
});

test('decode reads what Go time.RFC3339 writes and parses', () => {
  const cases: readonly { name: string; text: string; want: NodeLock }[] = [
    {
      name: 'offset east of UTC',
      text: '2026-08-21T16:20:39+08:00,kube-system,gpu-pod.v1',
      want: { at: utc('2026-08-21T08:20:39Z'), owner: { namespace: 'kube-system', name: 'gpu-pod.v1' } },
    },
    {
      name: 'offset west of UTC across midnight',
      text: '2026-08-20T23:50:39-08:30,a,b',
      want: { at: utc('2026-08-21T08:20:39Z'), owner: { namespace: 'a', name: 'b' } },
    },
    {
      name: 'fractional seconds are dropped',
      text: '2026-08-21T08:20:39.999999999Z,default,gpu-pod',
      want: { at: utc('2026-08-21T08:20:39Z'), owner: { namespace: 'default', name: 'gpu-pod' } },
    },
    { name: 'legacy bare time', text: '2026-08-21T08:20:39Z', want: { at: utc('2026-08-21T08:20:39Z'), owner: null } },
    { name: 'legacy bare time with offset', text: '2026-08-21T09:20:39+01:00', want: { at: utc('2026-08-21T08:20:39Z'), owner: null } },
    {
      name: 'longest namespace (63) and pod name (253)',
      text: `2026-08-21T08:20:39Z,${'n'.repeat(63)},${'p'.repeat(63)}.${'p'.repeat(63)}.${'p'.repeat(63)}.${'p'.repeat(61)}`,
      want: {
        at: utc('2026-08-21T08:20:39Z'),
        owner: { namespace: 'n'.repeat(63), name: `${'p'.repeat(63)}.${'p'.repeat(63)}.${'p'.repeat(63)}.${'p'.repeat(61)}` },
      },
    },
  ];
  for (const { name, text, want } of cases) assert.deepEqual(decodeNodeLock(text), want, name);
});

test('encode writes UTC seconds with Z', () => {
  assert.equal(encodeNodeLock(utc('2026-08-21T08:20:39.750Z'), 'ns', 'p'), '2026-08-21T08:20:39Z,ns,p');
  const refused: readonly { name: string; args: [Date, string, string]; field: string }[] = [
    { name: 'invalid date', args: [new Date(NaN), 'ns', 'p'], field: `${KEY}.time` },
    { name: 'year 10000', args: [utc('+010000-01-01T00:00:00Z'), 'ns', 'p'], field: `${KEY}.time` },
    { name: 'namespace with a dot', args: [utc('2026-08-21T08:20:39Z'), 'a.b', 'p'], field: `${KEY}.namespace` },
    { name: 'upper-case pod', args: [utc('2026-08-21T08:20:39Z'), 'ns', 'Pod'], field: `${KEY}.name` },
    { name: 'pod with ","', args: [utc('2026-08-21T08:20:39Z'), 'ns', 'a,b'], field: `${KEY}.name` },
  ];
  for (const { name, args, field } of refused) {
    assert.throws(() => encodeNodeLock(...args), (e: unknown) => e instanceof RangeError && e.message.startsWith(`${field}:`), name);
  }
});

test('decode errors name the field and quote the offending text', () => {
  const cases: readonly { name: string; text: string; field: string; bad: string }[] = [
    { name: 'empty', text: '', field: `${KEY}.time`, bad: '' },
    { name: 'two parts', text: '2026-08-21T08:20:39Z,default', field: KEY, bad: '2026-08-21T08:20:39Z,default' },
    { name: 'four parts', text: '2026-08-21T08:20:39Z,a,b,c', field: KEY, bad: ',a,b,c' },
    { name: 'DateTime instead of RFC 3339', text: '2026-08-21 08:20:39,a,b', field: `${KEY}.time`, bad: '2026-08-21 08:20:39' },
    { name: 'unix seconds', text: '1787300439,a,b', field: `${KEY}.time`, bad: '1787300439' },
    { name: 'no zone', text: '2026-08-21T08:20:39,a,b', field: `${KEY}.time`, bad: '2026-08-21T08:20:39' },
    { name: 'lower-case z', text: '2026-08-21T08:20:39z', field: `${KEY}.time`, bad: '08:20:39z' },
    { name: 'offset without colon', text: '2026-08-21T08:20:39+0800,a,b', field: `${KEY}.time`, bad: '+0800' },
    { name: 'offset hour 24', text: '2026-08-21T08:20:39+24:00,a,b', field: `${KEY}.time`, bad: '+24:00' },
    { name: 'offset minute 60', text: '2026-08-21T08:20:39-01:60,a,b', field: `${KEY}.time`, bad: '-01:60' },
    { name: 'April 31', text: '2026-04-31T08:20:39Z,a,b', field: `${KEY}.time`, bad: '2026-04-31' },
    { name: 'minute 60', text: '2026-08-21T08:60:39Z,a,b', field: `${KEY}.time`, bad: '08:60:39' },
    { name: 'fraction without digits', text: '2026-08-21T08:20:39.Z', field: `${KEY}.time`, bad: '39.Z' },
    { name: 'before year 0 in UTC', text: '0000-01-01T00:30:00+01:00,a,b', field: `${KEY}.time`, bad: '0000-01-01T00:30:00+01:00' },
    { name: 'empty namespace', text: '2026-08-21T08:20:39Z,,gpu-pod', field: `${KEY}.namespace`, bad: '' },
    { name: 'namespace with a dot', text: '2026-08-21T08:20:39Z,kube.system,gpu-pod', field: `${KEY}.namespace`, bad: 'kube.system' },
    { name: 'namespace of 64', text: `2026-08-21T08:20:39Z,${'n'.repeat(64)},p`, field: `${KEY}.namespace`, bad: 'nnnn' },
    { name: 'upper-case namespace', text: '2026-08-21T08:20:39Z,Default,p', field: `${KEY}.namespace`, bad: 'Default' },
    { name: 'empty pod', text: '2026-08-21T08:20:39Z,default,', field: `${KEY}.name`, bad: '' },
    { name: 'pod ending in "-"', text: '2026-08-21T08:20:39Z,default,gpu-', field: `${KEY}.name`, bad: 'gpu-' },
    { name: 'pod with "..', text: '2026-08-21T08:20:39Z,default,a..b', field: `${KEY}.name`, bad: 'a..b' },
    { name: 'pod of 254', text: `2026-08-21T08:20:39Z,default,${'p'.repeat(254)}`, field: `${KEY}.name`, bad: 'pppp' },
  ];
  for (const { name, text, field, bad } of cases) {
    assert.doesNotThrow(() => assertDecodeError(() => decodeNodeLock(text), field, bad), name);
  }
});

const label = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?$/);
const subdomain = fc.array(label, { minLength: 1, maxLength: 4 }).map((labels) => labels.join('.'));

test('property: decode(encode(lock)) equals the lock', () => {
  fc.assert(
    fc.property(wholeSecondDate(), label, subdomain, (at, namespace, name) => {
      assert.deepEqual(decodeNodeLock(encodeNodeLock(at, namespace, name)), { at, owner: { namespace, name } });
    }),
    { numRuns: 2_000 },
  );
});

/** A decoded lock must carry a whole-second time and valid names, and read back the same. */
function checkDecoded(text: string): void {
  const lock = decodeOrReject(() => decodeNodeLock(text));
  if (lock === undefined) return;
  assert.ok(lock.at.getTime() % 1000 === 0, 'whole seconds');
  if (lock.owner === null) {
    assert.ok(!text.includes(','), 'only the bare form has no owner');
    const again = decodeNodeLock(encodeNodeLock(lock.at, 'ns', 'p'));
    assert.deepEqual(again.at, lock.at);
    return;
  }
  const { namespace, name } = lock.owner;
  assert.match(namespace, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
  assert.ok(namespace.length <= 63 && name.length <= 253, 'lengths');
  assert.ok(name.split('.').every((l) => /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(l)), 'pod name');
  assert.deepEqual(decodeNodeLock(encodeNodeLock(lock.at, namespace, name)), lock);
}

test('fuzz: random strings decode to a stable value or a DecodeError', () => {
  const input = fc.oneof(
    randomText(),
    // Random text behind a valid time, so the owner checks see random input too.
    randomText().map((rest) => `2026-08-21T08:20:39Z,${rest}`),
  );
  fuzz(input, checkDecoded);
});

test('fuzz: mutated encodings decode to a stable value or a DecodeError', () => {
  const valid = fc
    .tuple(wholeSecondDate(), label, subdomain)
    .map(([at, namespace, name]) => encodeNodeLock(at, namespace, name));
  const examples = [REFERENCE, '2026-08-21T16:20:39+08:00,kube-system,gpu-pod', '2026-08-21T08:20:39.5Z'];
  fuzz(mutatedText(valid, examples), checkDecoded);
});
