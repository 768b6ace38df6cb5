import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NODES, PODS } from './kinds.js';
import { checkFieldLabels, matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector } from './selectors.js';
import { ApiError } from './status.js';

const labels = (entries: Record<string, string>): ReadonlyMap<string, string> => new Map(Object.entries(entries));

test('label selectors match as labels.Parse reads them', () => {
  const web = labels({ app: 'web', tier: 'front', 'tessera.io/gpu': 'a100', replicas: '3' });
  const bare = labels({});
  const cases: readonly { selector: string; on: ReadonlyMap<string, string>; want: boolean }[] = [
    { selector: '', on: web, want: true },
    { selector: '', on: bare, want: true },
    { selector: 'app=web', on: web, want: true },
    { selector: 'app==web', on: web, want: true },
    { selector: 'app = web', on: web, want: true },
    { selector: 'app=db', on: web, want: false },
    { selector: 'app!=db', on: web, want: true },
    { selector: 'app!=web', on: web, want: false },
    { selector: 'app!=web', on: bare, want: true },
    { selector: 'app', on: web, want: true },
    { selector: 'app', on: bare, want: false },
    { selector: '!app', on: web, want: false },
    { selector: '!app', on: bare, want: true },
    { selector: 'app in (web,db)', on: web, want: true },
    { selector: 'app in (db, cache)', on: web, want: false },
    { selector: 'app in (web)', on: bare, want: false },
    { selector: 'app notin (db,cache)', on: web, want: true },
    { selector: 'app notin (web)', on: web, want: false },
    { selector: 'app notin (web)', on: bare, want: true },
    { selector: 'app=web,tier=front', on: web, want: true },
    { selector: 'app=web,tier=back', on: web, want: false },
    { selector: 'app in (web),!missing,tier', on: web, want: true },
    { selector: 'tessera.io/gpu=a100', on: web, want: true },
    { selector: 'replicas>2', on: web, want: true },
    { selector: 'replicas<3', on: web, want: false },
    { selector: 'app>2', on: web, want: false },
    { selector: 'empty=', on: labels({ empty: '' }), want: true },
    { selector: 'empty=', on: bare, want: false },
  ];
  for (const { selector, on, want } of cases) {
    assert.equal(matchesLabels(parseLabelSelector(selector), on), want, `${JSON.stringify(selector)} on ${JSON.stringify([...on])}`);
  }
});

test('label selectors parse into requirements', () => {
  assert.deepEqual(parseLabelSelector('a in (x, y),!b,c!=d'), [
    { key: 'a', operator: 'in', values: ['x', 'y'] },
    { key: 'b', operator: '!', values: [] },
    { key: 'c', operator: '!=', values: ['d'] },
  ]);
});

test('malformed label selectors are 400 BadRequest naming the problem', () => {
  const cases: readonly { selector: string; mentions: string }[] = [
    { selector: 'a in b', mentions: 'expected "("' },
    { selector: 'a in (b', mentions: ')' },
    { selector: 'a in ()', mentions: 'must not be empty' },
    { selector: 'a=b,', mentions: 'must follow ","' },
    { selector: 'a=b=c', mentions: 'expected ","' },
    { selector: '-bad=x', mentions: 'key "-bad"' },
    { selector: 'a=has space', mentions: 'expected ","' },
    { selector: 'a=-x', mentions: 'value "-x"' },
    { selector: 'a>x', mentions: 'must be an integer' },
    { selector: '!', mentions: 'label key' },
    { selector: 'a (', mentions: 'expected an operator' },
    { selector: 'Bad_Prefix/a=b', mentions: 'prefix part' },
  ];
  for (const { selector, mentions } of cases) {
    assert.throws(
      () => parseLabelSelector(selector),
      (error: unknown) => error instanceof ApiError && error.httpCode === 400 && error.reason === 'BadRequest' && error.message.includes(mentions),
      `${JSON.stringify(selector)} should fail mentioning ${mentions}`,
    );
  }
});

const pod = {
  metadata: { name: 'p1', namespace: 'team-a' },
  spec: { nodeName: 'node-1' },
  status: { phase: 'Running' },
};

test('field selectors match pods on the supported fields', () => {
  const cases: readonly { selector: string; want: boolean }[] = [
    { selector: '', want: true },
    { selector: 'metadata.name=p1', want: true },
    { selector: 'metadata.name==p1', want: true },
    { selector: 'metadata.name!=p1', want: false },
    { selector: 'metadata.namespace=team-a', want: true },
    { selector: 'spec.nodeName=node-1', want: true },
    { selector: 'spec.nodeName=', want: false },
    { selector: 'spec.nodeName!=', want: true },
    { selector: 'status.phase=Running,spec.nodeName=node-1', want: true },
    { selector: 'status.phase=Running,spec.nodeName=node-2', want: false },
    { selector: 'spec.hostNetwork=false', want: true },
    { selector: 'status.podIP=', want: true },
  ];
  for (const { selector, want } of cases) {
    const parsed = parseFieldSelector(selector);
    checkFieldLabels(parsed, PODS.fieldLabels);
    assert.equal(matchesFields(parsed, pod, PODS.fieldLabels), want, selector);
  }
  assert.equal(matchesFields(parseFieldSelector('spec.nodeName='), { metadata: { name: 'pending' } }, PODS.fieldLabels), true, 'unscheduled pods');
});

test('field selector values unescape \\, \\= and \\\\', () => {
  assert.deepEqual(parseFieldSelector('metadata.name=a\\,b\\=c\\\\d,status.phase!=x'), [
    { field: 'metadata.name', operator: '=', value: 'a,b=c\\d' },
    { field: 'status.phase', operator: '!=', value: 'x' },
  ]);
});

test('field selectors: malformed terms and unsupported fields are 400', () => {
  const malformed = ['metadata.name', '=x', 'metadata.name=a\\b'];
  for (const text of malformed) {
    assert.throws(() => parseFieldSelector(text), (e: unknown) => e instanceof ApiError && e.httpCode === 400, text);
  }
  assert.throws(
    () => checkFieldLabels(parseFieldSelector('spec.nodeName=n'), NODES.fieldLabels),
    (e: unknown) => e instanceof ApiError && e.httpCode === 400 && e.message.startsWith('field label not supported: spec.nodeName'),
  );
  checkFieldLabels(parseFieldSelector('spec.unschedulable=false,metadata.name=n'), NODES.fieldLabels);
});
