/**
 * Cluster traces: a node list and a task list in the CSV layout of Alibaba's
 * cluster-trace-gpu-v2023 ("openb"). Parsing is strict and all-or-nothing: the first field that
 * cannot be used stops it with the file, line, column and value, so a run never starts on a
 * half-read trace.
 *
 * Node list columns: sn, cpu_milli, memory_mib, gpu, model.
 * Task list columns: name, cpu_milli, memory_mib, num_gpu, gpu_milli, gpu_spec, qos, pod_phase,
 * creation_time, deletion_time, scheduled_time (the last five are optional; the one-shot replay
 * ignores them, the online replay needs creation_time and deletion_time).
 */
import { InputError } from '../core/errors.js';

export interface TraceNode {
  readonly name: string;
  readonly cpuMilli: number;
  readonly memoryMiB: number;
  /** Number of GPUs, each of 1000 milli-GPU. */
  readonly gpus: number;
  /** GPU model; empty for a node without GPUs. */
  readonly model: string;
}

export interface TraceTask {
  readonly name: string;
  readonly cpuMilli: number;
  readonly memoryMiB: number;
  /** Number of GPUs. */
  readonly gpus: number;
  /** Share of each GPU in milli-GPU (1000 = the whole GPU); 0 when the task asks for none. */
  readonly gpuMilli: number;
  /** GPU models the task may run on; empty = any. */
  readonly models: readonly string[];
  /** Seconds from the trace start; null when the file has no such column. */
  readonly creation: number | null;
  readonly deletion: number | null;
  /** Line in the task file, for messages about the task. */
  readonly line: number;
}

export interface Trace {
  readonly nodes: readonly TraceNode[];
  readonly tasks: readonly TraceTask[];
  /** Where the data came from, for reports: file names or "synthetic …". */
  readonly nodesSource: string;
  readonly tasksSource: string;
}

export const MILLI = 1000;

/** Total GPU request of a task in milli-GPU. */
export function taskMilli(t: Pick<TraceTask, 'gpus' | 'gpuMilli'>): number {
  return t.gpus * t.gpuMilli;
}

/** The kinds failures are counted by. A type constraint outranks the size: a constrained sharing task is `type-constrained`. */
export type TaskKind = 'sharing' | '1-gpu' | 'multi-gpu' | 'cpu-only' | 'type-constrained';
export const TASK_KINDS: readonly TaskKind[] = ['sharing', '1-gpu', 'multi-gpu', 'cpu-only', 'type-constrained'];

export function taskKind(t: TraceTask): TaskKind {
  if (t.gpus === 0) return 'cpu-only';
  if (t.models.length > 0) return 'type-constrained';
  if (t.gpus === 1) return t.gpuMilli < MILLI ? 'sharing' : '1-gpu';
  return 'multi-gpu';
}

/** Splits one CSV line into fields (RFC 4180 quoting, no line breaks inside a field). */
function splitLine(file: string, lineNo: number, line: string): string[] {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let value = '';
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) throw new InputError(file, lineNo, `field ${String(fields.length + 1)}`, line, 'has an unterminated quoted field');
        value += line.slice(i, q);
        if (line[q + 1] === '"') {
          value += '"';
          i = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      fields.push(value);
      if (i < line.length && line[i] !== ',') {
        throw new InputError(file, lineNo, `field ${String(fields.length)}`, line, 'has text after a closing quote');
      }
    } else {
      const comma = line.indexOf(',', i);
      fields.push(comma < 0 ? line.slice(i) : line.slice(i, comma));
      i = comma < 0 ? line.length : comma;
    }
    if (i >= line.length) return fields;
    i++; // past the comma
    if (i === line.length) {
      fields.push('');
      return fields;
    }
  }
}

/** A parsed CSV file with named columns, read row by row with typed accessors that report the exact cell. */
class Table {
  private readonly index = new Map<string, number>();
  readonly rows: { line: number; fields: string[] }[] = [];

  constructor(
    readonly file: string,
    text: string,
    required: readonly string[],
    optional: readonly string[],
  ) {
    const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
    const header = lines[0]?.trim() ?? '';
    if (header === '') throw new InputError(file, 1, 'header', '', `is empty; expected columns ${required.join(', ')}`);
    splitLine(file, 1, header).forEach((name, i) => {
      const n = name.trim();
      if (this.index.has(n)) throw new InputError(file, 1, `column ${String(i + 1)}`, n, 'appears twice in the header');
      this.index.set(n, i);
    });
    for (const name of required) {
      if (!this.index.has(name)) throw new InputError(file, 1, 'header', header, `lacks the required column "${name}"`);
    }
    void optional;
    for (let i = 1; i < lines.length; i++) {
      const raw = lines[i] ?? '';
      if (raw.trim() === '') continue;
      const fields = splitLine(file, i + 1, raw);
      if (fields.length !== this.index.size) {
        throw new InputError(file, i + 1, 'row', raw, `has ${String(fields.length)} fields; the header has ${String(this.index.size)}`);
      }
      this.rows.push({ line: i + 1, fields });
    }
  }

  has(column: string): boolean {
    return this.index.has(column);
  }

  private cell(row: { line: number; fields: string[] }, column: string): { value: string; where: string } {
    const i = this.index.get(column) ?? -1;
    return { value: (row.fields[i] ?? '').trim(), where: `column ${String(i + 1)} (${column})` };
  }

  text(row: { line: number; fields: string[] }, column: string, required = true): string {
    const { value, where } = this.cell(row, column);
    if (required && value === '') throw new InputError(this.file, row.line, where, value, 'is empty');
    return value;
  }

  /** A non-negative whole number no larger than max. */
  whole(row: { line: number; fields: string[] }, column: string, max = Number.MAX_SAFE_INTEGER): number {
    const { value, where } = this.cell(row, column);
    if (!/^-?\d+$/.test(value)) {
      throw new InputError(this.file, row.line, where, value, value === '' ? 'is empty; expected a whole number' : 'is not a whole number');
    }
    const n = Number(value);
    if (n < 0) throw new InputError(this.file, row.line, where, value, 'is negative');
    if (n > max) throw new InputError(this.file, row.line, where, value, `is larger than ${String(max)}`);
    return n;
  }

  where(column: string): string {
    return `column ${String((this.index.get(column) ?? -1) + 1)} (${column})`;
  }
}

/** Parses a node list. */
export function parseNodes(file: string, text: string): TraceNode[] {
  const table = new Table(file, text, ['sn', 'cpu_milli', 'memory_mib', 'gpu', 'model'], []);
  const seen = new Set<string>();
  const nodes = table.rows.map((row) => {
    const name = table.text(row, 'sn');
    if (seen.has(name)) throw new InputError(file, row.line, table.where('sn'), name, 'names a node listed earlier');
    seen.add(name);
    const gpus = table.whole(row, 'gpu', 64);
    const model = table.text(row, 'model', false);
    if (gpus > 0 && model === '') throw new InputError(file, row.line, table.where('model'), model, `is empty for a node with ${String(gpus)} GPUs`);
    if (/[|,\s]/.test(model)) throw new InputError(file, row.line, table.where('model'), model, 'must not contain "|", "," or spaces');
    return { name, cpuMilli: table.whole(row, 'cpu_milli'), memoryMiB: table.whole(row, 'memory_mib'), gpus, model };
  });
  if (nodes.length === 0) throw new InputError(file, 2, 'rows', '', 'the file lists no nodes');
  return nodes;
}

/**
 * Parses a task list. Every GPU model a task names must be a model of some node (`knownModels`):
 * a constraint no node can meet is a typing error in the trace, not a task to fail.
 */
export function parseTasks(file: string, text: string, knownModels: ReadonlySet<string>): TraceTask[] {
  const table = new Table(
    file,
    text,
    ['name', 'cpu_milli', 'memory_mib', 'num_gpu', 'gpu_milli'],
    ['gpu_spec', 'qos', 'pod_phase', 'creation_time', 'deletion_time', 'scheduled_time'],
  );
  const timed = table.has('creation_time') && table.has('deletion_time');
  const seen = new Set<string>();
  const tasks = table.rows.map((row): TraceTask => {
    const name = table.text(row, 'name');
    if (seen.has(name)) throw new InputError(file, row.line, table.where('name'), name, 'names a task listed earlier');
    seen.add(name);
    const gpus = table.whole(row, 'num_gpu', 64);
    const gpuMilli = table.whole(row, 'gpu_milli', MILLI);
    if (gpus > 0 && gpuMilli === 0) {
      throw new InputError(file, row.line, table.where('gpu_milli'), '0', `is 0 for a task asking for ${String(gpus)} GPUs`);
    }
    if (gpus === 0 && gpuMilli > 0) {
      throw new InputError(file, row.line, table.where('gpu_milli'), String(gpuMilli), 'is set for a task asking for no GPU (num_gpu is 0)');
    }
    const spec = table.has('gpu_spec') ? table.text(row, 'gpu_spec', false) : '';
    const models = spec === '' ? [] : [...new Set(spec.split('|').map((m) => m.trim()))];
    for (const m of models) {
      if (!knownModels.has(m)) {
        const known = [...knownModels].sort().join(', ');
        throw new InputError(file, row.line, table.where('gpu_spec'), spec, `names GPU model "${m}", which no node has (models: ${known})`);
      }
    }
    if (models.length > 0 && gpus === 0) {
      throw new InputError(file, row.line, table.where('gpu_spec'), spec, 'constrains the GPU model of a task asking for no GPU');
    }
    let creation: number | null = null;
    let deletion: number | null = null;
    if (timed) {
      creation = table.whole(row, 'creation_time');
      deletion = table.whole(row, 'deletion_time');
      if (deletion < creation) {
        throw new InputError(file, row.line, table.where('deletion_time'), String(deletion), `is before creation_time ${String(creation)}`);
      }
    }
    return { name, cpuMilli: table.whole(row, 'cpu_milli'), memoryMiB: table.whole(row, 'memory_mib'), gpus, gpuMilli, models, creation, deletion, line: row.line };
  });
  if (tasks.length === 0) throw new InputError(file, 2, 'rows', '', 'the file lists no tasks');
  return tasks;
}

export function nodeModels(nodes: readonly TraceNode[]): Set<string> {
  return new Set(nodes.filter((n) => n.gpus > 0).map((n) => n.model));
}
