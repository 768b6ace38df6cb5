/**
 * Request paths to what they address, as the apiserver lays its REST paths out:
 *
 * ```
 * /api/v1/<plural>[/<name>[/<subresource>]]                       core, cluster-wide or cluster-scoped
 * /api/v1/namespaces/<ns>/<plural>[/<name>[/<subresource>]]       core, namespaced
 * /apis/<group>/<version>/…                                       the same for a named group
 * /api/v1/watch/…, /apis/<group>/<version>/watch/…                legacy watch paths
 * ```
 *
 * `/openapi/v3[/<api|apis/group>/<version>]` serve the minimal OpenAPI documents of `openapi.ts`.
 * `namespaces/<name>/status` is the namespace's own status, since `status` is no namespaced
 * resource. Pure: the server turns a `Route` into a handler call.
 */
import { decodePathSegments } from '../http/path-segments.js';
import { findResource, RESOURCES, type ResourceType, type Subresource } from './kinds.js';

export type Route =
  | { readonly kind: 'root' }
  | { readonly kind: 'version' }
  | { readonly kind: 'health' }
  | { readonly kind: 'core-versions' }
  | { readonly kind: 'group-list' }
  | { readonly kind: 'group'; readonly group: string }
  | { readonly kind: 'resource-list'; readonly group: string; readonly version: string }
  | { readonly kind: 'openapi-index' }
  | { readonly kind: 'openapi-group-version'; readonly group: string; readonly version: string }
  | {
      readonly kind: 'resource';
      readonly resource: ResourceType;
      /** `''` for cluster-scoped kinds and for lists across all namespaces. */
      readonly namespace: string;
      /** `undefined` addresses the collection. */
      readonly name?: string;
      readonly subresource?: Subresource;
      /** Reached through a `/watch/` path. */
      readonly legacyWatch: boolean;
    }
  | { readonly kind: 'not-found' };

const NOT_FOUND: Route = { kind: 'not-found' };

function resourceRoute(group: string, version: string, rest: string[]): Route {
  let legacyWatch = false;
  if (rest[0] === 'watch') {
    legacyWatch = true;
    rest = rest.slice(1);
  }
  let namespace = '';
  const namespacedPlural = rest[0] === 'namespaces' && rest.length >= 3 ? findResource(group, version, rest[2] ?? '') : undefined;
  if (namespacedPlural?.namespaced === true) {
    namespace = rest[1] ?? '';
    rest = rest.slice(2);
  }
  if (rest.length === 0 || rest.length > 3) return NOT_FOUND;
  const [plural = '', name, sub] = rest;
  const resource = findResource(group, version, plural);
  if (resource === undefined) return NOT_FOUND;
  // A namespaced object is only reachable inside its namespace.
  if (resource.namespaced && namespace === '' && name !== undefined) return NOT_FOUND;
  if (sub !== undefined && !(resource.subresources as readonly string[]).includes(sub)) return NOT_FOUND;
  if (legacyWatch && sub !== undefined) return NOT_FOUND;
  return {
    kind: 'resource',
    resource,
    namespace,
    ...(name === undefined ? {} : { name }),
    ...(sub === undefined ? {} : { subresource: sub as Subresource }),
    legacyWatch,
  };
}

/** What a request path addresses; `not-found` for anything the server does not serve. */
export function route(path: string): Route {
  const segments = decodePathSegments(path)?.filter((s) => s !== '');
  if (segments === undefined) return NOT_FOUND;
  const [first, second, third] = segments;
  if (segments.length === 0) return { kind: 'root' };
  if (first === 'version' && segments.length === 1) return { kind: 'version' };
  if ((first === 'healthz' || first === 'livez' || first === 'readyz') && segments.length === 1) return { kind: 'health' };
  if (first === 'openapi' && second === 'v3') {
    const rest = segments.slice(2);
    if (rest.length === 0) return { kind: 'openapi-index' };
    if (rest[0] === 'api' && rest.length === 2) return { kind: 'openapi-group-version', group: '', version: rest[1] ?? '' };
    if (rest[0] === 'apis' && rest.length === 3) return { kind: 'openapi-group-version', group: rest[1] ?? '', version: rest[2] ?? '' };
    return NOT_FOUND;
  }
  if (first === 'api') {
    if (segments.length === 1) return { kind: 'core-versions' };
    if (second === undefined || !RESOURCES.some((r) => r.group === '' && r.version === second)) return NOT_FOUND;
    if (segments.length === 2) return { kind: 'resource-list', group: '', version: second };
    return resourceRoute('', second, segments.slice(2));
  }
  if (first === 'apis') {
    if (segments.length === 1) return { kind: 'group-list' };
    if (second === undefined || !RESOURCES.some((r) => r.group === second)) return NOT_FOUND;
    if (segments.length === 2) return { kind: 'group', group: second };
    if (third === undefined || !RESOURCES.some((r) => r.group === second && r.version === third)) return NOT_FOUND;
    if (segments.length === 3) return { kind: 'resource-list', group: second, version: third };
    return resourceRoute(second, third, segments.slice(3));
  }
  return NOT_FOUND;
}
