/**
 * The pod allocation annotations (`hami.io/vgpu-devices-to-allocate`, `hami.io/vgpu-devices-allocated`
 * and the other vendors' keys): which share of which device each container got, written by the
 * scheduler at Filter; the device plugin erases entries from `-to-allocate` as it serves them.
 *
 * Grammar (HAMi's `EncodePodSingleDevice`): for each container, init containers first, each
 * device as `<UUID>,<TYPE>,<MiB>,<cores>:`, then `;`. A container without devices is an empty
 * segment, kept so that positions line up with the pod spec:
 * ```text
 * GPU-0fc3eda5-e98b-a25b-5b0d-cf5c855d1448,NVIDIA,3000,30:;      one container, one device
 * ;GPU-aaa,NVIDIA,24576,100:GPU-bbb,NVIDIA,24576,100:;          init container without devices + one with two
 * ;;                                                           two containers, both served
 * ```
 */

import { POD_DEVICES_ALLOCATED } from '../annotations.js';
import type { DeviceGrant, PodGrants } from '../device.js';
import { DecodeError } from '../errors.js';
import { deviceIdReason, intReason, parseIntText, rejectForEncoding } from './fields.js';

/** HAMi's error text for an entry with fewer than four fields; kept so operators can search for it. */
export const MISSING_FIELDS_MESSAGE = 'pod annotation format error, missing fields, do not use nodeName in task spec';

/**
 * Reads an allocation annotation into per-container grants.
 *
 * `;` ends a container, so `""` is zero containers and `";;"` two empty ones; a last segment
 * without its `;` still counts as a container. (HAMi splits on `;` and so sees one more, empty,
 * container at the end; its consumers index by container position, where a trailing empty one
 * changes nothing.) Inside a container, empty entries between `:` are skipped as HAMi skips them,
 * and a last entry without its `:` is read.
 *
 * Each entry must have exactly four fields: fewer is HAMi's "missing fields" error, more is refused
 * here (HAMi ignores extra fields; nothing writes them, and dropping them silently would lose data).
 * UUID and type are non-empty without `,`, `:` or `;`; MiB and cores are integers in `[0, 2^31-1]`.
 *
 * @param key annotation key used in error field names
 * @throws DecodeError naming the field, e.g. `hami.io/vgpu-devices-allocated[1][0].usedmem`
 */
export function decodePodGrants(text: string, key = POD_DEVICES_ALLOCATED): PodGrants {
  const segments = text.split(';');
  if (segments[segments.length - 1] === '') segments.pop();
  return segments.map((segment, c) => {
    const grants: DeviceGrant[] = [];
    for (const entry of segment.split(':')) {
      if (entry === '') continue;
      const field = `${key}[${c}][${grants.length}]`;
      const parts = entry.split(',');
      if (parts.length < 4) throw new DecodeError(field, entry, `${MISSING_FIELDS_MESSAGE} (want UUID,TYPE,MiB,cores)`);
      if (parts.length > 4) throw new DecodeError(field, entry, `has ${parts.length} fields, want 4 (UUID,TYPE,MiB,cores)`);
      const [id = '', vendor = '', memText = '', coresText = ''] = parts;
      const idReason = deviceIdReason(id);
      if (idReason !== undefined) throw new DecodeError(`${field}.uuid`, id, idReason);
      if (vendor === '') throw new DecodeError(`${field}.type`, vendor, 'must not be empty');
      const memoryMiB = parseIntText(memText, 0);
      if (typeof memoryMiB !== 'number') throw new DecodeError(`${field}.usedmem`, memText, memoryMiB.reason);
      const cores = parseIntText(coresText, 0);
      if (typeof cores !== 'number') throw new DecodeError(`${field}.usedcores`, coresText, cores.reason);
      grants.push({ id, vendor, memoryMiB, cores });
    }
    return grants;
  });
}

/**
 * Writes per-container grants in HAMi's grammar, every device ended by `:` and every container
 * by `;` (zero containers give `""`).
 *
 * @throws RangeError for an id or type that is empty or contains `,`, `:` or `;`, or MiB/cores that
 *   are not integers in `[0, 2^31-1]`
 */
export function encodePodGrants(grants: PodGrants): string {
  return grants
    .map((container, c) =>
      container
        .map((g, d) => {
          const field = `${POD_DEVICES_ALLOCATED}[${c}][${d}]`;
          const idReason = deviceIdReason(g.id);
          if (idReason !== undefined) rejectForEncoding(`${field}.uuid`, g.id, idReason);
          // The type shares the id's separators, so the same rule applies.
          const typeReason = deviceIdReason(g.vendor);
          if (typeReason !== undefined) rejectForEncoding(`${field}.type`, g.vendor, typeReason);
          const memReason = intReason(g.memoryMiB, 0);
          if (memReason !== undefined) rejectForEncoding(`${field}.usedmem`, String(g.memoryMiB), memReason);
          const coresReason = intReason(g.cores, 0);
          if (coresReason !== undefined) rejectForEncoding(`${field}.usedcores`, String(g.cores), coresReason);
          return `${g.id},${g.vendor},${g.memoryMiB},${g.cores}:`;
        })
        .join('') + ';',
    )
    .join('');
}
