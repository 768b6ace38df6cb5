/**
 * Discovery documents, derived from the resource table: what kubectl and client libraries read
 * before they call anything (`/version`, `/api`, `/api/v1`, `/apis`, `/apis/<group>[/<version>]`).
 * kubectl prefers aggregated discovery (`as=APIGroupDiscoveryList`) but falls back to these
 * legacy documents when the response is plain `application/json`, which is all this server sends.
 */
import type { JsonObject } from './json.js';
import { groupVersions, RESOURCES, type ResourceType } from './kinds.js';

/** The Kubernetes release this server imitates, as `/version` reports it. */
export const SERVED_VERSION = { major: '1', minor: '32', gitVersion: 'v1.32.0-tessera' } as const;

const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

export function versionDocument(): JsonObject {
  return {
    major: SERVED_VERSION.major,
    minor: SERVED_VERSION.minor,
    gitVersion: SERVED_VERSION.gitVersion,
    gitCommit: '0000000000000000000000000000000000000000',
    gitTreeState: 'clean',
    buildDate: '2024-12-11T00:00:00Z',
    goVersion: 'go1.23.3',
    compiler: 'gc',
    platform: 'linux/amd64',
  };
}

/** `/api`: the core group's versions. */
export function coreVersions(serverAddress: string): JsonObject {
  return {
    kind: 'APIVersions',
    versions: groupVersions()
      .filter((g) => g.group === '')
      .flatMap((g) => g.versions),
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  };
}

function groupDocument(group: string, versions: readonly string[]): JsonObject {
  const entries = versions.map((version) => ({ groupVersion: `${group}/${version}`, version }));
  return { name: group, versions: entries, preferredVersion: entries[0] ?? null };
}

/** `/apis`: every named group. */
export function groupList(): JsonObject {
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: groupVersions()
      .filter((g) => g.group !== '')
      .map((g) => groupDocument(g.group, g.versions)),
  };
}

/** `/apis/<group>`, or `undefined` for a group not served. */
export function groupInfo(group: string): JsonObject | undefined {
  const found = groupVersions().find((g) => g.group === group && group !== '');
  return found === undefined ? undefined : { kind: 'APIGroup', apiVersion: 'v1', ...groupDocument(found.group, found.versions) };
}

function resourceEntries(resource: ResourceType): JsonObject[] {
  const main: JsonObject = {
    name: resource.plural,
    singularName: resource.singular,
    namespaced: resource.namespaced,
    kind: resource.kind,
    verbs: VERBS,
  };
  if (resource.shortNames.length > 0) main['shortNames'] = [...resource.shortNames];
  if (resource.categories.length > 0) main['categories'] = [...resource.categories];
  const subresources = resource.subresources.map(
    (sub): JsonObject =>
      sub === 'status'
        ? { name: `${resource.plural}/status`, singularName: '', namespaced: resource.namespaced, kind: resource.kind, verbs: ['get', 'patch', 'update'] }
        : { name: `${resource.plural}/binding`, singularName: '', namespaced: resource.namespaced, kind: 'Binding', verbs: ['create'] },
  );
  return [main, ...subresources];
}

/** `/api/v1` or `/apis/<group>/<version>`: the resources of one group version, or `undefined`. */
export function resourceList(group: string, version: string): JsonObject | undefined {
  const resources = RESOURCES.filter((r) => r.group === group && r.version === version);
  if (resources.length === 0) return undefined;
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: group === '' ? version : `${group}/${version}`,
    resources: resources.flatMap(resourceEntries),
  };
}

/** `/`: the paths served, as the apiserver's root lists them. */
export function rootPaths(): JsonObject {
  const paths = ['/api', '/apis', '/healthz', '/livez', '/readyz', '/version'];
  for (const { group, versions } of groupVersions()) {
    if (group === '') paths.push(...versions.map((v) => `/api/${v}`));
    else paths.push(`/apis/${group}`, ...versions.map((v) => `/apis/${group}/${v}`));
  }
  return { paths: paths.sort() };
}
