/**
 * Device pair scores (`hami.io/node-nvidia-score`), written by HAMi's NVIDIA device plugin when
 * `ENABLE_TOPOLOGY_SCORE=true`: one entry per device with its score to each other device,
 * `[{"uuid":"GPU-a","score":{"GPU-b":200,"GPU-c":20}},…]` (Go's `DevicePairScores`). Higher is
 * better connected: 100 per NVLink, 10–60 by PCIe topology (see the topology-aware policy).
 */

import { NODE_NVIDIA_SCORE } from '../annotations.js';
import type { DeviceLink } from '../device.js';
import { DecodeError } from '../errors.js';
import {
  compareCodePoints,
  deviceIdReason,
  goJson,
  intReason,
  isJsonObject,
  jsonField,
  readJsonInt,
  jsonText,
  rejectForEncoding,
} from './fields.js';

/**
 * Reads the pair-score annotation into links, one per `(uuid, target)` pair.
 *
 * Order: entries in annotation order; within an entry, targets in code-point order (the order Go
 * writes map keys in, and one `JSON.parse` cannot disturb: it lists integer-like keys first).
 * `null` for the whole value or for an entry's `score` means no scores, as Go reads it.
 *
 * Rules: ids non-empty without `,`, `:` or `;`; scores integers in `[0, 2^31-1]`; a device scored
 * against itself, or listed in two entries, is an error.
 *
 * @param key annotation key used in error field names
 * @throws DecodeError naming the field, e.g. `hami.io/node-nvidia-score[0].score["GPU-b"]`
 */
export function decodeNodeScore(text: string, key = NODE_NVIDIA_SCORE): DeviceLink[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new DecodeError(key, text, `is not valid JSON (${(error as Error).message})`);
  }
  if (parsed === null) return [];
  if (!Array.isArray(parsed)) throw new DecodeError(key, text, 'must be a JSON array of device entries');

  const links: DeviceLink[] = [];
  const seen = new Set<string>();
  parsed.forEach((entry: unknown, i) => {
    const field = `${key}[${i}]`;
    if (!isJsonObject(entry)) throw new DecodeError(field, jsonText(entry), 'must be a JSON object');
    const from = jsonField(entry, 'uuid') ?? '';
    if (typeof from !== 'string') throw new DecodeError(`${field}.uuid`, jsonText(from), 'must be a JSON string');
    const idReason = deviceIdReason(from);
    if (idReason !== undefined) throw new DecodeError(`${field}.uuid`, from, idReason);
    if (seen.has(from)) throw new DecodeError(`${field}.uuid`, from, 'is listed in two entries');
    seen.add(from);

    const scores = jsonField(entry, 'score') ?? {};
    if (!isJsonObject(scores)) throw new DecodeError(`${field}.score`, jsonText(scores), 'must be a JSON object');
    for (const to of Object.keys(scores).sort(compareCodePoints)) {
      const at = `${field}.score[${JSON.stringify(to)}]`;
      const toReason = deviceIdReason(to);
      if (toReason !== undefined) throw new DecodeError(at, to, `names a device id that ${toReason}`);
      if (to === from) throw new DecodeError(at, to, 'links a device to itself');
      const score = readJsonInt(scores[to], 0);
      if (typeof score !== 'number') throw new DecodeError(at, jsonText(scores[to]), score.reason);
      links.push({ from, to, score });
    }
  });
  return links;
}

/**
 * Writes links as the pair-score annotation, byte-for-byte as HAMi's plugin does: one entry per
 * source device in order of first appearance, targets in code-point order (Go sorts map keys).
 * A device without links gets no entry (the wire form cannot tell that apart from absence).
 *
 * @throws RangeError for an invalid id, a negative or non-integer score, a self-link, or the same
 *   pair given twice
 */
export function encodeNodeScore(links: readonly DeviceLink[]): string {
  const bySource = new Map<string, Map<string, number>>();
  links.forEach((link, i) => {
    const field = `${NODE_NVIDIA_SCORE}[${i}]`;
    for (const [name, id] of [['from', link.from], ['to', link.to]] as const) {
      const reason = deviceIdReason(id);
      if (reason !== undefined) rejectForEncoding(`${field}.${name}`, id, reason);
    }
    if (link.from === link.to) rejectForEncoding(`${field}.to`, link.to, 'links a device to itself');
    const reason = intReason(link.score, 0);
    if (reason !== undefined) rejectForEncoding(`${field}.score`, String(link.score), reason);
    let targets = bySource.get(link.from);
    if (targets === undefined) {
      targets = new Map();
      bySource.set(link.from, targets);
    }
    if (targets.has(link.to)) rejectForEncoding(`${field}.to`, link.to, `is linked from ${link.from} twice`);
    targets.set(link.to, link.score);
  });
  // Built as text, not as an object for JSON.stringify: an id such as "__proto__" or "7" would
  // be lost or reordered as an object key.
  const entries = [...bySource].map(([from, targets]) => {
    const scores = [...targets.keys()]
      .sort(compareCodePoints)
      .map((to) => `${goJson(to)}:${targets.get(to) ?? 0}`);
    return `{"uuid":${goJson(from)},"score":{${scores.join(',')}}}`;
  });
  return `[${entries.join(',')}]`;
}
