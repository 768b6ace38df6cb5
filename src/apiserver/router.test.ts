import assert from 'node:assert/strict';
import { test } from 'node:test';
import { route } from './router.js';

/** A route as a short string, so the table reads at a glance. */
function describe(path: string): string {
  const r = route(path);
  switch (r.kind) {
    case 'resource':
      return [
        r.legacyWatch ? 'watch' : 'rest',
        r.resource.key,
        r.namespace === '' ? '-' : r.namespace,
        r.name ?? '-',
        r.subresource ?? '-',
      ].join(' ');
    case 'group':
      return `group ${r.group}`;
    case 'resource-list':
    case 'openapi-group-version':
      return `${r.kind} ${r.group}/${r.version}`;
    default:
      return r.kind;
  }
}

test('paths route as the apiserver lays them out', () => {
  const cases: readonly [path: string, want: string][] = [
    ['/', 'root'],
    ['/version', 'version'],
    ['/healthz', 'health'],
    ['/api', 'core-versions'],
    ['/api/v1', 'resource-list /v1'],
    ['/apis', 'group-list'],
    ['/apis/coordination.k8s.io', 'group coordination.k8s.io'],
    ['/apis/coordination.k8s.io/v1', 'resource-list coordination.k8s.io/v1'],
    ['/openapi/v3', 'openapi-index'],
    ['/openapi/v3/api/v1', 'openapi-group-version /v1'],
    ['/openapi/v3/apis/coordination.k8s.io/v1', 'openapi-group-version coordination.k8s.io/v1'],
    ['/api/v1/pods', 'rest pods - - -'],
    ['/api/v1/namespaces/team-a/pods', 'rest pods team-a - -'],
    ['/api/v1/namespaces/team-a/pods/p1', 'rest pods team-a p1 -'],
    ['/api/v1/namespaces/team-a/pods/p1/status', 'rest pods team-a p1 status'],
    ['/api/v1/namespaces/team-a/pods/p1/binding', 'rest pods team-a p1 binding'],
    ['/api/v1/nodes/n1/status', 'rest nodes - n1 status'],
    ['/api/v1/namespaces', 'rest namespaces - - -'],
    ['/api/v1/namespaces/team-a', 'rest namespaces - team-a -'],
    ['/api/v1/namespaces/team-a/status', 'rest namespaces - team-a status'],
    ['/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/l', 'rest leases.coordination.k8s.io kube-system l -'],
    ['/api/v1/watch/pods', 'watch pods - - -'],
    ['/api/v1/watch/namespaces/default/pods/p1', 'watch pods default p1 -'],
    ['/api/v1/namespaces/default/pods/p%2Dx', 'rest pods default p-x -'],
  ];
  for (const [path, want] of cases) assert.equal(describe(path), want, path);
});

test('what the server does not serve is not-found', () => {
  const paths = [
    '/api/v2/pods',
    '/api/v1/widgets',
    '/api/v1/pods/p1',
    '/api/v1/namespaces/default/pods/p1/eviction',
    '/api/v1/namespaces/default/configmaps/c/status',
    '/api/v1/namespaces/default/pods/p1/status/extra',
    '/apis/apps/v1/deployments',
    '/apis/coordination.k8s.io/v2/leases',
    '/openapi/v2',
    '/api/v1/namespaces/default/pods/%E0%A4%A',
  ];
  for (const path of paths) assert.equal(route(path).kind, 'not-found', path);
});
