/**
 * The per-node bind lock (`hami.io/mutex.lock`, HAMi's `pkg/util/nodelock`): one lock per node for
 * all vendors, taken by the scheduler at Bind and released by the device plugin after Allocate, or
 * by anyone once it is older than the lock timeout (5 min by default).
 *
 * Value: `<time>,<namespace>,<pod>`, the time in Go's `time.RFC3339` (`2026-08-21T08:20:39Z`, or
 * with an offset such as `+08:00` when the writer's zone is not UTC); very old HAMi wrote the bare
 * time with no owner.
 */

import { NODE_LOCK } from '../annotations.js';
import { DecodeError } from '../errors.js';
import {
  civilToDate,
  dns1123LabelReason,
  dns1123SubdomainReason,
  formatUtc,
  rejectForEncoding,
  writableTimeReason,
} from './fields.js';

/** The pod holding a node lock. */
export interface NodeLockOwner {
  readonly namespace: string;
  readonly name: string;
}

/** A decoded node lock. */
export interface NodeLock {
  /** When the lock was taken, to the second. */
  readonly at: Date;
  /** The pod that holds it; `null` for the legacy bare-time form. */
  readonly owner: NodeLockOwner | null;
}

/**
 * RFC 3339 as Go's `time.Parse(time.RFC3339, …)` accepts it: upper-case `T` and `Z`, offsets as
 * `±hh:mm`, and fractional seconds even though the layout has none.
 */
const RFC3339 =
  /^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?(?:Z|([+-])([0-9]{2}):([0-9]{2}))$/;

function parseTime(text: string, field: string): Date {
  const match = RFC3339.exec(text);
  if (match === null) {
    throw new DecodeError(field, text, 'must be an RFC 3339 time such as "2026-08-21T08:20:39Z"');
  }
  const n = (i: number): number => Number(match[i]);
  let offset = 0;
  if (match[8] !== undefined) {
    // Go 1.20+ rejects offset hours of 24 or more; minutes must be a valid minute.
    if (n(9) > 23 || n(10) > 59) throw new DecodeError(field, text, 'time zone offset out of range');
    offset = (match[8] === '-' ? -1 : 1) * (n(9) * 60 + n(10));
  }
  const at = civilToDate({ year: n(1), month: n(2), day: n(3), hour: n(4), minute: n(5), second: n(6) }, offset);
  if (!(at instanceof Date)) throw new DecodeError(field, text, at.reason);
  // Refused so that whatever decodes can be written back with a four-digit year.
  const reason = writableTimeReason(at);
  if (reason !== undefined) throw new DecodeError(field, text, `in UTC ${reason}`);
  // Fractional seconds are read and dropped: HAMi writes whole seconds and a lock's age is judged
  // in minutes, and keeping the value to the second makes decode and encode agree exactly.
  return at;
}

/**
 * Reads a node lock. With a `,` the value must have exactly three parts, as HAMi's
 * `ParseNodeLock` requires, and the owner must be a valid namespace (DNS-1123 label) and pod name
 * (DNS-1123 subdomain). Without a `,` it is the legacy bare time and `owner` is `null`.
 *
 * @throws DecodeError with field `hami.io/mutex.lock` for the shape, `.time`, `.namespace` or
 *   `.name` for a part
 */
export function decodeNodeLock(text: string): NodeLock {
  if (!text.includes(',')) return { at: parseTime(text, `${NODE_LOCK}.time`), owner: null };
  const parts = text.split(',');
  const [time = '', namespace = '', name = ''] = parts;
  if (parts.length !== 3) {
    throw new DecodeError(NODE_LOCK, text, `has ${parts.length} ","-separated parts, want 3 (time,namespace,pod)`);
  }
  const at = parseTime(time, `${NODE_LOCK}.time`);
  const nsReason = dns1123LabelReason(namespace);
  if (nsReason !== undefined) throw new DecodeError(`${NODE_LOCK}.namespace`, namespace, nsReason);
  const nameReason = dns1123SubdomainReason(name);
  if (nameReason !== undefined) throw new DecodeError(`${NODE_LOCK}.name`, name, nameReason);
  return { at, owner: { namespace, name } };
}

/**
 * Writes a node lock held by pod `namespace/name`: `2026-08-21T08:20:39Z,default,gpu-pod`, the
 * time in UTC to the second (what Go's `time.RFC3339` gives for a UTC time).
 *
 * @throws RangeError for an invalid Date, a year outside 0000–9999, or an invalid namespace or name
 */
export function encodeNodeLock(at: Date, namespace: string, name: string): string {
  const timeReason = writableTimeReason(at);
  if (timeReason !== undefined) rejectForEncoding(`${NODE_LOCK}.time`, String(at), timeReason);
  const nsReason = dns1123LabelReason(namespace);
  if (nsReason !== undefined) rejectForEncoding(`${NODE_LOCK}.namespace`, namespace, nsReason);
  const nameReason = dns1123SubdomainReason(name);
  if (nameReason !== undefined) rejectForEncoding(`${NODE_LOCK}.name`, name, nameReason);
  return `${formatUtc(at, 'T')}Z,${namespace},${name}`;
}
