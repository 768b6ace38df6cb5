import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { POD_DEVICES_ALLOCATED, POD_DEVICES_TO_ALLOCATE } from '../annotations.js';
import type { DeviceGrant, PodGrants } from '../device.js';
import { decodePodGrants, encodePodGrants, MISSING_FIELDS_MESSAGE } from './allocation.js';
import { INT32_MAX } from './fields.js';
import { assertDecodeError, decodeOrReject, fuzz, mutatedText, randomText } from './fuzz-support.test.js';

const grant = (id: string, vendor: string, memoryMiB: number, cores: number): DeviceGrant => ({
  id,
  vendor,
  memoryMiB,
  cores,
});

// The examples of the HAMi control-plane reference, §3.
const EXAMPLES: readonly { name: string; text: string; want: PodGrants }[] = [
  {
    name: '1 container, 1 GPU, 3000 MiB, 30 %',
    text: 'GPU-0fc3eda5-e98b-a25b-5b0d-cf5c855d1448,NVIDIA,3000,30:;',
    want: [[grant('GPU-0fc3eda5-e98b-a25b-5b0d-cf5c855d1448', 'NVIDIA', 3000, 30)]],
  },
  {
    name: 'init container without GPU + app container with 2 GPUs',
    text: ';GPU-aaa,NVIDIA,24576,100:GPU-bbb,NVIDIA,24576,100:;',
    want: [[], [grant('GPU-aaa', 'NVIDIA', 24576, 100), grant('GPU-bbb', 'NVIDIA', 24576, 100)]],
  },
  { name: 'after the plugin served both containers', text: ';;', want: [[], []] },
  { name: 'no containers', text: '', want: [] },
];

test('reference examples decode and encode back byte for byte', () => {
  for (const { name, text, want } of EXAMPLES) {
    assert.deepEqual(decodePodGrants(text), want, name);
    assert.equal(encodePodGrants(want), text, name);
  }
});

test('lenient forms HAMi accepts decode to the canonical value', () => {
  const cases: readonly { name: string; text: string; want: PodGrants }[] = [
    { name: 'last container without ";"', text: 'GPU-a,NVIDIA,1,2:', want: [[grant('GPU-a', 'NVIDIA', 1, 2)]] },
    { name: 'last device without ":"', text: 'GPU-a,NVIDIA,1,2;', want: [[grant('GPU-a', 'NVIDIA', 1, 2)]] },
    {
      name: 'empty entries between ":" are skipped',
      text: '::GPU-a,NVIDIA,1,2::GPU-b,MLU,0,0:;',
      want: [[grant('GPU-a', 'NVIDIA', 1, 2), grant('GPU-b', 'MLU', 0, 0)]],
    },
    { name: 'a segment of only ":" is an empty container', text: ':;:;', want: [[], []] },
    { name: 'leading zeros', text: 'GPU-a,NVIDIA,007,0:;', want: [[grant('GPU-a', 'NVIDIA', 7, 0)]] },
    { name: 'largest int32', text: `GPU-a,NVIDIA,${INT32_MAX},0:;`, want: [[grant('GPU-a', 'NVIDIA', INT32_MAX, 0)]] },
  ];
  for (const { name, text, want } of cases) assert.deepEqual(decodePodGrants(text), want, name);
});

test('decode errors name the field and quote the offending text', () => {
  const A = POD_DEVICES_ALLOCATED;
  const cases: readonly {
    name: string;
    text: string;
    key?: string;
    field: string;
    bad: string;
    /** HAMi's own message is expected. */
    missingFields?: true;
  }[] = [
    { name: 'three fields', text: 'GPU-a,NVIDIA,3000:;', field: `${A}[0][0]`, bad: 'GPU-a,NVIDIA,3000', missingFields: true },
    { name: 'no comma at all', text: ';GPU-a:;', field: `${A}[1][0]`, bad: 'GPU-a', missingFields: true },
    { name: 'five fields', text: 'GPU-a,NVIDIA,1,2,3:;', field: `${A}[0][0]`, bad: 'GPU-a,NVIDIA,1,2,3' },
    { name: 'empty uuid', text: ',NVIDIA,1,2:;', field: `${A}[0][0].uuid`, bad: '' },
    { name: 'empty type', text: 'GPU-a,,1,2:;', field: `${A}[0][0].type`, bad: '' },
    { name: 'negative memory', text: 'GPU-a,NVIDIA,-1,2:;', field: `${A}[0][0].usedmem`, bad: '-1' },
    { name: 'memory with unit', text: 'GPU-a,NVIDIA,3000Mi,2:;', field: `${A}[0][0].usedmem`, bad: '3000Mi' },
    { name: 'memory over int32', text: 'GPU-a,NVIDIA,2147483648,2:;', field: `${A}[0][0].usedmem`, bad: '2147483648' },
    { name: 'empty memory', text: 'GPU-a,NVIDIA,,2:;', field: `${A}[0][0].usedmem`, bad: '' },
    { name: 'fractional cores', text: 'GPU-a,NVIDIA,1,2.5:;', field: `${A}[0][0].usedcores`, bad: '2.5' },
    { name: 'plus sign', text: 'GPU-a,NVIDIA,1,+2:;', field: `${A}[0][0].usedcores`, bad: '+2' },
    {
      name: 'second device of third container',
      text: ';;GPU-a,NVIDIA,1,2:GPU-b,NVIDIA,x,2:;',
      field: `${A}[2][1].usedmem`,
      bad: 'x',
    },
    {
      name: 'the key names the annotation',
      text: 'GPU-a,NVIDIA:;',
      key: POD_DEVICES_TO_ALLOCATE,
      field: `${POD_DEVICES_TO_ALLOCATE}[0][0]`,
      bad: 'GPU-a,NVIDIA',
      missingFields: true,
    },
  ];
  for (const { name, text, key, field, bad, missingFields } of cases) {
    const error = assertDecodeError(() => decodePodGrants(text, key), field, bad);
    if (missingFields) assert.ok(error.message.includes(MISSING_FIELDS_MESSAGE), name);
  }
});

test('encode refuses grants it could not read back', () => {
  const cases: readonly { name: string; grants: PodGrants; field: string }[] = [
    { name: 'empty id', grants: [[grant('', 'NVIDIA', 1, 1)]], field: '[0][0].uuid' },
    { name: 'id with ";"', grants: [[], [grant('GPU;a', 'NVIDIA', 1, 1)]], field: '[1][0].uuid' },
    { name: 'type with ":"', grants: [[grant('GPU-a', 'NV:IDIA', 1, 1)]], field: '[0][0].type' },
    { name: 'negative memory', grants: [[grant('GPU-a', 'NVIDIA', -1, 1)]], field: '[0][0].usedmem' },
    { name: 'fractional cores', grants: [[grant('GPU-a', 'NVIDIA', 1, 0.5)]], field: '[0][0].usedcores' },
  ];
  for (const { name, grants, field } of cases) {
    assert.throws(() => encodePodGrants(grants), (e: unknown) => e instanceof RangeError && e.message.includes(field), name);
  }
});

/** Ids and types: any code points but the separators, never empty. */
const token = fc.oneof(
  fc.uuid().map((u) => `GPU-${u}`),
  fc.constantFrom('NVIDIA', 'MLU', 'Ascend910B3', 'DCU'),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 10 }).filter((s) => !/[,:;]/.test(s)),
);
const grantArb: fc.Arbitrary<DeviceGrant> = fc.record({
  id: token,
  vendor: token,
  memoryMiB: fc.integer({ min: 0, max: INT32_MAX }),
  cores: fc.integer({ min: 0, max: INT32_MAX }),
}, { noNullPrototype: true });
const grantsArb: fc.Arbitrary<PodGrants> = fc.array(fc.array(grantArb, { maxLength: 4 }), { maxLength: 5 });

test('property: decode(encode(grants)) equals grants', () => {
  fc.assert(
    fc.property(grantsArb, (grants) => {
      assert.deepEqual(decodePodGrants(encodePodGrants(grants)), grants);
    }),
    { numRuns: 2_000 },
  );
});

/** A decoded value must be usable as is: integers in range, ids that encode, stable on re-encoding. */
function checkDecoded(text: string): void {
  const grants = decodeOrReject(() => decodePodGrants(text));
  if (grants === undefined) return;
  for (const container of grants) {
    for (const g of container) {
      assert.ok(g.id !== '' && !/[,:;]/.test(g.id));
      assert.ok(g.vendor !== '' && !/[,:;]/.test(g.vendor));
      assert.ok(Number.isSafeInteger(g.memoryMiB) && g.memoryMiB >= 0 && !Object.is(g.memoryMiB, -0));
      assert.ok(Number.isSafeInteger(g.cores) && g.cores >= 0 && !Object.is(g.cores, -0));
    }
  }
  assert.deepEqual(decodePodGrants(encodePodGrants(grants)), grants);
}

test('fuzz: random strings decode to a stable value or a DecodeError', () => {
  fuzz(randomText(), checkDecoded);
});

test('fuzz: mutated encodings decode to a stable value or a DecodeError', () => {
  const valid = grantsArb.map(encodePodGrants);
  fuzz(mutatedText(valid, EXAMPLES.map((e) => e.text)), checkDecoded);
});
