import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Device, MigProfile } from '../device.js';
import { DEVICE_MODES } from '../device.js';
import { INT32_MAX } from './fields.js';
import { assertDecodeError, decodeOrReject, fuzz, mutatedText, randomText } from './fuzz-support.test.js';
import { decodeNodeRegister, encodeNodeRegister, encodeNodeRegisterLegacy } from './register.js';

const KEY = 'hami.io/node-nvidia-register';

/** A V100 as the reference shows it; fields overridden per case. */
function v100(overrides: Partial<Device> = {}): Device {
  return {
    id: 'GPU-0fc3eda5-e98b-a25b-5b0d-cf5c855d1448',
    index: 0,
    vendor: 'NVIDIA',
    type: 'NVIDIA-Tesla V100-PCIE-32GB',
    memoryMiB: 32768,
    cores: 100,
    splitCount: 10,
    numa: 0,
    healthy: true,
    mode: 'hami-core',
    ...overrides,
  };
}

// HAMi control-plane reference §2.1, JSON form (v2.8+), as one line.
const REFERENCE_JSON =
  '[{"id":"GPU-0fc3eda5-e98b-a25b-5b0d-cf5c855d1448","count":10,"devmem":32768,"devcore":100,' +
  '"type":"NVIDIA-Tesla V100-PCIE-32GB","mode":"hami-core","health":true},' +
  '{"id":"GPU-00552014-5c87-89ac-b1a6-7b53aa24b0ec","index":1,"count":10,"devmem":32768,"devcore":100,' +
  '"type":"NVIDIA-Tesla V100-PCIE-32GB","numa":1,"mode":"hami-core","health":true}]';
const REFERENCE_DEVICES: readonly Device[] = [
  v100(),
  v100({ id: 'GPU-00552014-5c87-89ac-b1a6-7b53aa24b0ec', index: 1, numa: 1 }),
];

// §2.1, legacy text form, with the reference's shortened ids.
const REFERENCE_LEGACY =
  'GPU-0fc3…,10,32768,100,NVIDIA-Tesla V100-PCIE-32GB,0,true,0,hami-core:' +
  'GPU-0055…,10,32768,100,NVIDIA-Tesla V100-PCIE-32GB,0,true,1,hami-core:';
const REFERENCE_LEGACY_DEVICES: readonly Device[] = [v100({ id: 'GPU-0fc3…' }), v100({ id: 'GPU-0055…', index: 1 })];

// §2.1, a MIG-mode device with its profiles (field names and shape from the reference).
const MIG_JSON =
  '[{"id":"GPU-a100","count":7,"devmem":81920,"devcore":100,"type":"NVIDIA-NVIDIA A100-SXM4-80GB","mode":"mig",' +
  '"migProfiles":[{"name":"1g.10gb","memoryMB":9728,"core":15,"sliceCount":1,' +
  '"placements":[{"start":0,"size":1},{"start":1,"size":1}]}],"health":true}]';
const MIG_PROFILE: MigProfile = {
  name: '1g.10gb',
  memoryMiB: 9728,
  cores: 15,
  sliceCount: 1,
  placements: [
    { start: 0, size: 1 },
    { start: 1, size: 1 },
  ],
};
const MIG_DEVICE = v100({
  id: 'GPU-a100',
  type: 'NVIDIA-NVIDIA A100-SXM4-80GB',
  memoryMiB: 81920,
  splitCount: 7,
  mode: 'mig',
  migProfiles: [MIG_PROFILE],
});

test('reference JSON decodes and encodes back byte for byte', () => {
  assert.deepEqual(decodeNodeRegister(REFERENCE_JSON, 'NVIDIA'), REFERENCE_DEVICES);
  assert.equal(encodeNodeRegister(REFERENCE_DEVICES), REFERENCE_JSON);
  assert.deepEqual(decodeNodeRegister(MIG_JSON, 'NVIDIA'), [MIG_DEVICE]);
  assert.equal(encodeNodeRegister([MIG_DEVICE]), MIG_JSON);
});

test('reference legacy text decodes and encodes back byte for byte', () => {
  assert.deepEqual(decodeNodeRegister(REFERENCE_LEGACY, 'NVIDIA'), REFERENCE_LEGACY_DEVICES);
  assert.equal(encodeNodeRegisterLegacy(REFERENCE_LEGACY_DEVICES), REFERENCE_LEGACY);
});

test('forms HAMi accepts decode to the canonical value', () => {
  const cases: readonly { name: string; text: string; want: readonly Device[] }[] = [
    {
      name: 'JSON with every omitempty field left out',
      text: '[{"id":"GPU-a","count":1}]',
      want: [v100({ id: 'GPU-a', splitCount: 1, type: '', memoryMiB: 0, cores: 0, healthy: false })],
    },
    {
      name: 'JSON nulls read as zero values, unknown fields ignored',
      text: ' [{"id":"GPU-a","index":null,"count":1,"numa":null,"mode":null,"health":null,"migProfiles":null,"devicevendor":"NVIDIA","custominfo":{"x":1}}]',
      want: [v100({ id: 'GPU-a', splitCount: 1, type: '', memoryMiB: 0, cores: 0, healthy: false })],
    },
    {
      name: 'JSON empty migProfiles and null placements',
      text: '[{"id":"a","count":1,"mode":"mig","migProfiles":[]},{"id":"b","count":1,"migProfiles":[{"name":"1g","memoryMB":1,"core":1,"sliceCount":1,"placements":null}]}]',
      want: [
        v100({ id: 'a', splitCount: 1, type: '', memoryMiB: 0, cores: 0, healthy: false, mode: 'mig' }),
        v100({
          id: 'b',
          splitCount: 1,
          type: '',
          memoryMiB: 0,
          cores: 0,
          healthy: false,
          migProfiles: [{ name: '1g', memoryMiB: 1, cores: 1, sliceCount: 1, placements: [] }],
        }),
      ],
    },
    { name: 'JSON empty array', text: '[]', want: [] },
    { name: 'JSON numa -1 (no NUMA affinity)', text: '[{"id":"a","count":1,"numa":-1}]', want: [v100({ id: 'a', splitCount: 1, type: '', memoryMiB: 0, cores: 0, healthy: false, numa: -1 })] },
    {
      name: 'legacy 7-field record: index 0, mode hami-core',
      text: 'GPU-a,4,1024,50,DCU-Z100,1,false:',
      want: [v100({ id: 'GPU-a', splitCount: 4, memoryMiB: 1024, cores: 50, type: 'DCU-Z100', numa: 1, healthy: false })],
    },
    {
      name: 'legacy: empty records between ":" skipped, last record without ":"',
      text: 'a,1,0,0,T,0,true,0,mps::b,1,0,0,T,-1,true,3,mig',
      want: [
        v100({ id: 'a', splitCount: 1, memoryMiB: 0, cores: 0, type: 'T', mode: 'mps' }),
        v100({ id: 'b', splitCount: 1, memoryMiB: 0, cores: 0, type: 'T', numa: -1, index: 3, mode: 'mig' }),
      ],
    },
    { name: 'legacy with only separators: no devices', text: '::', want: [] },
  ];
  for (const { name, text, want } of cases) assert.deepEqual(decodeNodeRegister(text, 'NVIDIA'), want, name);
  assert.equal(decodeNodeRegister('[{"id":"a","count":1}]', 'MLU')[0]?.vendor, 'MLU', 'vendor comes from the argument');
});

test('encode escapes like Go and omits zero values like omitempty', () => {
  const device = v100({ id: 'GPU-a', type: 'A<B>&C\u2028', memoryMiB: 0, cores: 0, healthy: false, numa: -1 });
  assert.equal(encodeNodeRegister([device]), '[{"id":"GPU-a","count":10,"type":"A\\u003cB\\u003e\\u0026C\\u2028","numa":-1,"mode":"hami-core"}]');
  assert.equal(encodeNodeRegister([]), '[]');
});

test('decode errors name the field and quote the offending text', () => {
  const dev = (fields: string) => `[{"id":"GPU-a","count":1},{${fields}}]`;
  const cases: readonly { name: string; text: string; field: string; bad: string }[] = [
    { name: 'no ":" at all', text: 'GPU-a,10,32768,100,T,0,true', field: KEY, bad: 'GPU-a,10' },
    { name: 'invalid JSON', text: '[{"id":"GPU-a",}]', field: KEY, bad: '[{"id":"GPU-a",}]' },
    { name: 'JSON element not an object', text: '[{"id":"a","count":1},3]', field: `${KEY}[1]`, bad: '3' },
    { name: 'JSON missing id', text: dev('"count":1'), field: `${KEY}[1].id`, bad: '' },
    { name: 'JSON id with ":"', text: dev('"id":"GPU:b","count":1'), field: `${KEY}[1].id`, bad: 'GPU:b' },
    { name: 'JSON id not a string', text: dev('"id":7,"count":1'), field: `${KEY}[1].id`, bad: '7' },
    { name: 'JSON duplicate id', text: dev('"id":"GPU-a","count":1'), field: `${KEY}[1].id`, bad: 'GPU-a' },
    { name: 'JSON missing count', text: dev('"id":"b"'), field: `${KEY}[1].count`, bad: '"id":"b"' },
    { name: 'JSON count 0', text: dev('"id":"b","count":0'), field: `${KEY}[1].count`, bad: '0' },
    { name: 'JSON devmem negative', text: dev('"id":"b","count":1,"devmem":-5'), field: `${KEY}[1].devmem`, bad: '-5' },
    { name: 'JSON devmem fractional', text: dev('"id":"b","count":1,"devmem":1.5'), field: `${KEY}[1].devmem`, bad: '1.5' },
    { name: 'JSON devmem as string', text: dev('"id":"b","count":1,"devmem":"1"'), field: `${KEY}[1].devmem`, bad: '"1"' },
    { name: 'JSON devcore over int32', text: dev('"id":"b","count":1,"devcore":2147483648'), field: `${KEY}[1].devcore`, bad: '2147483648' },
    { name: 'JSON numa -2', text: dev('"id":"b","count":1,"numa":-2'), field: `${KEY}[1].numa`, bad: '-2' },
    { name: 'JSON index negative', text: dev('"id":"b","count":1,"index":-1'), field: `${KEY}[1].index`, bad: '-1' },
    { name: 'JSON unknown mode', text: dev('"id":"b","count":1,"mode":"vgpu"'), field: `${KEY}[1].mode`, bad: 'vgpu' },
    { name: 'JSON health as string', text: dev('"id":"b","count":1,"health":"true"'), field: `${KEY}[1].health`, bad: '"true"' },
    { name: 'JSON type not a string', text: dev('"id":"b","count":1,"type":1'), field: `${KEY}[1].type`, bad: '1' },
    { name: 'JSON migProfiles not an array', text: dev('"id":"b","count":1,"migProfiles":{}'), field: `${KEY}[1].migProfiles`, bad: '{}' },
    {
      name: 'JSON MIG profile without name',
      text: dev('"id":"b","count":1,"migProfiles":[{"memoryMB":1,"sliceCount":1}]'),
      field: `${KEY}[1].migProfiles[0].name`,
      bad: '',
    },
    {
      name: 'JSON MIG placement size 0',
      text: dev('"id":"b","count":1,"migProfiles":[{"name":"1g","sliceCount":1,"placements":[{"start":0,"size":1},{"start":1,"size":0}]}]'),
      field: `${KEY}[1].migProfiles[0].placements[1].size`,
      bad: '0',
    },
    {
      name: 'JSON MIG sliceCount missing',
      text: dev('"id":"b","count":1,"migProfiles":[{"name":"1g"}]'),
      field: `${KEY}[1].migProfiles[0].sliceCount`,
      bad: '"name":"1g"',
    },
    { name: 'legacy 8 fields', text: 'a,1,0,0,T,0,true,0:', field: `${KEY}[0]`, bad: 'a,1,0,0,T,0,true,0' },
    { name: 'legacy empty id', text: 'a,1,0,0,T,0,true:,1,0,0,T,0,true:', field: `${KEY}[1].id`, bad: '' },
    { name: 'legacy count 0', text: 'a,0,0,0,T,0,true:', field: `${KEY}[0].count`, bad: '0' },
    { name: 'legacy count word', text: 'a,ten,0,0,T,0,true:', field: `${KEY}[0].count`, bad: 'ten' },
    { name: 'legacy devmem negative', text: 'a,1,-1,0,T,0,true:', field: `${KEY}[0].devmem`, bad: '-1' },
    { name: 'legacy devcore empty', text: 'a,1,0,,T,0,true:', field: `${KEY}[0].devcore`, bad: '' },
    { name: 'legacy numa -2', text: 'a,1,0,0,T,-2,true:', field: `${KEY}[0].numa`, bad: '-2' },
    { name: 'legacy health 1', text: 'a,1,0,0,T,0,1:', field: `${KEY}[0].health`, bad: '1' },
    { name: 'legacy index negative', text: 'a,1,0,0,T,0,true,-1,mig:', field: `${KEY}[0].index`, bad: '-1' },
    { name: 'legacy empty mode', text: 'a,1,0,0,T,0,true,0,:', field: `${KEY}[0].mode`, bad: '' },
    { name: 'legacy duplicate id', text: 'a,1,0,0,T,0,true:a,1,0,0,T,0,true:', field: `${KEY}[1].id`, bad: 'a' },
  ];
  for (const { name, text, field, bad } of cases) {
    assert.doesNotThrow(() => assertDecodeError(() => decodeNodeRegister(text, 'NVIDIA'), field, bad), name);
  }
  assertDecodeError(() => decodeNodeRegister('x', 'DCU', 'hami.io/node-dcu-register'), 'hami.io/node-dcu-register', 'x');
});

test('encode refuses devices it could not read back', () => {
  const cases: readonly { name: string; devices: readonly Device[]; field: string; legacyOnly?: true }[] = [
    { name: 'empty id', devices: [v100({ id: '' })], field: `${KEY}[0].id` },
    { name: 'count 0', devices: [v100({ splitCount: 0 })], field: `${KEY}[0].count` },
    { name: 'negative memory', devices: [v100(), v100({ id: 'b', memoryMiB: -1 })], field: `${KEY}[1].devmem` },
    { name: 'duplicate id', devices: [v100(), v100()], field: `${KEY}[1].id` },
    { name: 'numa -2', devices: [v100({ numa: -2 })], field: `${KEY}[0].numa` },
    { name: 'MIG placement size 0', devices: [v100({ migProfiles: [{ ...MIG_PROFILE, placements: [{ start: 0, size: 0 }] }] })], field: `${KEY}[0].migProfiles[0].placements[0].size` },
    { name: 'type with "," in text form', devices: [v100({ type: 'A,B' })], field: `${KEY}[0].type`, legacyOnly: true },
  ];
  for (const { name, devices, field, legacyOnly } of cases) {
    const refused = (e: unknown) => e instanceof RangeError && e.message.startsWith(`${field}:`);
    assert.throws(() => encodeNodeRegisterLegacy(devices), refused, name);
    if (legacyOnly) assert.doesNotThrow(() => encodeNodeRegister(devices), name);
    else assert.throws(() => encodeNodeRegister(devices), refused, name);
  }
});

const INT = fc.integer({ min: 0, max: INT32_MAX });
const idArb = fc.oneof(
  fc.uuid().map((u) => `GPU-${u}`),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 10 }).filter((s) => !/[,:;]/.test(s)),
);
const migArb: fc.Arbitrary<MigProfile> = fc.record(
  {
    name: fc.string({ unit: 'binary', minLength: 1, maxLength: 8 }),
    memoryMiB: INT,
    cores: INT,
    sliceCount: fc.integer({ min: 1, max: INT32_MAX }),
    placements: fc.array(
      fc.record({ start: INT, size: fc.integer({ min: 1, max: INT32_MAX }) }, { noNullPrototype: true }),
      { maxLength: 3 },
    ),
  },
  { noNullPrototype: true },
);

/** Devices with distinct ids; `type` drawn from `typeArb` (the text form cannot hold "," or ":"). */
function devicesArb(typeArb: fc.Arbitrary<string>, withMig: boolean): fc.Arbitrary<Device[]> {
  const device = fc
    .record(
      {
        id: idArb,
        index: INT,
        vendor: fc.constant('NVIDIA'),
        type: typeArb,
        memoryMiB: INT,
        cores: INT,
        splitCount: fc.integer({ min: 1, max: INT32_MAX }),
        numa: fc.integer({ min: -1, max: INT32_MAX }),
        healthy: fc.boolean(),
        mode: fc.constantFrom(...DEVICE_MODES),
      },
      { noNullPrototype: true },
    )
    .chain((d) =>
      withMig
        ? fc.option(fc.array(migArb, { minLength: 1, maxLength: 2 }), { nil: undefined }).map(
            (migProfiles): Device => (migProfiles === undefined ? d : { ...d, migProfiles }),
          )
        : fc.constant<Device>(d),
    );
  return fc.uniqueArray(device, { selector: (d) => d.id, maxLength: 3 });
}

const jsonDevices = devicesArb(fc.string({ unit: 'binary', maxLength: 16 }), true);
const textDevices = devicesArb(
  fc.oneof(fc.constant('NVIDIA-Tesla V100-PCIE-32GB'), fc.string({ maxLength: 20 }).filter((s) => !/[,:]/.test(s))),
  false,
);

test('property: decode(encode(devices)) equals devices, JSON and text forms', () => {
  fc.assert(
    fc.property(jsonDevices, (devices) => {
      assert.deepEqual(decodeNodeRegister(encodeNodeRegister(devices), 'NVIDIA'), devices);
    }),
    { numRuns: 1_000 },
  );
  fc.assert(
    fc.property(textDevices, (devices) => {
      fc.pre(devices.length > 0);
      assert.deepEqual(decodeNodeRegister(encodeNodeRegisterLegacy(devices), 'NVIDIA'), devices);
    }),
    { numRuns: 1_000 },
  );
});

const isInt = (n: number, min: number): boolean => Number.isSafeInteger(n) && n >= min && n <= INT32_MAX && !Object.is(n, -0);

/** A decoded inventory must be usable as is and read back the same from either encoding. */
function checkDecoded(text: string): void {
  const devices = decodeOrReject(() => decodeNodeRegister(text, 'NVIDIA'));
  if (devices === undefined) return;
  assert.equal(new Set(devices.map((d) => d.id)).size, devices.length, 'ids are unique');
  for (const d of devices) {
    assert.ok(d.id !== '' && !/[,:;]/.test(d.id), 'id');
    assert.equal(d.vendor, 'NVIDIA');
    assert.ok(isInt(d.splitCount, 1) && isInt(d.memoryMiB, 0) && isInt(d.cores, 0), 'sizes');
    assert.ok(isInt(d.index, 0) && isInt(d.numa, -1), 'index and numa');
    assert.ok(DEVICE_MODES.includes(d.mode), 'mode');
    assert.equal(typeof d.healthy, 'boolean');
    assert.notEqual(d.migProfiles?.length, 0, 'an empty profile list is no list');
    for (const p of d.migProfiles ?? []) {
      assert.ok(p.name !== '' && isInt(p.memoryMiB, 0) && isInt(p.cores, 0) && isInt(p.sliceCount, 1), 'profile');
      for (const pl of p.placements) assert.ok(isInt(pl.start, 0) && isInt(pl.size, 1), 'placement');
    }
  }
  assert.deepEqual(decodeNodeRegister(encodeNodeRegister(devices), 'NVIDIA'), devices);
  if (!text.trimStart().startsWith('[') && devices.length > 0) {
    assert.deepEqual(decodeNodeRegister(encodeNodeRegisterLegacy(devices), 'NVIDIA'), devices);
  }
}

test('fuzz: random strings decode to a stable value or a DecodeError', () => {
  fuzz(randomText(), checkDecoded);
});

test('fuzz: mutated encodings decode to a stable value or a DecodeError', () => {
  const valid = fc.oneof(jsonDevices.map(encodeNodeRegister), textDevices.map(encodeNodeRegisterLegacy));
  const examples = [REFERENCE_JSON, REFERENCE_LEGACY, MIG_JSON];
  fuzz(mutatedText(valid, examples), checkDecoded);
});
