/**
 * Test support for the codec tests: error assertions, and the fuzz inputs every decoder is run
 * against, random strings and mutations of valid encodings.
 *
 * It defines no tests on purpose (the files that import it would run them again). The `.test.ts`
 * name is what keeps it, and its fast-check import, out of the build (`tsconfig.build.json`
 * excludes `*.test.ts`) and out of the pure `src/core` runtime code.
 */

import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DecodeError } from '../errors.js';

/** Runs per fuzz property, as the codec brief asks: 100,000 random strings, 100,000 mutations. */
export const FUZZ_RUNS = 100_000;

/**
 * Checks `check` on {@link FUZZ_RUNS} inputs from `input`. Most fuzz inputs are rejected, and
 * capturing a stack for each `SyntaxError`/`DecodeError` was over half the run time, so stacks are
 * off while it runs (failures still report the counterexample and the assertion message).
 */
export function fuzz(input: fc.Arbitrary<string>, check: (text: string) => void): void {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    fc.assert(fc.property(input, check), { numRuns: FUZZ_RUNS });
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/**
 * Asserts that `fn` throws a `DecodeError` for `field` whose `text` contains `text`, and returns
 * the error for further checks.
 */
export function assertDecodeError(fn: () => unknown, field: string, text: string): DecodeError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof DecodeError, `expected a DecodeError, got ${String(caught)}`);
  assert.equal(caught.code, 'TESSERA_ERR_DECODE');
  assert.equal(caught.field, field);
  assert.ok(caught.text.includes(text), `error text ${JSON.stringify(caught.text)} lacks ${JSON.stringify(text)}`);
  return caught;
}

/**
 * Runs a decoder on untrusted input: returns its value, or `undefined` when it threw a
 * `DecodeError` with a non-empty `field`. Any other exception propagates and fails the property.
 */
export function decodeOrReject<T>(decode: () => T): T | undefined {
  try {
    return decode();
  } catch (error) {
    if (error instanceof DecodeError && error.field !== '') return undefined;
    throw error;
  }
}

/** Characters that matter to some codec's grammar, plus a few that matter to none. */
const SPECIAL = [...',:;_[]{}".-+TZ eE0123456789\\/trufalsn\u0000\u2028<&é😀'];

/** Random strings: arbitrary code points, printable ASCII, and strings over {@link SPECIAL}. */
export function randomText(): fc.Arbitrary<string> {
  return fc.oneof(
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.string({ maxLength: 40 }),
    fc.string({ unit: fc.constantFrom(...SPECIAL), maxLength: 60 }),
  );
}

/** Kinds of edit {@link applyMutation} makes. */
const INSERT = 0;
const DELETE = 1;
const REPLACE = 2;
const TRUNCATE = 3;
const DUPLICATE_SEPARATOR = 4;

/**
 * One edit of a text: `[kind, position, piece]`. Positions wrap around the text's length (for
 * DUPLICATE_SEPARATOR, the next separator from there is doubled). Plain data, so fast-check
 * can print and shrink it.
 */
type Mutation = readonly [kind: number, at: number, piece: string];

const SEPARATORS = /[,:;_ T{}[\]"]/g;

function firstSeparator(text: string, from: number): number | undefined {
  SEPARATORS.lastIndex = from;
  return SEPARATORS.exec(text)?.index;
}

function applyMutation(text: string, [kind, n, piece]: Mutation): string {
  const at = n % (text.length + 1);
  switch (kind) {
    case INSERT:
      return text.slice(0, at) + piece + text.slice(at);
    case DELETE:
      return text.slice(0, at) + text.slice(at + 1 + (n % 3));
    case REPLACE:
      return text.slice(0, at) + piece + text.slice(at + 1);
    case TRUNCATE:
      return text.slice(0, at);
    case DUPLICATE_SEPARATOR:
    default: {
      // The first separator at or after `at`, else the first one; doubled in place.
      const sep = firstSeparator(text, at) ?? firstSeparator(text, 0);
      return sep === undefined ? text : text.slice(0, sep + 1) + text.slice(sep);
    }
  }
}

const piece = fc.oneof(
  fc.constantFrom(...SPECIAL),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 3 }),
  fc.constantFrom('-1', '2147483648', '1e2', '0.5', 'null', 'true', '""', '{}', '[]', ',,', '::', ';;'),
);

const mutation: fc.Arbitrary<Mutation> = fc.tuple(fc.integer({ min: INSERT, max: DUPLICATE_SEPARATOR }), fc.nat(), piece);

/**
 * Mutations of valid encodings: a base from `valid` (sampled once, with the given literal
 * examples added, so the per-run cost is the edit, not building a value), then one to four edits.
 */
export function mutatedText(valid: fc.Arbitrary<string>, examples: readonly string[]): fc.Arbitrary<string> {
  const pool = [...examples, ...fc.sample(valid, { numRuns: 400, seed: 20260821 })];
  return fc
    .tuple(fc.constantFrom(...pool), fc.array(mutation, { minLength: 1, maxLength: 4 }))
    .map(([base, edits]) => edits.reduce(applyMutation, base));
}

/** Seconds since the epoch of 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z: four-digit years. */
export const YEAR_0000 = Date.parse('0000-01-01T00:00:00Z') / 1000;
export const YEAR_9999_END = Date.parse('9999-12-31T23:59:59Z') / 1000;

/** Whole-second Dates with four-digit years, biased towards now-ish values. */
export function wholeSecondDate(): fc.Arbitrary<Date> {
  return fc
    .oneof(
      fc.integer({ min: YEAR_0000, max: YEAR_9999_END }),
      fc.integer({ min: 1_700_000_000, max: 1_900_000_000 }),
    )
    .map((s) => new Date(s * 1000));
}
