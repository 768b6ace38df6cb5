import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { JsonValue } from './json.js';
import { applyJsonPatch, applyMergePatch, applyStrategicMergePatch, parseJsonPatch, patchTypeOf } from './patch.js';
import { ApiError } from './status.js';

const json = (text: string): JsonValue => JSON.parse(text) as JsonValue;

test('merge patch: the examples of RFC 7386 Appendix A', () => {
  const cases: readonly [target: string, patch: string, want: string][] = [
    ['{"a":"b"}', '{"a":"c"}', '{"a":"c"}'],
    ['{"a":"b"}', '{"b":"c"}', '{"a":"b","b":"c"}'],
    ['{"a":"b"}', '{"a":null}', '{}'],
    ['{"a":"b","b":"c"}', '{"a":null}', '{"b":"c"}'],
    ['{"a":["b"]}', '{"a":"c"}', '{"a":"c"}'],
    ['{"a":"c"}', '{"a":["b"]}', '{"a":["b"]}'],
    ['{"a":{"b":"c"}}', '{"a":{"b":"d","c":null}}', '{"a":{"b":"d"}}'],
    ['{"a":[{"b":"c"}]}', '{"a":[1]}', '{"a":[1]}'],
    ['["a","b"]', '["c","d"]', '["c","d"]'],
    ['{"a":"b"}', '["c"]', '["c"]'],
    ['{"a":"foo"}', 'null', 'null'],
    ['{"a":"foo"}', '"bar"', '"bar"'],
    ['{"e":null}', '{"a":1}', '{"e":null,"a":1}'],
    ['[1,2]', '{"a":"b","c":null}', '{"a":"b"}'],
    ['{}', '{"a":{"bb":{"ccc":null}}}', '{"a":{"bb":{}}}'],
  ];
  for (const [target, patch, want] of cases) {
    assert.deepEqual(applyMergePatch(json(target), json(patch)), json(want), `${target} + ${patch}`);
  }
});

test('merge patch: the RFC 7386 §3 example, and the target is left untouched', () => {
  const target = json('{"title":"Goodbye!","author":{"givenName":"John","familyName":"Doe"},"tags":["example","sample"],"content":"This will be unchanged"}');
  const before = structuredClone(target);
  const patch = json('{"title":"Hello!","phoneNumber":"+01-123-456-7890","author":{"familyName":null},"tags":["example"]}');
  assert.deepEqual(
    applyMergePatch(target, patch),
    json('{"title":"Hello!","author":{"givenName":"John"},"tags":["example"],"content":"This will be unchanged","phoneNumber":"+01-123-456-7890"}'),
  );
  assert.deepEqual(target, before);
});

test('merge patch: "__proto__" in a patch is an ordinary key', () => {
  const result = applyMergePatch({ metadata: {} }, json('{"metadata":{"__proto__":{"polluted":"yes"}}}'));
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  assert.deepEqual(Object.keys((result as { metadata: object }).metadata), ['__proto__']);
});

/** RFC 6902 Appendix A, by section. */
test('json patch: the examples of RFC 6902 Appendix A that succeed', () => {
  const cases: readonly [section: string, doc: string, patch: string, want: string][] = [
    ['A.1', '{"foo":"bar"}', '[{"op":"add","path":"/baz","value":"qux"}]', '{"baz":"qux","foo":"bar"}'],
    ['A.2', '{"foo":["bar","baz"]}', '[{"op":"add","path":"/foo/1","value":"qux"}]', '{"foo":["bar","qux","baz"]}'],
    ['A.3', '{"baz":"qux","foo":"bar"}', '[{"op":"remove","path":"/baz"}]', '{"foo":"bar"}'],
    ['A.4', '{"foo":["bar","qux","baz"]}', '[{"op":"remove","path":"/foo/1"}]', '{"foo":["bar","baz"]}'],
    ['A.5', '{"baz":"qux","foo":"bar"}', '[{"op":"replace","path":"/baz","value":"boo"}]', '{"baz":"boo","foo":"bar"}'],
    [
      'A.6',
      '{"foo":{"bar":"baz","waldo":"fred"},"qux":{"corge":"grault"}}',
      '[{"op":"move","from":"/foo/waldo","path":"/qux/thud"}]',
      '{"foo":{"bar":"baz"},"qux":{"corge":"grault","thud":"fred"}}',
    ],
    ['A.7', '{"foo":["all","grass","cows","eat"]}', '[{"op":"move","from":"/foo/1","path":"/foo/3"}]', '{"foo":["all","cows","eat","grass"]}'],
    [
      'A.8',
      '{"baz":"qux","foo":["a",2,"c"]}',
      '[{"op":"test","path":"/baz","value":"qux"},{"op":"test","path":"/foo/1","value":2}]',
      '{"baz":"qux","foo":["a",2,"c"]}',
    ],
    ['A.10', '{"foo":"bar"}', '[{"op":"add","path":"/child","value":{"grandchild":{}}}]', '{"foo":"bar","child":{"grandchild":{}}}'],
    ['A.11', '{"foo":"bar"}', '[{"op":"add","path":"/baz","value":"qux","xyz":123}]', '{"foo":"bar","baz":"qux"}'],
    ['A.14', '{"/":9,"~1":10}', '[{"op":"test","path":"/~01","value":10}]', '{"/":9,"~1":10}'],
    ['A.16', '{"foo":["bar"]}', '[{"op":"add","path":"/foo/-","value":["abc","def"]}]', '{"foo":["bar",["abc","def"]]}'],
    ['copy', '{"a":{"b":1}}', '[{"op":"copy","from":"/a","path":"/c"}]', '{"a":{"b":1},"c":{"b":1}}'],
    ['escaped key', '{"metadata":{"annotations":{}}}', '[{"op":"add","path":"/metadata/annotations/hami.io~1node","value":"n1"}]', '{"metadata":{"annotations":{"hami.io/node":"n1"}}}'],
    ['whole document', '{"a":1}', '[{"op":"replace","path":"","value":{"b":2}}]', '{"b":2}'],
  ];
  for (const [section, doc, patch, want] of cases) {
    assert.deepEqual(applyJsonPatch(json(doc), parseJsonPatch(json(patch))), json(want), section);
  }
});

test('json patch: failures are 422 naming the operation, and nothing is applied', () => {
  const cases: readonly [section: string, doc: string, patch: string, mentions: string][] = [
    ['A.9 test error', '{"baz":"qux"}', '[{"op":"test","path":"/baz","value":"bar"}]', 'operation 0 (test /baz)'],
    ['A.12 add to a nonexistent target', '{"foo":"bar"}', '[{"op":"add","path":"/baz/bat","value":"qux"}]', 'does not exist'],
    ['A.15 string is not a number', '{"/":9,"~1":10}', '[{"op":"test","path":"/~01","value":"10"}]', 'test failed'],
    ['remove missing', '{"a":1}', '[{"op":"remove","path":"/b"}]', 'does not exist'],
    ['replace missing', '{"a":1}', '[{"op":"replace","path":"/b","value":2}]', 'does not exist'],
    ['index out of range', '{"a":[1]}', '[{"op":"add","path":"/a/5","value":2}]', 'out of range'],
    ['move into own child', '{"a":{"b":1}}', '[{"op":"move","from":"/a","path":"/a/b/c"}]', 'own child'],
    ['second op fails', '{"a":1}', '[{"op":"replace","path":"/a","value":2},{"op":"test","path":"/a","value":1}]', 'operation 1'],
  ];
  for (const [section, doc, patch, mentions] of cases) {
    const target = json(doc);
    const before = structuredClone(target);
    assert.throws(
      () => applyJsonPatch(target, parseJsonPatch(json(patch))),
      (e: unknown) => e instanceof ApiError && e.httpCode === 422 && e.reason === 'Invalid' && e.message.includes(mentions),
      section,
    );
    assert.deepEqual(target, before, `${section}: target untouched`);
  }
});

test('json patch: malformed documents are 400', () => {
  const cases = ['{"op":"add"}', '[{"op":"add","path":"/a"}]', '[{"op":"frobnicate","path":"/a"}]', '[{"op":"move","path":"/a"}]', '[1]', '[{"path":"/a"}]'];
  for (const text of cases) {
    assert.throws(() => parseJsonPatch(json(text)), (e: unknown) => e instanceof ApiError && e.httpCode === 400, text);
  }
});

test('strategic merge patch: maps merge, null deletes, unkeyed lists are replaced', () => {
  const pod = json(
    '{"metadata":{"labels":{"app":"web","tier":"front"},"annotations":{"a":"1"}},"spec":{"tolerations":[{"key":"x"}],"nodeSelector":{"gpu":"a100"}}}',
  );
  const cases: readonly [name: string, patch: string, want: string][] = [
    [
      'labels merge, annotation deleted',
      '{"metadata":{"labels":{"tier":"back","new":"1"},"annotations":{"a":null}}}',
      '{"metadata":{"labels":{"app":"web","tier":"back","new":"1"},"annotations":{}},"spec":{"tolerations":[{"key":"x"}],"nodeSelector":{"gpu":"a100"}}}',
    ],
    [
      'a list without a merge key is replaced',
      '{"spec":{"tolerations":[{"key":"y"}]}}',
      '{"metadata":{"labels":{"app":"web","tier":"front"},"annotations":{"a":"1"}},"spec":{"tolerations":[{"key":"y"}],"nodeSelector":{"gpu":"a100"}}}',
    ],
    [
      '$patch: replace on a map',
      '{"spec":{"nodeSelector":{"$patch":"replace","zone":"b"}}}',
      '{"metadata":{"labels":{"app":"web","tier":"front"},"annotations":{"a":"1"}},"spec":{"tolerations":[{"key":"x"}],"nodeSelector":{"zone":"b"}}}',
    ],
    [
      '$patch: delete on a map',
      '{"metadata":{"annotations":{"$patch":"delete"}}}',
      '{"metadata":{"labels":{"app":"web","tier":"front"}},"spec":{"tolerations":[{"key":"x"}],"nodeSelector":{"gpu":"a100"}}}',
    ],
  ];
  for (const [name, patch, want] of cases) assert.deepEqual(applyStrategicMergePatch(pod, json(patch)), json(want), name);
});

test('strategic merge patch: keyed lists merge on their merge key', () => {
  const status = json('{"status":{"conditions":[{"type":"Ready","status":"False"},{"type":"PodScheduled","status":"True"}]}}');
  assert.deepEqual(
    applyStrategicMergePatch(status, json('{"status":{"conditions":[{"type":"Ready","status":"True"},{"type":"Initialized","status":"True"}]}}')),
    json('{"status":{"conditions":[{"type":"Ready","status":"True"},{"type":"PodScheduled","status":"True"},{"type":"Initialized","status":"True"}]}}'),
  );
  assert.deepEqual(
    applyStrategicMergePatch(status, json('{"status":{"conditions":[{"type":"Ready","$patch":"delete"}]}}')),
    json('{"status":{"conditions":[{"type":"PodScheduled","status":"True"}]}}'),
  );
  assert.deepEqual(
    applyStrategicMergePatch(status, json('{"status":{"conditions":[{"$patch":"replace"},{"type":"X","status":"True"}]}}')),
    json('{"status":{"conditions":[{"type":"X","status":"True"}]}}'),
  );
  const containers = json('{"spec":{"containers":[{"name":"a","image":"x:1","env":[{"name":"A","value":"1"}]},{"name":"b","image":"y:1"}]}}');
  assert.deepEqual(
    applyStrategicMergePatch(containers, json('{"spec":{"containers":[{"name":"a","env":[{"name":"B","value":"2"}]}]}}')),
    json('{"spec":{"containers":[{"name":"a","image":"x:1","env":[{"name":"A","value":"1"},{"name":"B","value":"2"}]},{"name":"b","image":"y:1"}]}}'),
  );
});

test('strategic merge patch: finalizers merge as a set; directives kubectl sends are understood', () => {
  const object = json('{"metadata":{"finalizers":["a","b"]},"spec":{"containers":[{"name":"c","image":"i"}]}}');
  assert.deepEqual(applyStrategicMergePatch(object, json('{"metadata":{"finalizers":["b","c"]}}')), json('{"metadata":{"finalizers":["a","b","c"]},"spec":{"containers":[{"name":"c","image":"i"}]}}'));
  assert.deepEqual(
    applyStrategicMergePatch(object, json('{"metadata":{"$deleteFromPrimitiveList/finalizers":["a"]}}')),
    json('{"metadata":{"finalizers":["b"]},"spec":{"containers":[{"name":"c","image":"i"}]}}'),
  );
  assert.deepEqual(
    applyStrategicMergePatch(object, json('{"spec":{"$setElementOrder/containers":[{"name":"c"}],"containers":[{"name":"c","image":"j"}]}}')),
    json('{"metadata":{"finalizers":["a","b"]},"spec":{"containers":[{"name":"c","image":"j"}]}}'),
  );
  assert.deepEqual(applyStrategicMergePatch(json('{"a":1,"b":2,"c":3}'), json('{"$retainKeys":["a","c"],"c":4}')), json('{"a":1,"c":4}'));
});

test('strategic merge patch: malformed patches are 400', () => {
  const cases = ['[1]', '{"$frob":1}', '{"spec":{"containers":[{"image":"no-name"}]}}', '{"a":{"$patch":"merge-ish"}}'];
  for (const text of cases) {
    assert.throws(
      () => applyStrategicMergePatch(json('{"spec":{"containers":[{"name":"c"}]}}'), json(text)),
      (e: unknown) => e instanceof ApiError && e.httpCode === 400,
      text,
    );
  }
});

test('patch types come from the Content-Type media type', () => {
  assert.equal(patchTypeOf('application/merge-patch+json'), 'merge');
  assert.equal(patchTypeOf('application/json-patch+json; charset=utf-8'), 'json');
  assert.equal(patchTypeOf('Application/Strategic-Merge-Patch+JSON'), 'strategic');
  assert.equal(patchTypeOf('application/apply-patch+yaml'), undefined);
  assert.equal(patchTypeOf('application/json'), undefined);
});
