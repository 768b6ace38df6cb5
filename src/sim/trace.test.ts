import assert from 'node:assert/strict';
import { test } from 'node:test';

import { InputError } from '../core/errors.js';
import { type TraceTask, nodeModels, parseNodes, parseTasks, taskKind, taskMilli } from './trace.js';

const NODE_HEADER = 'sn,cpu_milli,memory_mib,gpu,model';
const TASK_HEADER = 'name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time';
const MODELS: ReadonlySet<string> = new Set(['A10', 'G2', 'V100M32']);

function csv(...lines: string[]): string {
  return lines.join('\n') + '\n';
}

/** A task row with the given fields over the defaults (all eleven columns of TASK_HEADER). */
function taskRow(f: Partial<Record<'name' | 'cpu' | 'mem' | 'gpus' | 'milli' | 'spec' | 'created' | 'deleted', string>> = {}): string {
  return [f.name ?? 't1', f.cpu ?? '4000', f.mem ?? '8192', f.gpus ?? '1', f.milli ?? '500', f.spec ?? '', 'LS', 'Running', f.created ?? '10', f.deleted ?? '20', '11'].join(',');
}

/** Runs `fn`, expects an InputError and checks that its message names every part given. */
function expectInputError(fn: () => unknown, parts: readonly (string | number)[]): InputError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof InputError, `expected an InputError, got ${String(caught)}`);
  for (const p of parts) assert.ok(caught.message.includes(String(p)), `message ${JSON.stringify(caught.message)} lacks ${JSON.stringify(String(p))}`);
  return caught;
}

function task(over: Partial<TraceTask>): TraceTask {
  return { name: 't', cpuMilli: 1000, memoryMiB: 1024, gpus: 1, gpuMilli: 1000, models: [], creation: null, deletion: null, line: 2, ...over };
}

// ---- valid input ----------------------------------------------------------------------------

test('a valid node list parses to the expected nodes, CPU-only nodes included', () => {
  const nodes = parseNodes('nodes.csv', csv(NODE_HEADER, 'n1,96000,393216,8,G2', 'n2,32000,65536,0,', 'n3,96000,524288,8,V100M32'));
  assert.deepEqual(nodes, [
    { name: 'n1', cpuMilli: 96000, memoryMiB: 393216, gpus: 8, model: 'G2' },
    { name: 'n2', cpuMilli: 32000, memoryMiB: 65536, gpus: 0, model: '' },
    { name: 'n3', cpuMilli: 96000, memoryMiB: 524288, gpus: 8, model: 'V100M32' },
  ]);
  // The CPU-only node's empty model is not a GPU model.
  assert.deepEqual([...nodeModels(nodes)].sort(), ['G2', 'V100M32']);
});

test('a valid task list parses: models split on "|" and deduplicated, empty spec → [], times and lines kept', () => {
  const text = csv(
    TASK_HEADER,
    taskRow({ name: 'a', cpu: '88000', mem: '327680', gpus: '8', milli: '1000', spec: 'G2|V100M32|G2', created: '0', deleted: '100' }),
    taskRow({ name: 'b', cpu: '6000', mem: '0', gpus: '1', milli: '460', spec: '', created: '5', deleted: '5' }),
    taskRow({ name: 'c', cpu: '12000', mem: '4096', gpus: '0', milli: '0', spec: '', created: '7', deleted: '900' }),
  );
  const tasks = parseTasks('tasks.csv', text, MODELS);
  assert.deepEqual(tasks, [
    { name: 'a', cpuMilli: 88000, memoryMiB: 327680, gpus: 8, gpuMilli: 1000, models: ['G2', 'V100M32'], creation: 0, deletion: 100, line: 2 },
    { name: 'b', cpuMilli: 6000, memoryMiB: 0, gpus: 1, gpuMilli: 460, models: [], creation: 5, deletion: 5, line: 3 },
    { name: 'c', cpuMilli: 12000, memoryMiB: 4096, gpus: 0, gpuMilli: 0, models: [], creation: 7, deletion: 900, line: 4 },
  ]);
  assert.deepEqual(tasks.map(taskMilli), [8000, 460, 0]);
});

test('a task list with only the required columns has null times and no model constraint', () => {
  const tasks = parseTasks('tasks.csv', csv('name,cpu_milli,memory_mib,num_gpu,gpu_milli', 'x,1000,2048,2,1000'), MODELS);
  assert.deepEqual(tasks, [{ name: 'x', cpuMilli: 1000, memoryMiB: 2048, gpus: 2, gpuMilli: 1000, models: [], creation: null, deletion: null, line: 2 }]);
  // creation_time without deletion_time: the times are still null (both are needed).
  const half = parseTasks('tasks.csv', csv('name,cpu_milli,memory_mib,num_gpu,gpu_milli,creation_time', 'x,1000,2048,2,1000,77'), MODELS);
  assert.equal(half[0]?.creation, null);
  assert.equal(half[0]?.deletion, null);
});

test('quoted fields: a comma and a doubled quote inside quotes parse', () => {
  const text = csv(TASK_HEADER, '"job,1",4000,8192,1,500,"G2|A10",LS,Running,10,20,11', '"say ""hi""",1000,1024,0,0,,LS,Running,1,2,');
  const tasks = parseTasks('tasks.csv', text, MODELS);
  assert.equal(tasks[0]?.name, 'job,1');
  assert.deepEqual(tasks[0]?.models, ['G2', 'A10']);
  assert.equal(tasks[1]?.name, 'say "hi"');
  // The trailing empty field (scheduled_time) counts: 11 fields.
  assert.equal(tasks.length, 2);
});

test('CRLF line endings, a byte-order mark and blank lines parse; line numbers count the blank lines', () => {
  const text = '\uFEFF' + [TASK_HEADER, taskRow({ name: 'a' }), '', taskRow({ name: 'b' }), ''].join('\r\n');
  const tasks = parseTasks('tasks.csv', text, MODELS);
  assert.deepEqual(
    tasks.map((t) => [t.name, t.line, t.deletion]),
    [
      ['a', 2, 20],
      ['b', 4, 20],
    ],
  );
  const nodes = parseNodes('nodes.csv', [NODE_HEADER, 'n1,1000,1024,1,G2', ''].join('\r\n'));
  assert.equal(nodes[0]?.model, 'G2');
});

// ---- errors: each names file, line, column and value ---------------------------------------

test('a missing required column names the file, line 1, the header and the missing column', () => {
  const header = 'sn,cpu_milli,memory_mib,model';
  expectInputError(() => parseNodes('nodes.csv', csv(header, 'n1,1,1,G2')), ['nodes.csv:1:', 'header', header, '"gpu"']);
  expectInputError(() => parseTasks('tasks.csv', csv('name,cpu_milli,num_gpu,gpu_milli', 'a,1,0,0'), MODELS), ['tasks.csv:1:', '"memory_mib"']);
});

test('a non-numeric cpu_milli names the file, line, column and value', () => {
  const e = expectInputError(() => parseTasks('tasks.csv', csv(TASK_HEADER, taskRow(), taskRow({ name: 't2', cpu: '4c' })), MODELS), [
    'tasks.csv:3:',
    'cpu_milli',
    '"4c"',
    'not a whole number',
  ]);
  assert.equal(e.line, 3);
  assert.equal(e.column, 'column 2 (cpu_milli)');
  assert.equal(e.value, '4c');
  // A fraction is not a whole number either.
  expectInputError(() => parseNodes('nodes.csv', csv(NODE_HEADER, 'n1,1.5,1024,1,G2')), ['nodes.csv:2:', 'cpu_milli', '"1.5"']);
});

test('a negative memory_mib is refused', () => {
  expectInputError(() => parseTasks('tasks.csv', csv(TASK_HEADER, taskRow({ mem: '-5' })), MODELS), ['tasks.csv:2:', 'memory_mib', '"-5"', 'negative']);
  expectInputError(() => parseNodes('nodes.csv', csv(NODE_HEADER, 'n1,1000,-1,1,G2')), ['nodes.csv:2:', 'memory_mib', '"-1"', 'negative']);
});

test('gpu_milli above 1000 is refused', () => {
  expectInputError(() => parseTasks('tasks.csv', csv(TASK_HEADER, taskRow({ milli: '1001' })), MODELS), ['tasks.csv:2:', 'gpu_milli', '"1001"', '1000']);
});

test('num_gpu > 0 with gpu_milli 0 is refused, and so is a share without a GPU', () => {
  expectInputError(() => parseTasks('tasks.csv', csv(TASK_HEADER, taskRow({ gpus: '2', milli: '0' })), MODELS), ['tasks.csv:2:', 'gpu_milli', '"0"', '2 GPUs']);
  expectInputError(() => parseTasks('tasks.csv', csv(TASK_HEADER, taskRow({ gpus: '0', milli: '300' })), MODELS), ['tasks.csv:2:', 'gpu_milli', '"300"']);
});

test('a gpu_spec naming a model no node has is refused and the message lists the known models', () => {
  expectInputError(() => parseTasks('tasks.csv', csv(TASK_HEADER, taskRow({ spec: 'G2|H100' })), MODELS), [
    'tasks.csv:2:',
    'gpu_spec',
    '"G2|H100"',
    '"H100"',
    'models: A10, G2, V100M32',
  ]);
});

test('a duplicate task name (and node name) is refused at the second occurrence', () => {
  expectInputError(() => parseTasks('tasks.csv', csv(TASK_HEADER, taskRow({ name: 'dup' }), taskRow({ name: 'x' }), taskRow({ name: 'dup' })), MODELS), [
    'tasks.csv:4:',
    'name',
    '"dup"',
    'listed earlier',
  ]);
  expectInputError(() => parseNodes('nodes.csv', csv(NODE_HEADER, 'n1,1,1,1,G2', 'n1,1,1,1,G2')), ['nodes.csv:3:', 'sn', '"n1"']);
});

test('a row with the wrong number of fields is refused, naming the row and both counts', () => {
  const row = 'n2,1000,1024,1';
  expectInputError(() => parseNodes('nodes.csv', csv(NODE_HEADER, 'n1,1000,1024,1,G2', row)), ['nodes.csv:3:', 'row', row, '4 fields', 'header has 5']);
});

test('an unterminated quote is refused, naming the field and the line', () => {
  const row = '"t1,4000,8192,1,500,,LS,Running,10,20,11';
  expectInputError(() => parseTasks('tasks.csv', csv(TASK_HEADER, row), MODELS), ['tasks.csv:2:', 'field 1', '"\\"t1,4000', 'unterminated']);
});

// ---- taskKind ---------------------------------------------------------------------------------

test('taskKind classifies every kind; a type constraint outranks sharing and size', () => {
  assert.equal(taskKind(task({ gpus: 0, gpuMilli: 0 })), 'cpu-only');
  assert.equal(taskKind(task({ gpus: 1, gpuMilli: 999 })), 'sharing');
  assert.equal(taskKind(task({ gpus: 1, gpuMilli: 1000 })), '1-gpu');
  assert.equal(taskKind(task({ gpus: 2, gpuMilli: 1000 })), 'multi-gpu');
  // Two GPUs at a half share each are a multi-GPU task, not a sharing one.
  assert.equal(taskKind(task({ gpus: 2, gpuMilli: 500 })), 'multi-gpu');
  assert.equal(taskKind(task({ gpus: 1, gpuMilli: 500, models: ['G2'] })), 'type-constrained');
  assert.equal(taskKind(task({ gpus: 8, gpuMilli: 1000, models: ['G2'] })), 'type-constrained');
});
