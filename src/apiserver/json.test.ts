import assert from 'node:assert/strict';
import { test } from 'node:test';

import { clone, field, type JsonObject } from './json.js';

test('clone copies deeply: changing the copy leaves the original as it was', () => {
  const original = JSON.parse('{"metadata":{"name":"p","labels":{"a":"1"}},"spec":{"containers":[{"name":"main","args":["x",1,true,null]}]}}') as JsonObject;
  const copy = clone(original);
  assert.deepEqual(copy, original);
  ((copy['metadata'] as JsonObject)['labels'] as JsonObject)['a'] = '2';
  (((copy['spec'] as JsonObject)['containers'] as JsonObject[])[0]?.['args'] as unknown[]).push('y');
  assert.equal(JSON.stringify(original), '{"metadata":{"name":"p","labels":{"a":"1"}},"spec":{"containers":[{"name":"main","args":["x",1,true,null]}]}}');
});

test('clone keeps a __proto__ key as data, never as the prototype', () => {
  const original = JSON.parse('{"data":{"__proto__":{"polluted":true},"constructor":"c"}}') as JsonObject;
  const copy = clone(original);
  const data = copy['data'] as JsonObject;
  assert.equal(Object.getPrototypeOf(data), Object.prototype);
  assert.deepEqual(field(data, '__proto__'), { polluted: true });
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  assert.equal(JSON.stringify(copy), JSON.stringify(original));
});

test('clone of a frozen object is a mutable copy', () => {
  const frozen = Object.freeze({ a: Object.freeze([1, 2]) }) as unknown as JsonObject;
  const copy = clone(frozen);
  assert.equal(Object.isFrozen(copy), false);
  (copy['a'] as number[]).push(3);
  assert.deepEqual(frozen, { a: [1, 2] });
});
