/**
 * Checks the NVML backend against nvidia-smi on a real GPU machine (scripts/gpu-check-inventory.ts):
 * the stub driver proves the binding decodes what a driver writes, this proves it reads what the
 * real driver means. Pure: the script captures nvidia-smi's output and hands the text in.
 *
 * nvidia-smi is asked for {@link SMI_QUERY_FIELDS} with `--format=csv,noheader,nounits`, one GPU a
 * line (`0, GPU-5c1b…, NVIDIA H100 80GB HBM3, 81559, 00000000:18:00.0, Disabled`), and for
 * `topo -m`, whose matrix says `NV<n>` for GPU pairs joined by n NVLinks.
 */

import { InputError } from '../../core/errors.js';
import type { DiscoveredInventory } from './backend.js';
import { canonicalPciBusId } from './pci.js';

/** `nvidia-smi --query-gpu=<these, comma-separated> --format=csv,noheader,nounits`. */
export const SMI_QUERY_FIELDS = ['index', 'uuid', 'name', 'memory.total', 'pci.bus_id', 'mig.mode.current'] as const;

const QUERY_SOURCE = 'nvidia-smi --query-gpu';

/** One line of the query. */
export interface SmiGpu {
  readonly index: number;
  readonly uuid: string;
  readonly name: string;
  /** null for `[N/A]` (unified-memory parts). */
  readonly memoryMiB: number | null;
  readonly pciBusId: string;
  /** `Enabled`; `Disabled` and `[N/A]` (no MIG support) are false, as NVML's NOT_SUPPORTED is. */
  readonly migEnabled: boolean;
}

function notAvailable(text: string): boolean {
  return /^\[?(N\/A|Not Supported)\]?$/i.test(text);
}

/**
 * Reads the query's output. A name could hold a comma, so the fields around it are taken from
 * both ends of the line.
 *
 * @throws InputError naming the line and field that does not read
 */
export function parseSmiQuery(csv: string): SmiGpu[] {
  const gpus: SmiGpu[] = [];
  csv.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    const parts = line.split(',').map((p) => p.trim());
    if (parts.length < SMI_QUERY_FIELDS.length) {
      const want = SMI_QUERY_FIELDS.join(',');
      throw new InputError(QUERY_SOURCE, i + 1, 'line', line, `has ${String(parts.length)} fields, want ${want}`);
    }
    const [indexText = '', uuid = ''] = parts;
    const [memoryText = '', pciBusId = '', mig = ''] = parts.slice(-3);
    const name = parts.slice(2, -3).join(', ');
    const index = Number(indexText);
    if (!Number.isInteger(index) || indexText === '') {
      throw new InputError(QUERY_SOURCE, i + 1, 'index', indexText, 'is not a GPU index');
    }
    const memory = notAvailable(memoryText) ? null : Number(memoryText);
    if (memory !== null && (!Number.isInteger(memory) || memoryText === '')) {
      const reason = 'is not a whole number of MiB (was --format nounits given?)';
      throw new InputError(QUERY_SOURCE, i + 1, 'memory.total', memoryText, reason);
    }
    gpus.push({ index, uuid, name, memoryMiB: memory, pciBusId, migEnabled: mig.toLowerCase() === 'enabled' });
  });
  return gpus;
}

/** Strips the terminal escapes nvidia-smi puts around the header when it writes to a terminal. */
function plain(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;]*m/g, '');
}

/**
 * NVLink counts from `nvidia-smi topo -m`, keyed `i-j` (GPU indexes, i < j): n for an `NV<n>`
 * cell, 0 for any PCIe cell (`PIX`, `PXB`, `PHB`, `NODE`, `SYS`). NIC rows and columns are ignored.
 */
export function parseSmiTopoNvlinks(text: string): Map<string, number> {
  const lines = plain(text).split('\n');
  const header = lines.find((l) => /^\s+GPU0\b/.test(l));
  const counts = new Map<string, number>();
  if (header === undefined) return counts;
  const columns = header.trim().split(/\s+/);
  const gpuColumns = columns.filter((c) => /^GPU\d+$/.test(c)).length;
  for (const line of lines) {
    const cells = line.trim().split(/\s+/);
    const row = /^GPU(\d+)$/.exec(cells[0] ?? '');
    if (row === null) continue;
    const i = Number(row[1]);
    for (let j = i + 1; j < gpuColumns; j++) {
      const nv = /^NV(\d+)$/.exec(cells[1 + j] ?? '');
      counts.set(`${String(i)}-${String(j)}`, nv === null ? 0 : Number(nv[1]));
    }
  }
  return counts;
}

/** One compared fact: `device` is a GPU index or an `i-j` pair. */
export interface ComparedField {
  readonly device: string;
  readonly field: string;
  readonly nvml: string;
  readonly smi: string;
  readonly same: boolean;
}

function field(device: string, name: string, nvml: string, smi: string): ComparedField {
  return { device, field: name, nvml, smi, same: nvml === smi };
}

/**
 * Every fact both sides report, side by side: per GPU the UUID, name, memory (MiB), bus id
 * (compared in NVML's spelling, so case and domain width do not count) and MIG mode; per pair
 * the NVLink count, when `topo -m` was read. The check passes when every row is `same`.
 */
export function compareWithSmi(
  inventory: DiscoveredInventory,
  smi: readonly SmiGpu[],
  smiNvlinks: ReadonlyMap<string, number> = new Map(),
): ComparedField[] {
  const rows: ComparedField[] = [field('all', 'GPU count', String(inventory.devices.length), String(smi.length))];
  for (const device of inventory.devices) {
    const other = smi.find((g) => g.index === device.index);
    const id = String(device.index);
    if (other === undefined) {
      rows.push(field(id, 'present', 'yes', 'no'));
      continue;
    }
    rows.push(
      field(id, 'uuid', device.uuid, other.uuid),
      field(id, 'name', device.name, other.name),
      field(id, 'memory MiB', String(device.memoryMiB), String(other.memoryMiB)),
      field(id, 'pci bus id', canonicalPciBusId(device.pciBusId), canonicalPciBusId(other.pciBusId)),
      field(id, 'mig', String(device.migEnabled), String(other.migEnabled)),
    );
  }
  const indexOf = new Map(inventory.devices.map((d) => [d.uuid, d.index]));
  for (const link of inventory.links) {
    const a = indexOf.get(link.a) ?? -1;
    const b = indexOf.get(link.b) ?? -1;
    const pair = `${String(Math.min(a, b))}-${String(Math.max(a, b))}`;
    const count = smiNvlinks.get(pair);
    if (count !== undefined) rows.push(field(pair, 'nvlinks', String(link.nvlinks), String(count)));
  }
  return rows;
}

/** The rows as an aligned text table, differences marked. */
export function renderComparison(rows: readonly ComparedField[]): string {
  const table = [
    ['GPU', 'field', 'NVML (Tessera)', 'nvidia-smi', ''],
    ...rows.map((r) => [r.device, r.field, r.nvml, r.smi, r.same ? 'ok' : 'DIFFERENT']),
  ];
  const widths = table[0]?.map((_, c) => Math.max(...table.map((row) => (row[c] ?? '').length))) ?? [];
  return table.map((row) => row.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join('  ').trimEnd()).join('\n');
}
