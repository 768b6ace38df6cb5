import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { DeviceLink } from '../device.js';
import { compareCodePoints, INT32_MAX } from './fields.js';
import { assertDecodeError, decodeOrReject, fuzz, mutatedText, randomText } from './fuzz-support.test.js';
import { decodeNodeScore, encodeNodeScore } from './score.js';

const KEY = 'hami.io/node-nvidia-score';

const link = (from: string, to: string, score: number): DeviceLink => ({ from, to, score });

// HAMi control-plane reference §2.1 (the `…` completed with a second entry of the same shape).
const REFERENCE = '[{"uuid":"GPU-a","score":{"GPU-b":200,"GPU-c":20}},{"uuid":"GPU-b","score":{"GPU-a":200,"GPU-c":20}}]';
const REFERENCE_LINKS: readonly DeviceLink[] = [
  link('GPU-a', 'GPU-b', 200),
  link('GPU-a', 'GPU-c', 20),
  link('GPU-b', 'GPU-a', 200),
  link('GPU-b', 'GPU-c', 20),
];

test('reference example decodes and encodes back byte for byte', () => {
  assert.deepEqual(decodeNodeScore(REFERENCE), REFERENCE_LINKS);
  assert.equal(encodeNodeScore(REFERENCE_LINKS), REFERENCE);
});

test('decode: targets come out in code-point order, whatever the text order', () => {
  const cases: readonly { name: string; text: string; want: readonly DeviceLink[] }[] = [
    {
      name: 'keys out of order',
      text: '[{"uuid":"GPU-a","score":{"GPU-c":20,"GPU-b":200}}]',
      want: [link('GPU-a', 'GPU-b', 200), link('GPU-a', 'GPU-c', 20)],
    },
    {
      name: 'integer-like ids are not moved first',
      text: '[{"uuid":"x","score":{"b":1,"10":2,"2":3}}]',
      want: [link('x', '10', 2), link('x', '2', 3), link('x', 'b', 1)],
    },
    { name: 'null is no scores', text: 'null', want: [] },
    { name: 'empty array', text: '[]', want: [] },
    { name: 'entry without score', text: '[{"uuid":"GPU-a"},{"uuid":"GPU-b","score":null}]', want: [] },
    { name: '__proto__ as an id is just an id', text: '[{"uuid":"a","score":{"__proto__":5}}]', want: [link('a', '__proto__', 5)] },
  ];
  for (const { name, text, want } of cases) assert.deepEqual(decodeNodeScore(text), want, name);
});

test('encode groups by source in first-seen order, sorts targets, escapes like Go', () => {
  assert.equal(
    encodeNodeScore([link('b', 'z', 1), link('a', 'y', 2), link('b', 'c<', 3)]),
    '[{"uuid":"b","score":{"c\\u003c":3,"z":1}},{"uuid":"a","score":{"y":2}}]',
  );
  assert.equal(encodeNodeScore([]), '[]');
  assert.equal(encodeNodeScore([link('a', '__proto__', 1)]), '[{"uuid":"a","score":{"__proto__":1}}]');
});

test('decode errors name the field and quote the offending text', () => {
  const cases: readonly { name: string; text: string; field: string; bad: string }[] = [
    { name: 'not JSON', text: 'GPU-a:200', field: KEY, bad: 'GPU-a:200' },
    { name: 'an object, not an array', text: '{"uuid":"a"}', field: KEY, bad: '{"uuid":"a"}' },
    { name: 'entry not an object', text: '[[]]', field: `${KEY}[0]`, bad: '[]' },
    { name: 'missing uuid', text: '[{"score":{"b":1}}]', field: `${KEY}[0].uuid`, bad: '' },
    { name: 'uuid a number', text: '[{"uuid":1}]', field: `${KEY}[0].uuid`, bad: '1' },
    { name: 'uuid with ","', text: '[{"uuid":"a,b"}]', field: `${KEY}[0].uuid`, bad: 'a,b' },
    { name: 'uuid listed twice', text: '[{"uuid":"a"},{"uuid":"a"}]', field: `${KEY}[1].uuid`, bad: 'a' },
    { name: 'score an array', text: '[{"uuid":"a","score":[1]}]', field: `${KEY}[0].score`, bad: '[1]' },
    { name: 'self link', text: '[{"uuid":"a","score":{"b":1,"a":100}}]', field: `${KEY}[0].score["a"]`, bad: 'a' },
    { name: 'empty target', text: '[{"uuid":"a","score":{"":1}}]', field: `${KEY}[0].score[""]`, bad: '' },
    { name: 'negative score', text: '[{"uuid":"a","score":{"b":-1}}]', field: `${KEY}[0].score["b"]`, bad: '-1' },
    { name: 'fractional score', text: '[{"uuid":"a","score":{"b":0.5}}]', field: `${KEY}[0].score["b"]`, bad: '0.5' },
    { name: 'score as string', text: '[{"uuid":"a","score":{"b":"20"}}]', field: `${KEY}[0].score["b"]`, bad: '"20"' },
    { name: 'score null', text: '[{"uuid":"a","score":{"b":null}}]', field: `${KEY}[0].score["b"]`, bad: 'null' },
    { name: 'huge score', text: '[{"uuid":"a","score":{"b":1e300}}]', field: `${KEY}[0].score["b"]`, bad: '1e+300' },
  ];
  for (const { name, text, field, bad } of cases) {
    assert.doesNotThrow(() => assertDecodeError(() => decodeNodeScore(text), field, bad), name);
  }
});

test('encode refuses links it could not read back', () => {
  const cases: readonly { name: string; links: readonly DeviceLink[]; field: string }[] = [
    { name: 'self link', links: [link('a', 'a', 1)], field: `${KEY}[0].to` },
    { name: 'empty from', links: [link('', 'a', 1)], field: `${KEY}[0].from` },
    { name: 'negative score', links: [link('a', 'b', 1), link('a', 'c', -1)], field: `${KEY}[1].score` },
    { name: 'pair twice', links: [link('a', 'b', 1), link('a', 'b', 2)], field: `${KEY}[1].to` },
  ];
  for (const { name, links, field } of cases) {
    assert.throws(() => encodeNodeScore(links), (e: unknown) => e instanceof RangeError && e.message.startsWith(`${field}:`), name);
  }
});

const idArb = fc.oneof(
  fc.constantFrom('GPU-a', 'GPU-b', 'GPU-c', '0', '10', '__proto__', 'constructor'),
  fc.uuid().map((u) => `GPU-${u}`),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 6 }).filter((s) => !/[,:;]/.test(s)),
);

/** Links in the order the decoder gives them: grouped by source, targets in code-point order. */
const linksArb: fc.Arbitrary<DeviceLink[]> = fc
  .uniqueArray(idArb, { maxLength: 5 })
  .chain((ids) =>
    fc.tuple(
      ...ids.map((from) =>
        fc.subarray(ids.filter((to) => to !== from)).chain((targets) =>
          fc.tuple(...targets.map(() => fc.integer({ min: 0, max: INT32_MAX }))).map((scores) =>
            targets
              .map((to, i) => link(from, to, scores[i] ?? 0))
              .sort((x, y) => compareCodePoints(x.to, y.to)),
          ),
        ),
      ),
    ),
  )
  .map((groups) => groups.flat());

test('property: decode(encode(links)) equals links', () => {
  fc.assert(
    fc.property(linksArb, (links) => {
      assert.deepEqual(decodeNodeScore(encodeNodeScore(links)), links);
    }),
    { numRuns: 1_000 },
  );
});

/** Decoded links must be usable as is and read back the same. */
function checkDecoded(text: string): void {
  const links = decodeOrReject(() => decodeNodeScore(text));
  if (links === undefined) return;
  const pairs = new Set<string>();
  for (const l of links) {
    assert.ok(l.from !== '' && l.to !== '' && l.from !== l.to, 'ids');
    assert.ok(!/[,:;]/.test(l.from) && !/[,:;]/.test(l.to), 'separators');
    assert.ok(Number.isSafeInteger(l.score) && l.score >= 0 && l.score <= INT32_MAX && !Object.is(l.score, -0), 'score');
    pairs.add(JSON.stringify([l.from, l.to]));
  }
  assert.equal(pairs.size, links.length, 'no pair twice');
  assert.deepEqual(decodeNodeScore(encodeNodeScore(links)), links);
}

test('fuzz: random strings decode to a stable value or a DecodeError', () => {
  fuzz(randomText(), checkDecoded);
});

test('fuzz: mutated encodings decode to a stable value or a DecodeError', () => {
  fuzz(mutatedText(linksArb.map(encodeNodeScore), [REFERENCE]), checkDecoded);
});
