/**
 * Node inventory annotation (`hami.io/node-nvidia-register` and the other vendors' `-register`
 * keys): the devices a node agent found, as HAMi's device plugins write them.
 *
 * Two wire forms exist. Since v2.8 the NVIDIA plugin writes JSON (`device.MarshalNodeDevices`):
 * ```json
 * [{"id":"GPU-0fc3…","count":10,"devmem":32768,"devcore":100,"type":"NVIDIA-Tesla V100-PCIE-32GB","mode":"hami-core","health":true},
 *  {"id":"GPU-0055…","index":1,"count":10,"devmem":32768,"devcore":100,"type":"NVIDIA-Tesla V100-PCIE-32GB","numa":1,"mode":"hami-core","health":true}]
 * ```
 * Older plugins (and still Hygon and Iluvatar) write the text form of `device.EncodeNodeDevices`,
 * one `id,count,devmem,devcore,type,numa,health,index,mode` record per device, each ended by `:`
 * (7-field records without `index,mode` come from even older plugins).
 */

import { NODE_NVIDIA_REGISTER } from '../annotations.js';
import type { Device, DeviceMode, MigProfile } from '../device.js';
import { DEVICE_MODES } from '../device.js';
import { DecodeError } from '../errors.js';
import {
  deviceIdReason,
  goJson,
  intReason,
  isJsonObject,
  jsonField,
  readJsonInt,
  jsonText,
  parseIntText,
  rejectForEncoding,
} from './fields.js';

/** Mode a device has when its record names none (HAMi's default). */
const DEFAULT_MODE: DeviceMode = 'hami-core';

function isDeviceMode(value: string): value is DeviceMode {
  return (DEVICE_MODES as readonly string[]).includes(value);
}

const MODES_TEXT = DEVICE_MODES.map((m) => `"${m}"`).join(', ');

/**
 * Reads a node's inventory annotation. JSON is tried first (the text starts with `[`, after JSON
 * whitespace); anything else is read as the legacy text form, as HAMi's scheduler does.
 *
 * JSON follows Go's `encoding/json` on HAMi's `DeviceInfo`: absent or `null` fields take their zero
 * value (`index`/`numa` 0, `health` false), an absent `mode` means `hami-core`, unknown fields
 * (`devicevendor`, `custominfo`, `migtemplate`) are ignored. Field names are matched exactly (Go
 * would also accept `"ID"`; HAMi never writes that).
 *
 * Legacy text: records separated and ended by `:`; empty records (after the last `:`, or between
 * two `:`) are skipped, as HAMi skips them; a text without any `:` is rejected. `health` must be
 * `true` or `false`, as `strconv.FormatBool` writes it.
 *
 * Both forms are validated: `id` non-empty without `,`, `:` or `;`, ids unique; `count` ≥ 1;
 * `devmem`, `devcore`, `index` ≥ 0; `numa` ≥ -1; integers at most 2^31-1; `mode` one of
 * {@link DEVICE_MODES}. An empty `migProfiles` list is the same as none.
 *
 * @param text the annotation value
 * @param vendor vendor key stored on every device (`NVIDIA`, …); it is not part of the wire form
 * @param key annotation key used in error field names
 * @returns the devices in annotation order
 * @throws DecodeError naming the field, e.g. `hami.io/node-nvidia-register[2].devmem`
 */
export function decodeNodeRegister(text: string, vendor: string, key = NODE_NVIDIA_REGISTER): Device[] {
  const devices = /^[ \t\n\r]*\[/.test(text)
    ? decodeJson(text, vendor, key)
    : decodeLegacy(text, vendor, key);
  const seen = new Set<string>();
  devices.forEach((device, i) => {
    if (seen.has(device.id)) {
      throw new DecodeError(`${key}[${i}].id`, device.id, 'is listed twice; device ids must be unique');
    }
    seen.add(device.id);
  });
  return devices;
}

function decodeJson(text: string, vendor: string, key: string): Device[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new DecodeError(key, text, `is not valid JSON (${(error as Error).message})`);
  }
  if (!Array.isArray(parsed)) throw new DecodeError(key, text, 'must be a JSON array of devices');
  return parsed.map((item: unknown, i) => decodeJsonDevice(item, vendor, `${key}[${i}]`));
}

/** Reads one integer field of a JSON object; absent means 0, as Go leaves an omitted field. */
function jsonInt(object: Readonly<Record<string, unknown>>, name: string, min: number, field: string): number {
  const value = jsonField(object, name);
  if (value === undefined) {
    if (min > 0) {
      throw new DecodeError(`${field}.${name}`, jsonText(object), `is missing (must be at least ${min})`);
    }
    return 0;
  }
  const result = readJsonInt(value, min);
  if (typeof result === 'number') return result;
  throw new DecodeError(`${field}.${name}`, jsonText(value), result.reason);
}

function jsonString(object: Readonly<Record<string, unknown>>, name: string, field: string): string | undefined {
  const value = jsonField(object, name);
  if (value === undefined || typeof value === 'string') return value;
  throw new DecodeError(`${field}.${name}`, jsonText(value), 'must be a JSON string');
}

function decodeJsonDevice(item: unknown, vendor: string, field: string): Device {
  if (!isJsonObject(item)) throw new DecodeError(field, jsonText(item), 'must be a JSON object');
  const id = jsonString(item, 'id', field) ?? '';
  const idReason = deviceIdReason(id);
  if (idReason !== undefined) throw new DecodeError(`${field}.id`, id, idReason);

  const modeText = jsonString(item, 'mode', field) ?? DEFAULT_MODE;
  if (!isDeviceMode(modeText)) throw new DecodeError(`${field}.mode`, modeText, `must be one of ${MODES_TEXT}`);

  const health = jsonField(item, 'health') ?? false;
  if (typeof health !== 'boolean') throw new DecodeError(`${field}.health`, jsonText(health), 'must be true or false');

  const device: Device = {
    id,
    index: jsonInt(item, 'index', 0, field),
    vendor,
    type: jsonString(item, 'type', field) ?? '',
    memoryMiB: jsonInt(item, 'devmem', 0, field),
    cores: jsonInt(item, 'devcore', 0, field),
    splitCount: jsonInt(item, 'count', 1, field),
    numa: jsonInt(item, 'numa', -1, field),
    healthy: health,
    mode: modeText,
  };
  const profiles = jsonField(item, 'migProfiles');
  if (profiles === undefined) return device;
  if (!Array.isArray(profiles)) {
    throw new DecodeError(`${field}.migProfiles`, jsonText(profiles), 'must be a JSON array');
  }
  if (profiles.length === 0) return device;
  return {
    ...device,
    migProfiles: profiles.map((p: unknown, j) => decodeMigProfile(p, `${field}.migProfiles[${j}]`)),
  };
}

function decodeMigProfile(item: unknown, field: string): MigProfile {
  if (!isJsonObject(item)) throw new DecodeError(field, jsonText(item), 'must be a JSON object');
  const name = jsonString(item, 'name', field) ?? '';
  if (name === '') throw new DecodeError(`${field}.name`, name, 'must not be empty');
  // Go's MigProfile has no omitempty and writes `"placements":null` for a nil slice: read it as [].
  const placements = jsonField(item, 'placements') ?? [];
  if (!Array.isArray(placements)) {
    throw new DecodeError(`${field}.placements`, jsonText(placements), 'must be a JSON array');
  }
  return {
    name,
    memoryMiB: jsonInt(item, 'memoryMB', 0, field),
    cores: jsonInt(item, 'core', 0, field),
    sliceCount: jsonInt(item, 'sliceCount', 1, field),
    placements: placements.map((p: unknown, k) => {
      const at = `${field}.placements[${k}]`;
      if (!isJsonObject(p)) throw new DecodeError(at, jsonText(p), 'must be a JSON object');
      return { start: jsonInt(p, 'start', 0, at), size: jsonInt(p, 'size', 1, at) };
    }),
  };
}

/** Field names of a legacy record, in order; the last two only in 9-field records. */
const LEGACY_FIELDS = ['id', 'count', 'devmem', 'devcore', 'type', 'numa', 'health', 'index', 'mode'] as const;

function decodeLegacy(text: string, vendor: string, key: string): Device[] {
  if (!text.includes(':')) {
    throw new DecodeError(key, text, 'is neither a JSON array nor the legacy text form (no ":" separator)');
  }
  const devices: Device[] = [];
  for (const record of text.split(':')) {
    if (record === '') continue;
    const field = `${key}[${devices.length}]`;
    const parts = record.split(',');
    if (parts.length !== 7 && parts.length !== 9) {
      throw new DecodeError(
        field,
        record,
        `has ${parts.length} fields, want 7 or 9 (id,count,devmem,devcore,type,numa,health[,index,mode])`,
      );
    }
    const part = (i: number): string => parts[i] ?? '';
    const int = (i: number, min: number): number => {
      const result = parseIntText(part(i), min);
      if (typeof result === 'number') return result;
      throw new DecodeError(`${field}.${LEGACY_FIELDS[i] ?? i}`, part(i), result.reason);
    };
    const id = part(0);
    const idReason = deviceIdReason(id);
    if (idReason !== undefined) throw new DecodeError(`${field}.id`, id, idReason);
    const health = part(6);
    if (health !== 'true' && health !== 'false') {
      throw new DecodeError(`${field}.health`, health, 'must be "true" or "false"');
    }
    const mode = parts.length === 9 ? part(8) : DEFAULT_MODE;
    if (!isDeviceMode(mode)) throw new DecodeError(`${field}.mode`, mode, `must be one of ${MODES_TEXT}`);
    devices.push({
      id,
      index: parts.length === 9 ? int(7, 0) : 0,
      vendor,
      type: part(4),
      memoryMiB: int(2, 0),
      cores: int(3, 0),
      splitCount: int(1, 1),
      numa: int(5, -1),
      healthy: health === 'true',
      mode,
    });
  }
  return devices;
}

/** Throws a RangeError if `device` cannot be written; `field` locates it in the error. */
function checkDevice(device: Device, field: string): void {
  const idReason = deviceIdReason(device.id);
  if (idReason !== undefined) rejectForEncoding(`${field}.id`, device.id, idReason);
  const ints: readonly [string, number, number][] = [
    ['index', device.index, 0],
    ['count', device.splitCount, 1],
    ['devmem', device.memoryMiB, 0],
    ['devcore', device.cores, 0],
    ['numa', device.numa, -1],
  ];
  for (const [name, value, min] of ints) {
    const reason = intReason(value, min);
    if (reason !== undefined) rejectForEncoding(`${field}.${name}`, String(value), reason);
  }
  if (!isDeviceMode(device.mode)) rejectForEncoding(`${field}.mode`, device.mode, `must be one of ${MODES_TEXT}`);
  device.migProfiles?.forEach((p, j) => {
    const at = `${field}.migProfiles[${j}]`;
    if (p.name === '') rejectForEncoding(`${at}.name`, p.name, 'must not be empty');
    const checks: readonly [string, number, number][] = [
      ['memoryMB', p.memoryMiB, 0],
      ['core', p.cores, 0],
      ['sliceCount', p.sliceCount, 1],
      ...p.placements.flatMap((pl, k): [string, number, number][] => [
        [`placements[${k}].start`, pl.start, 0],
        [`placements[${k}].size`, pl.size, 1],
      ]),
    ];
    for (const [name, value, min] of checks) {
      const reason = intReason(value, min);
      if (reason !== undefined) rejectForEncoding(`${at}.${name}`, String(value), reason);
    }
  });
}

function checkDevices(devices: readonly Device[]): void {
  const seen = new Set<string>();
  devices.forEach((device, i) => {
    const field = `${NODE_NVIDIA_REGISTER}[${i}]`;
    checkDevice(device, field);
    if (seen.has(device.id)) rejectForEncoding(`${field}.id`, device.id, 'is listed twice; device ids must be unique');
    seen.add(device.id);
  });
}

/**
 * Writes the JSON inventory exactly as HAMi's `MarshalNodeDevices` does: keys in Go struct order
 * (`id, index, count, devmem, devcore, type, numa, mode, migProfiles, health`), every field
 * `omitempty` (so `index` 0, `numa` 0, empty `type`, `devmem`/`devcore` 0, no MIG profiles and
 * `health` false are left out), `<`, `>`, `&` escaped as Go escapes them. `vendor` is not written.
 *
 * @throws RangeError if a device breaks a rule {@link decodeNodeRegister} checks
 */
export function encodeNodeRegister(devices: readonly Device[]): string {
  checkDevices(devices);
  return goJson(
    devices.map((d) => ({
      id: d.id,
      ...(d.index !== 0 && { index: d.index }),
      count: d.splitCount,
      ...(d.memoryMiB !== 0 && { devmem: d.memoryMiB }),
      ...(d.cores !== 0 && { devcore: d.cores }),
      ...(d.type !== '' && { type: d.type }),
      ...(d.numa !== 0 && { numa: d.numa }),
      mode: d.mode,
      ...(d.migProfiles !== undefined &&
        d.migProfiles.length > 0 && {
          migProfiles: d.migProfiles.map((p) => ({
            name: p.name,
            memoryMB: p.memoryMiB,
            core: p.cores,
            sliceCount: p.sliceCount,
            placements: p.placements.map((pl) => ({ start: pl.start, size: pl.size })),
          })),
        }),
      ...(d.healthy && { health: true }),
    })),
  );
}

/**
 * Writes the legacy 9-field text form, as HAMi's `EncodeNodeDevices` does:
 * `id,count,devmem,devcore,type,numa,health,index,mode:` per device. MIG profiles have no place in
 * this form and are dropped (as HAMi drops them). An empty list gives the empty string, which the
 * decoder (HAMi's too) rejects for lack of a `:`; nodes without devices should use the JSON form.
 *
 * @throws RangeError if a device breaks a rule {@link decodeNodeRegister} checks, or its `type`
 *   contains `,` or `:`, which would split the record
 */
export function encodeNodeRegisterLegacy(devices: readonly Device[]): string {
  checkDevices(devices);
  return devices
    .map((d, i) => {
      if (/[,:]/.test(d.type)) {
        rejectForEncoding(`${NODE_NVIDIA_REGISTER}[${i}].type`, d.type, 'must not contain "," or ":" in the text form');
      }
      return `${d.id},${d.splitCount},${d.memoryMiB},${d.cores},${d.type},${d.numa},${d.healthy},${d.index},${d.mode}:`;
    })
    .join('');
}
