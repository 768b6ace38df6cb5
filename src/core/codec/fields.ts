/**
 * Field rules shared by the annotation codecs: integers as HAMi's Go types hold them, device ids,
 * Kubernetes names, calendar times, and Go's JSON string escaping.
 *
 * A rule returns the reason a value is unusable (or `undefined` when it is fine), so one rule serves
 * both directions: decoders wrap the reason in a `DecodeError`, encoders in a `RangeError` (an
 * invalid value reaching an encoder is a bug in the caller, and writing it would put an annotation
 * on the wire that neither Tessera nor HAMi can read back).
 */

import { quote } from '../errors.js';

/**
 * Largest value of Go's `int32`, the type of HAMi's `count`, `devmem`, `devcore`, `Usedmem`,
 * `Usedcores`, `memoryMB` and `core`. Every integer field is held to it, also the few HAMi keeps in
 * wider types (`index`, `numa`, pair scores): Go would reject larger values where the type is int32,
 * no real device comes near it, and it keeps every value a safe JavaScript integer.
 */
export const INT32_MAX = 2_147_483_647;

/** Decimal integer as Go's `strconv.ParseInt` reads it, minus the `+` sign nobody writes. */
const DECIMAL = /^-?[0-9]+$/;

/**
 * Why `value` is not an integer in `[min, INT32_MAX]`, or `undefined` if it is.
 * @param min smallest allowed value (0 for sizes, 1 for counts, -1 for NUMA nodes)
 */
export function intReason(value: number, min: number): string | undefined {
  if (!Number.isInteger(value)) return 'must be an integer';
  if (value < min) return min === 0 ? 'must not be negative' : `must be at least ${min}`;
  if (value > INT32_MAX) return `must be at most ${INT32_MAX}`;
  return undefined;
}

/**
 * Reads a decimal integer written in text (`"3000"`, `"-1"`, leading zeros allowed as Go allows
 * them). Returns a number (never `-0`) or the reason the text is unusable.
 */
export function parseIntText(text: string, min: number): number | { readonly reason: string } {
  if (!DECIMAL.test(text)) return { reason: 'must be a decimal integer' };
  // `+ 0` turns "-0" into 0, so the value compares equal to what re-encoding it reads back.
  const value = Number(text) + 0;
  const reason = intReason(value, min);
  return reason === undefined ? value : { reason };
}

/**
 * Reads an integer from a parsed JSON value. JSON `1e2` or `100.0` (which `JSON.parse` cannot tell
 * from `100`) are accepted as 100; Go would refuse them for an integer field, but the value is the
 * same either way.
 */
export function readJsonInt(value: unknown, min: number): number | { readonly reason: string } {
  if (typeof value !== 'number') return { reason: 'must be a JSON number' };
  const reason = intReason(value, min);
  return reason === undefined ? value + 0 : { reason };
}

/**
 * Why `id` cannot be a device id, or `undefined` if it can. Ids travel inside the `,`/`:`/`;`
 * separated allocation string and the legacy inventory string, so none of those characters may
 * appear in one; an empty id is HAMi's "missing device UUID".
 */
export function deviceIdReason(id: string): string | undefined {
  if (id === '') return 'must not be empty';
  if (/[,:;]/.test(id)) return 'must not contain ",", ":" or ";"';
  return undefined;
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Why `name` is not a DNS-1123 label (a namespace name), or `undefined` if it is. */
export function dns1123LabelReason(name: string): string | undefined {
  if (name.length > 63) return 'must be at most 63 characters (DNS-1123 label)';
  if (!DNS1123_LABEL.test(name)) {
    return 'must be a DNS-1123 label: lower-case letters, digits and "-", starting and ending alphanumeric';
  }
  return undefined;
}

/** Why `name` is not a DNS-1123 subdomain (a pod name), or `undefined` if it is. */
export function dns1123SubdomainReason(name: string): string | undefined {
  if (name.length > 253) return 'must be at most 253 characters (DNS-1123 subdomain)';
  if (!name.split('.').every((label) => DNS1123_LABEL.test(label))) {
    return 'must be a DNS-1123 subdomain: dot-separated lower-case alphanumeric labels, "-" inside a label';
  }
  return undefined;
}

/** Calendar fields of a time, month 1–12. */
export interface CivilTime {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;

function daysInMonth(year: number, month: number): number {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return month === 2 && leap ? 29 : (DAYS_IN_MONTH[month - 1] ?? 0);
}

/**
 * The instant of a civil time read as UTC, minus `offsetMinutes` (the zone's offset east of UTC),
 * or the reason the fields are out of range. Ranges are Go's `time.Parse` ones: day within its
 * month, hour 0–23, second 0–59 (no leap second).
 */
export function civilToDate(t: CivilTime, offsetMinutes = 0): Date | { readonly reason: string } {
  if (t.month < 1 || t.month > 12) return { reason: 'month out of range' };
  if (t.day < 1 || t.day > daysInMonth(t.year, t.month)) return { reason: 'day out of range' };
  if (t.hour > 23) return { reason: 'hour out of range' };
  if (t.minute > 59) return { reason: 'minute out of range' };
  if (t.second > 59) return { reason: 'second out of range' };
  // Date.UTC maps years 0–99 to 1900–1999, so the year is set on its own.
  const date = new Date(0);
  date.setUTCFullYear(t.year, t.month - 1, t.day);
  date.setUTCHours(t.hour, t.minute - offsetMinutes, t.second, 0);
  return date;
}

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

/** Why `at` cannot be written as a four-digit-year UTC time, or `undefined` if it can. */
export function writableTimeReason(at: Date): string | undefined {
  const ms = at.getTime();
  if (Number.isNaN(ms)) return 'is an invalid Date';
  const year = at.getUTCFullYear();
  if (year < 0 || year > 9999) return 'must fall in the years 0000–9999 (four-digit years)';
  return undefined;
}

/**
 * `at` in UTC as `YYYY-MM-DD<sep>HH:MM:SS`, milliseconds dropped. The caller checks
 * {@link writableTimeReason} first.
 */
export function formatUtc(at: Date, sep: string): string {
  return (
    `${pad(at.getUTCFullYear(), 4)}-${pad(at.getUTCMonth() + 1, 2)}-${pad(at.getUTCDate(), 2)}` +
    `${sep}${pad(at.getUTCHours(), 2)}:${pad(at.getUTCMinutes(), 2)}:${pad(at.getUTCSeconds(), 2)}`
  );
}

/**
 * `JSON.stringify` output escaped the way Go's `encoding/json` escapes it: `<`, `>`, `&`, U+2028
 * and U+2029 as `\u` sequences. These characters only ever occur inside JSON strings, so a global
 * replace is exact; it makes our annotation byte-identical to HAMi's, which matters because the
 * device plugin and the scheduler compare the register annotation as a string to detect changes.
 */
export function goJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** Compares strings by code point, which is the byte order of their UTF-8 form (Go's string order). */
export function compareCodePoints(a: string, b: string): number {
  const x = Array.from(a);
  const y = Array.from(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) {
    const d = (x[i]?.codePointAt(0) ?? 0) - (y[i]?.codePointAt(0) ?? 0);
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

/** A plain JSON object (not an array, not null). */
export function isJsonObject(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * An own property of a parsed JSON object, with `null` read as absent, as Go's `encoding/json`
 * reads it (null leaves a field at its zero value).
 */
export function jsonField(object: Readonly<Record<string, unknown>>, name: string): unknown {
  const value = Object.hasOwn(object, name) ? object[name] : undefined;
  return value === null ? undefined : value;
}

/** Short text for a JSON value in an error: its JSON form. */
export function jsonText(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}

/** Throws the `RangeError` an encoder raises for a value that must not be written. */
export function rejectForEncoding(field: string, text: string, reason: string): never {
  throw new RangeError(`${field}: ${reason} (got ${quote(text)})`);
}
