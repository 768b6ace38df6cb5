/**
 * Where a simulated workload comes from: a node list and a task list on disk (read, never copied),
 * or the built-in example cluster with a seeded synthetic workload. The only module of the
 * simulator that touches the file system.
 */
import { readFileSync } from 'node:fs';

import { TesseraError } from '../core/errors.js';
import { type SyntheticOptions, syntheticTrace } from './synthetic.js';
import { nodeModels, parseNodes, parseTasks, type Trace } from './trace.js';

export type TraceSpec =
  | { readonly kind: 'files'; readonly nodes: string; readonly pods: string }
  | { readonly kind: 'synthetic'; readonly options: SyntheticOptions };

/** A whole input file, or an error naming it and why it cannot be read. */
export function readInput(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    const reason = e instanceof Error && 'code' in e ? String(e.code) : String(e);
    throw new TesseraError('TESSERA_ERR_INPUT', `cannot read the ${what} ${path}: ${reason}`, { cause: e });
  }
}

export function loadTrace(spec: TraceSpec): Trace {
  if (spec.kind === 'synthetic') return syntheticTrace(spec.options);
  const nodes = parseNodes(spec.nodes, readInput(spec.nodes, 'node list'));
  const tasks = parseTasks(spec.pods, readInput(spec.pods, 'task list'), nodeModels(nodes));
  return { nodes, tasks, nodesSource: spec.nodes, tasksSource: spec.pods };
}

/** A short name for a workload in reports: the task file's name without `.csv`, or `synthetic-<seed>`. */
export function traceName(spec: TraceSpec): string {
  if (spec.kind === 'synthetic') return `synthetic-${String(spec.options.seed)}`;
  return (spec.pods.split(/[\\/]/).pop() ?? spec.pods).replace(/\.csv$/i, '');
}
