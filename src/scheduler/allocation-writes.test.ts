import assert from 'node:assert/strict';
import { test } from 'node:test';

import { AllocationWrites } from './allocation-writes.js';

function gate(): { promise: Promise<void>; open: () => void; fail: (error: Error) => void } {
  let open: () => void = () => {};
  let fail: (error: Error) => void = () => {};
  const promise = new Promise<void>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  return { promise, open, fail };
}

test('a write that lands: written() answers null, and nothing is kept', async () => {
  const writes = new AllocationWrites();
  const heard: (string | null)[] = [];
  const write = gate();
  writes.track('u1', write.promise, (failure) => heard.push(failure));
  assert.equal(writes.size, 1);
  write.open();
  assert.equal(await writes.written('u1'), null);
  assert.deepEqual(heard, [null]);
  assert.equal(writes.size, 0);
  assert.equal(await writes.written('nobody'), null, 'a pod with no write pending');
});

test('a failed write is heard before the waiting Bind resumes, and is read once', async () => {
  const writes = new AllocationWrites();
  const order: string[] = [];
  const write = gate();
  writes.track('u1', write.promise, (failure) => order.push(`settled ${String(failure)}`));
  const bind = writes.written('u1').then((failure) => {
    order.push(`bind ${String(failure)}`);
  });
  write.fail(new Error('409 Conflict'));
  await bind;
  assert.deepEqual(order, ['settled 409 Conflict', 'bind 409 Conflict']);
  assert.equal(await writes.written('u1'), null);
});

test("a superseded write's failure is not acted on, and written() waits for the newer write", async () => {
  const writes = new AllocationWrites();
  const heard: string[] = [];
  const first = gate();
  const second = gate();
  writes.track('u1', first.promise, (failure) => heard.push(`first ${String(failure)}`));
  const bind = writes.written('u1');
  writes.track('u1', second.promise, (failure) => heard.push(`second ${String(failure)}`));
  first.fail(new Error('the object has been modified'));
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(heard, [], 'the first decision was replaced: its failure frees nothing');
  second.open();
  assert.equal(await bind, null);
  assert.deepEqual(heard, ['second null']);
});

test('a deleted pod is forgotten: its write is no longer followed and no failure is kept', async () => {
  const writes = new AllocationWrites();
  const heard: string[] = [];
  const write = gate();
  writes.track('u1', write.promise, (failure) => heard.push(String(failure)));
  writes.forget('u1');
  assert.equal(writes.size, 0);
  write.fail(new Error('404 NotFound'));
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(heard, []);
  assert.equal(await writes.written('u1'), null);
});

test('drain() waits for every write in flight', async () => {
  const writes = new AllocationWrites();
  const a = gate();
  const b = gate();
  writes.track('a', a.promise, () => {});
  writes.track('b', b.promise, () => {});
  let drained = false;
  const done = writes.drain().then(() => (drained = true));
  a.open();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(drained, false);
  b.fail(new Error('gone'));
  await done;
  assert.equal(writes.size, 0);
});
