/**
 * The mock devices file: a node's GPUs written by hand, for tests, the demo cluster and anyone
 * trying Tessera without GPUs. This module turns its text into the same DiscoveredInventory the
 * NVML backend produces; mock.ts reads the file. docs/node-agent.md ("Mock devices") documents
 * the format for users, and deploy/examples/mock-devices.yaml is a worked example.
 *
 * ```yaml
 * devices:
 *   - name: NVIDIA A100-SXM4-80GB   # required: product name as the driver reports it
 *     memoryMiB: 81920              # required: total memory in MiB, or null when not reported
 *     count: 4                      # default 1: this many identical devices
 *     vendor: NVIDIA                # default NVIDIA
 *     numa: 0                       # default 0
 *     uuid: GPU-…                   # only with count 1; default derived from the node name and index
 *     pciBusId: 00000000:17:00.0    # only with count 1; default 00000000:<index+1, hex>:00.0
 *     healthy: true                 # default true
 *     healthReason: XID 79          # only with healthy: false
 *     mig: false                    # default false: MIG mode enabled
 *     usage:                        # optional: what the node monitor reports (host metrics)
 *       memoryUsedMiB: 1024         # default 0, at most memoryMiB
 *       utilization: 35             # default 0: GPU utilisation, percent (0–100)
 *       memoryUtilization: 10       # default 0: memory controller utilisation, percent (0–100)
 * links:                            # optional; pairs not listed have no NVLink
 *   - between: [0, 1]               # two devices, by index (after expanding count) or UUID
 *     nvlinks: 12                   # default 0, at most 18
 *     pcie: same-board              # default same-cpu on one NUMA node, else cross-cpu
 * ```
 *
 * Every error names the file, the line, the field's YAML path (`devices[2].memoryMiB`), the
 * offending value and what to write instead. Unknown fields are errors, so a typo such as
 * `memoryMib` does not silently fall back to a default.
 */

import { createHash } from 'node:crypto';

import { LineCounter, parseDocument, type Document } from 'yaml';
import { z } from 'zod';

import { deviceIdReason } from '../../core/codec/fields.js';
import { quote } from '../../core/errors.js';
import type { DeviceUsageSample, DiscoveredDevice, DiscoveredInventory, DiscoveredLink, PcieRelation } from './backend.js';
import { DiscoveryError } from './backend.js';
import { canonicalPciBusId, parsePciBusId } from './pci.js';
import { pcieRelationByNuma } from './topology.js';

export const PCIE_RELATIONS = [
  'same-board',
  'single-switch',
  'multi-switch',
  'host-bridge',
  'same-cpu',
  'cross-cpu',
] as const satisfies readonly PcieRelation[];

/** Most devices one entry's `count` may stand for. */
export const MAX_COUNT = 64;
/** Most devices one file may describe (derived bus ids use one byte). */
export const MAX_DEVICES = 255;
/** Most NVLinks between two GPUs (NVML_NVLINK_MAX_LINKS). */
export const MAX_NVLINKS = 18;
const INT32_MAX = 2 ** 31 - 1;
const MIB = 1024 * 1024;

const wholeNumber = (min: number, max: number) => z.number().int().min(min).max(max);
const endpoint = z.union([wholeNumber(0, INT32_MAX), z.string().min(1)]);

const usageEntry = z.strictObject({
  memoryUsedMiB: wholeNumber(0, INT32_MAX).optional(),
  utilization: wholeNumber(0, 100).optional(),
  memoryUtilization: wholeNumber(0, 100).optional(),
});

const deviceEntry = z.strictObject({
  name: z.string().min(1),
  memoryMiB: wholeNumber(0, INT32_MAX).nullable(),
  count: wholeNumber(1, MAX_COUNT).optional(),
  vendor: z.string().min(1).optional(),
  numa: wholeNumber(0, INT32_MAX).optional(),
  uuid: z.string().optional(),
  healthy: z.boolean().optional(),
  healthReason: z.string().min(1).optional(),
  mig: z.boolean().optional(),
  pciBusId: z.string().optional(),
  usage: usageEntry.optional(),
});

const linkEntry = z.strictObject({
  between: z.tuple([endpoint, endpoint]),
  nvlinks: wholeNumber(0, MAX_NVLINKS).optional(),
  pcie: z.enum(PCIE_RELATIONS).optional(),
});

const mockFile = z.strictObject({
  devices: z.array(deviceEntry),
  links: z.array(linkEntry).optional(),
});

type DeviceEntry = z.infer<typeof deviceEntry>;
type LinkEntry = z.infer<typeof linkEntry>;
type Path = readonly (string | number)[];

const FILE_FIELDS = Object.keys(mockFile.shape);
const DEVICE_FIELDS = Object.keys(deviceEntry.shape);
const LINK_FIELDS = Object.keys(linkEntry.shape);
const USAGE_FIELDS = Object.keys(usageEntry.shape);

/** What each field must hold, said the way a user fixes it; keyed by the field's name. */
const REQUIREMENTS: Readonly<Record<string, string>> = {
  devices:
    'must be a list of devices, e.g. `devices: [{ name: NVIDIA A10, memoryMiB: 23028 }]` (`devices: []` for a node without GPUs)',
  name: 'must be the product name, a non-empty string, e.g. `name: NVIDIA A100-SXM4-80GB`',
  memoryMiB: `must be the total memory as a whole number of MiB, e.g. \`memoryMiB: 81920\`, or null when the device reports none`,
  count: `must be a whole number from 1 to ${String(MAX_COUNT)}: how many identical devices this entry stands for`,
  vendor: 'must be a non-empty vendor key, e.g. `vendor: NVIDIA`',
  numa: 'must be a NUMA node number, 0 or more',
  uuid: 'must be a unique device id without ",", ":" or ";", e.g. `uuid: GPU-8c3f5e1a-…`',
  healthy: 'must be true or false',
  healthReason: 'must be a non-empty string saying why the device is unhealthy, e.g. `healthReason: XID 79`',
  mig: 'must be true or false (whether MIG mode is enabled)',
  pciBusId: 'must be a PCI bus id such as 00000000:17:00.0 (domain:bus:device.function, hexadecimal)',
  links: 'must be a list of links, e.g. `links: [{ between: [0, 1], nvlinks: 12 }]`',
  between:
    'must name two devices, each by index (counting after `count` is expanded) or by UUID, e.g. `between: [0, 1]`',
  nvlinks: `must be a whole number of NVLinks from 0 to ${String(MAX_NVLINKS)}`,
  pcie: `must be one of ${PCIE_RELATIONS.join(', ')}`,
  usage: 'must be a mapping, e.g. `usage: { memoryUsedMiB: 1024, utilization: 35, memoryUtilization: 10 }`',
  memoryUsedMiB: 'must be the memory in use as a whole number of MiB, 0 or more, e.g. `memoryUsedMiB: 1024`',
  utilization: 'must be the GPU utilisation in percent, a whole number from 0 to 100',
  memoryUtilization: 'must be the memory controller utilisation in percent, a whole number from 0 to 100',
};

/** `devices[2].memoryMiB` from `['devices', 2, 'memoryMiB']`. */
function yamlPath(path: Path): string {
  return path.map((part, i) => (typeof part === 'number' ? `[${String(part)}]` : i === 0 ? part : `.${part}`)).join('');
}

function shown(value: unknown): string {
  if (typeof value === 'string') return quote(value);
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
}

/** Reads a value at a path of the parsed YAML. */
function valueAt(root: unknown, path: Path): unknown {
  let value = root;
  for (const part of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string | number, unknown>)[part];
  }
  return value;
}

/** Locates paths in the file, for line numbers in messages. */
class Locator {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  /** Line of the node at path, or of its closest ancestor that exists (for a missing field). */
  line(path: Path): number {
    for (let end = path.length; end >= 0; end--) {
      const node: unknown = end === 0 ? this.doc.contents : this.doc.getIn(path.slice(0, end), true);
      const range = (node as { range?: readonly number[] } | null | undefined)?.range;
      if (range?.[0] !== undefined) return this.lines.linePos(range[0]).line;
    }
    return 1;
  }
}

class MockFileReader {
  constructor(
    private readonly file: string,
    private readonly root: unknown,
    private readonly locator: Locator,
  ) {}

  /** An error about the field at path: `file:line: path=value reason`. */
  error(path: Path, reason: string): DiscoveryError {
    const where = `${this.file}:${String(this.locator.line(path))}`;
    const value = valueAt(this.root, path);
    const subject =
      path.length === 0
        ? `the file (${shown(value)})`
        : value === undefined
          ? `${yamlPath(path)} is missing;`
          : `${yamlPath(path)}=${shown(value)}`;
    return new DiscoveryError(`${where}: ${subject} ${reason}`);
  }

  schemaError(issue: z.core.$ZodIssue, more: number): DiscoveryError {
    const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
    const also = more > 0 ? ` (and ${String(more)} more problem${more === 1 ? '' : 's'})` : '';
    if (issue.code === 'unrecognized_keys') {
      const fields =
        path.length === 0
          ? FILE_FIELDS
          : path.includes('links')
            ? LINK_FIELDS
            : path.at(-1) === 'usage'
              ? USAGE_FIELDS
              : DEVICE_FIELDS;
      const [unknown = ''] = issue.keys;
      const where = `${this.file}:${String(this.locator.line([...path, unknown]))}`;
      const meant = fields.find((f) => f.toLowerCase() === unknown.toLowerCase());
      const hint = meant === undefined ? '' : ` (did you mean ${quote(meant)}?)`;
      return new DiscoveryError(
        `${where}: ${path.length === 0 ? 'the file' : yamlPath(path)} has unknown field ${quote(unknown)}${hint}; ` +
          `the fields are ${fields.join(', ')}${also}`,
      );
    }
    const key = [...path].reverse().find((p): p is string => typeof p === 'string');
    const requirement =
      key === undefined
        ? 'must be a mapping with a `devices:` list (see docs/node-agent.md, "Mock devices")'
        : (REQUIREMENTS[key] ?? issue.message);
    return this.error(path, requirement + also);
  }
}

/** `GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` from a hash of the node name and index: stable across reads and restarts. */
export function mockUuid(nodeName: string, index: number): string {
  const hex = createHash('sha256').update(`tessera-mock/${nodeName}/${String(index)}`).digest('hex');
  return `GPU-${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

function mockBusId(index: number): string {
  return `00000000:${(index + 1).toString(16).padStart(2, '0').toUpperCase()}:00.0`;
}

function checkEntry(reader: MockFileReader, entry: DeviceEntry, i: number): void {
  const count = entry.count ?? 1;
  for (const field of ['uuid', 'pciBusId'] as const) {
    if (entry[field] !== undefined && count > 1) {
      throw reader.error(
        ['devices', i, field],
        `cannot be set on an entry with count ${String(count)}: each device needs its own; ` +
          `split the entry, or leave ${field} out to have it derived`,
      );
    }
  }
  if (entry.uuid !== undefined) {
    const reason = deviceIdReason(entry.uuid);
    if (reason !== undefined) throw reader.error(['devices', i, 'uuid'], `${reason}; ${REQUIREMENTS.uuid ?? ''}`);
  }
  if (entry.pciBusId !== undefined && parsePciBusId(entry.pciBusId) === undefined) {
    throw reader.error(['devices', i, 'pciBusId'], REQUIREMENTS.pciBusId ?? '');
  }
  const used = entry.usage?.memoryUsedMiB;
  if (used !== undefined && entry.memoryMiB !== null && used > entry.memoryMiB) {
    throw reader.error(
      ['devices', i, 'usage', 'memoryUsedMiB'],
      `is more than the device's memoryMiB (${String(entry.memoryMiB)}); a device cannot use more memory than it has`,
    );
  }
  if (entry.healthReason !== undefined && entry.healthy !== false) {
    const reason = 'is only meaningful beside `healthy: false`; add that, or remove the reason';
    throw reader.error(['devices', i, 'healthReason'], reason);
  }
}

function expandDevices(
  reader: MockFileReader,
  entries: readonly DeviceEntry[],
  file: string,
  nodeName: string,
): { devices: DiscoveredDevice[]; usage: DeviceUsageSample[] } {
  const devices: DiscoveredDevice[] = [];
  const usage: DeviceUsageSample[] = [];
  const seenUuid = new Map<string, number>();
  const seenBus = new Map<string, number>();
  entries.forEach((entry, i) => {
    checkEntry(reader, entry, i);
    for (let copy = 0; copy < (entry.count ?? 1); copy++) {
      const index = devices.length;
      if (index >= MAX_DEVICES) {
        const reason = `takes the node past ${String(MAX_DEVICES)} devices, the most one file may describe`;
        throw reader.error(['devices', i, 'count'], reason);
      }
      const uuid = entry.uuid ?? mockUuid(nodeName, index);
      const pciBusId = entry.pciBusId === undefined ? mockBusId(index) : canonicalPciBusId(entry.pciBusId);
      const uuidOwner = seenUuid.get(uuid);
      if (uuidOwner !== undefined) {
        throw reader.error(['devices', i, 'uuid'], `is also the UUID of device ${String(uuidOwner)}; UUIDs must be unique`);
      }
      const busOwner = seenBus.get(pciBusId);
      if (busOwner !== undefined) {
        throw reader.error(
          ['devices', i, 'pciBusId'],
          `is also the bus id of device ${String(busOwner)} (${pciBusId}); ` +
            'bus ids must be unique (derived ones are 00000000:<index+1>:00.0)',
        );
      }
      seenUuid.set(uuid, index);
      seenBus.set(pciBusId, index);
      const healthy = entry.healthy ?? true;
      devices.push({
        uuid,
        index,
        vendor: entry.vendor ?? 'NVIDIA',
        name: entry.name,
        memoryMiB: entry.memoryMiB,
        pciBusId,
        numa: entry.numa ?? 0,
        healthy,
        ...(!healthy && { healthReason: entry.healthReason ?? `marked unhealthy in ${file}` }),
        migEnabled: entry.mig ?? false,
      });
      usage.push({
        uuid,
        index,
        memoryUsedBytes: (entry.usage?.memoryUsedMiB ?? 0) * MIB,
        utilizationPercent: entry.usage?.utilization ?? 0,
        memoryUtilizationPercent: entry.usage?.memoryUtilization ?? 0,
      });
    }
  });
  return { devices, usage };
}

function resolveEndpoint(reader: MockFileReader, devices: readonly DiscoveredDevice[], value: number | string, path: Path): number {
  if (typeof value === 'number') {
    if (value < devices.length) return value;
    const range =
      devices.length === 0
        ? 'the file has no devices'
        : `indexes run from 0 to ${String(devices.length - 1)} after expanding count`;
    throw reader.error(path, `is not a device: ${range}`);
  }
  const index = devices.findIndex((d) => d.uuid === value);
  if (index === -1) throw reader.error(path, 'is not the UUID of any device in the file');
  return index;
}

function buildLinks(reader: MockFileReader, devices: readonly DiscoveredDevice[], entries: readonly LinkEntry[]): DiscoveredLink[] {
  const listed = new Map<string, { entry: LinkEntry; at: number }>();
  entries.forEach((entry, k) => {
    const a = resolveEndpoint(reader, devices, entry.between[0], ['links', k, 'between', 0]);
    const b = resolveEndpoint(reader, devices, entry.between[1], ['links', k, 'between', 1]);
    if (a === b) throw reader.error(['links', k, 'between'], `links device ${String(a)} to itself; name two different devices`);
    const key = `${String(Math.min(a, b))},${String(Math.max(a, b))}`;
    const earlier = listed.get(key);
    if (earlier !== undefined) {
      throw reader.error(['links', k, 'between'], `repeats the pair of links[${String(earlier.at)}]; list each pair once`);
    }
    listed.set(key, { entry, at: k });
  });
  const links: DiscoveredLink[] = [];
  devices.forEach((a, i) => {
    for (const b of devices.slice(i + 1)) {
      const entry = listed.get(`${String(i)},${String(b.index)}`)?.entry;
      links.push({
        a: a.uuid,
        b: b.uuid,
        nvlinks: entry?.nvlinks ?? 0,
        pcie: entry?.pcie ?? pcieRelationByNuma(a.numa, b.numa),
      });
    }
  });
  return links;
}

/** A mock file read whole: the inventory and each device's `usage` (zeros where not given). */
export interface MockFileContents {
  readonly inventory: DiscoveredInventory;
  readonly usage: readonly DeviceUsageSample[];
}

/**
 * Reads a mock devices file's text: the inventory only (see {@link parseMockFile}).
 *
 * @param text the file's contents
 * @param file the file's path, for messages
 * @param nodeName seeds the derived UUIDs, so two nodes reading one file get different devices
 * @throws DiscoveryError naming the file, line, field and value
 */
export function parseMockDevices(text: string, file: string, nodeName: string): DiscoveredInventory {
  return parseMockFile(text, file, nodeName).inventory;
}

/**
 * Reads a mock devices file's text: the inventory and the devices' usage.
 *
 * @throws DiscoveryError naming the file, line, field and value
 */
export function parseMockFile(text: string, file: string, nodeName: string): MockFileContents {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines });
  const yamlError = doc.errors[0];
  if (yamlError !== undefined) {
    const { line, col } = yamlError.linePos?.[0] ?? { line: 1, col: 1 };
    const message = (yamlError.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
    throw new DiscoveryError(`${file}:${String(line)}:${String(col)}: not valid YAML: ${message}`);
  }
  const root: unknown = doc.toJS();
  const reader = new MockFileReader(file, root, new Locator(doc, lines));
  if (root === null || root === undefined) {
    throw new DiscoveryError(`${file}: the file is empty; it needs a \`devices:\` list (see docs/node-agent.md, "Mock devices")`);
  }
  const parsed = mockFile.safeParse(root);
  if (!parsed.success) {
    // An unknown field is usually a misspelt known one, which also shows up as "missing": say the cause.
    const first = parsed.error.issues.find((i) => i.code === 'unrecognized_keys') ?? parsed.error.issues[0];
    if (first !== undefined) throw reader.schemaError(first, parsed.error.issues.length - 1);
    throw new DiscoveryError(`${file}: ${parsed.error.message}`);
  }
  const { devices, usage } = expandDevices(reader, parsed.data.devices, file, nodeName);
  return { inventory: { devices, links: buildLinks(reader, devices, parsed.data.links ?? []) }, usage };
}
