import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { EVENTS, startApiServer, type ApiServer } from '../apiserver/index.js';
import { createKubeClient, type EventInput, type KubeClient } from './client.js';
import { EventRecorder } from './events.js';

let api: ApiServer;

before(async () => {
  api = await startApiServer();
});

after(async () => {
  await api.close();
});

function failed(pod: string, message = '2/2 CardInsufficientMemory'): EventInput {
  return { involvedObject: { kind: 'Pod', name: pod, namespace: 'default', uid: `uid-${pod}` }, type: 'Warning', reason: 'FilteringFailed', message, component: 'hami-scheduler' };
}

function events(): { metadata: { name: string }; involvedObject: { name: string }; message: string; count: number; lastTimestamp: string }[] {
  return api.store.list(EVENTS, { namespace: 'default' }).items as never;
}

test('a repeated Event is one object with a count, as kubectl describe shows "(xN over …)"', async () => {
  let clock = Date.parse('2026-11-27T10:00:00Z');
  const recorder = new EventRecorder(createKubeClient(api.kubeConfig()), { now: () => new Date(clock), concurrency: 1 });
  for (let i = 0; i < 5; i++) {
    recorder.record(failed('stuck'));
    clock += 5000;
  }
  recorder.record(failed('stuck', 'another reason'));
  recorder.record(failed('other'));
  await recorder.flush();
  const stuck = events().filter((e) => e.involvedObject.name === 'stuck');
  assert.deepEqual(stuck.map((e) => [e.message, e.count]).sort(), [
    ['2/2 CardInsufficientMemory', 5],
    ['another reason', 1],
  ]);
  assert.equal(stuck.find((e) => e.count === 5)?.lastTimestamp.startsWith('2026-11-27T10:00:20'), true);
  assert.equal(events().filter((e) => e.involvedObject.name === 'other').length, 1);
});

test('after the coalescing window, or once the Event is gone, a repeat is a new object', async () => {
  let clock = Date.parse('2026-11-27T11:00:00Z');
  const recorder = new EventRecorder(createKubeClient(api.kubeConfig()), { now: () => new Date(clock), coalesceMs: 60_000, concurrency: 1 });
  recorder.record(failed('late'));
  clock += 61_000;
  recorder.record(failed('late'));
  await recorder.flush();
  assert.equal(events().filter((e) => e.involvedObject.name === 'late').length, 2);
  for (const e of events().filter((x) => x.involvedObject.name === 'late')) api.store.delete(EVENTS, 'default', e.metadata.name);
  recorder.record(failed('late'));
  await recorder.flush();
  assert.deepEqual(events().filter((e) => e.involvedObject.name === 'late').map((e) => e.count), [1]);
});

test('record never waits or throws; a full queue drops the oldest and says so', async () => {
  const problems: string[] = [];
  const recorder = new EventRecorder(createKubeClient(api.kubeConfig()), { concurrency: 1, maxQueued: 3, onError: (m) => problems.push(m) });
  for (let i = 0; i < 10; i++) recorder.record(failed(`burst-${i}`));
  await recorder.flush();
  assert.ok(recorder.dropped >= 6, `dropped ${recorder.dropped}`);
  assert.match(problems[0] ?? '', /event queue full \(3\): dropped FilteringFailed for burst-/);
  assert.ok(events().some((e) => e.involvedObject.name === 'burst-9'), 'the newest survive');
});

test("record starts no request in the caller's turn: the answer the caller sends next goes out first", async () => {
  const written: string[] = [];
  const client = { createEvent: (event: EventInput) => (written.push(event.involvedObject.name), Promise.resolve({ metadata: { name: 'e', namespace: 'default' }, count: 1 })) };
  const recorder = new EventRecorder(client as unknown as KubeClient);
  recorder.record(failed('a'));
  recorder.record(failed('b'));
  assert.deepEqual(written, [], 'nothing sent from inside record()');
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(written, ['a', 'b'], 'both sent from the next turn');
  await recorder.flush();
});
