/**
 * The node handshake annotation (`hami.io/node-handshake`, other vendors `hami.io/node-handshake-<x>`),
 * HAMi's liveness check between scheduler and device plugin:
 * - `Requesting_2026-08-21 08:20:39`: the scheduler asked at that time (Go's `time.DateTime`);
 *   after 60 s without an allocatable device count on the node, the node's devices are dropped.
 * - `Deleted_2026-08-21 08:20:39`: written by schedulers before v2.10 when they dropped the node
 *   (v2.10 removes the key instead, HAMi #2052).
 * - `Reported 2026-08-21 08:20:39.123456789 +0000 UTC m=+12.3`: written by device plugins up to
 *   v2.7 (`time.Now().String()`).
 *
 * Times: HAMi writes and reads them in the scheduler's local time zone (`time.Now().Format`,
 * `time.ParseInLocation(…, time.Local)`) and the text carries no zone. Tessera writes and reads UTC,
 * which is what cluster nodes and the upstream container images run in, so both agree there; a
 * HAMi scheduler in another zone would see our timestamps shifted by its offset (at worst it drops
 * a node an offset early or late, then the next request repairs it).
 */

import { NODE_HANDSHAKE } from '../annotations.js';
import { DecodeError } from '../errors.js';
import { civilToDate, formatUtc, rejectForEncoding, writableTimeReason } from './fields.js';

/** Which side wrote the handshake value last and what it means (see the module comment). */
export type HandshakeState = 'requesting' | 'deleted' | 'reported';

/** A decoded handshake value. */
export interface Handshake {
  readonly state: HandshakeState;
  /**
   * When it was written, whole seconds for `requesting`/`deleted`; for `reported`, the time in
   * Go's `Time.String()` form to the millisecond, or `null` when the text is not in that form.
   */
  readonly at: Date | null;
}

/** Go's `time.DateTime` layout, `2006-01-02 15:04:05`. */
const DATE_TIME = /^([0-9]{4})-([0-9]{2})-([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2})$/;

/** Go's `Time.String()`: `2006-01-02 15:04:05.999999999 -0700 MST`, then maybe ` m=+1.5`. */
const GO_TIME_STRING =
  /^([0-9]{4})-([0-9]{2})-([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))? ([+-])([0-9]{2})([0-9]{2})(?: |$)/;

function civil(match: RegExpExecArray) {
  const n = (i: number): number => Number(match[i]);
  return { year: n(1), month: n(2), day: n(3), hour: n(4), minute: n(5), second: n(6) };
}

function parseDateTime(text: string, field: string): Date {
  const match = DATE_TIME.exec(text);
  if (match === null) throw new DecodeError(field, text, 'must be a time as "YYYY-MM-DD HH:MM:SS"');
  const at = civilToDate(civil(match));
  if (at instanceof Date) return at;
  throw new DecodeError(field, text, at.reason);
}

function parseGoTimeString(text: string): Date | null {
  const match = GO_TIME_STRING.exec(text);
  if (match === null) return null;
  const sign = match[8] === '-' ? -1 : 1;
  const offset = sign * (Number(match[9]) * 60 + Number(match[10]));
  const at = civilToDate(civil(match), offset);
  if (!(at instanceof Date)) return null;
  // Sub-millisecond digits go: a Date holds milliseconds.
  return new Date(at.getTime() + Number((match[7] ?? '').padEnd(3, '0').slice(0, 3)));
}

/**
 * Reads a handshake value. `Requesting_` and `Deleted_` must be followed by a valid
 * `YYYY-MM-DD HH:MM:SS`, read as UTC; `Reported ` may be followed by anything.
 *
 * HAMi itself is looser: any value containing `Requesting` is a request (one whose time does not
 * parse counts as fresh, so the node stays healthy), anything else is "no handshake yet" and gets a
 * new request. This decoder throws for anything but the three forms and leaves that policy to the
 * caller, which sees the `DecodeError`.
 *
 * @param key annotation key used in error field names
 * @throws DecodeError with field `<key>` for an unknown form, `<key>.time` for a bad time
 */
export function decodeHandshake(text: string, key = NODE_HANDSHAKE): Handshake {
  if (text.startsWith('Requesting_')) {
    return { state: 'requesting', at: parseDateTime(text.slice('Requesting_'.length), `${key}.time`) };
  }
  if (text.startsWith('Deleted_')) {
    return { state: 'deleted', at: parseDateTime(text.slice('Deleted_'.length), `${key}.time`) };
  }
  if (text.startsWith('Reported ')) {
    return { state: 'reported', at: parseGoTimeString(text.slice('Reported '.length)) };
  }
  throw new DecodeError(key, text, 'must start with "Requesting_", "Deleted_" or "Reported "');
}

/**
 * Writes the scheduler's handshake request, `Requesting_YYYY-MM-DD HH:MM:SS` in UTC, to the second
 * (milliseconds are dropped).
 *
 * @throws RangeError for an invalid Date or one outside the years 0000–9999
 */
export function encodeHandshakeRequest(at: Date): string {
  const reason = writableTimeReason(at);
  if (reason !== undefined) rejectForEncoding(`${NODE_HANDSHAKE}.time`, String(at), reason);
  return `Requesting_${formatUtc(at, ' ')}`;
}

/**
 * Writes a device plugin's answer, `Reported ` + the time as Go's `Time.String()` prints it in UTC
 * (`Reported 2026-08-21 08:20:39.123 +0000 UTC`; trailing zeros of the fraction dropped, no
 * fraction for a whole second), as HAMi's plugins up to v2.7 did. Newer schedulers (HAMi's and
 * ours) judge liveness by the node's allocatable count instead; the answer keeps older HAMi
 * schedulers, which drop a node that never answers, working.
 *
 * @throws RangeError for an invalid Date or one outside the years 0000–9999
 */
export function encodeHandshakeReport(at: Date): string {
  const reason = writableTimeReason(at);
  if (reason !== undefined) rejectForEncoding(`${NODE_HANDSHAKE}.time`, String(at), reason);
  const millis = at.getUTCMilliseconds();
  const fraction = millis === 0 ? '' : `.${String(millis).padStart(3, '0').replace(/0+$/, '')}`;
  return `Reported ${formatUtc(at, ' ')}${fraction} +0000 UTC`;
}
