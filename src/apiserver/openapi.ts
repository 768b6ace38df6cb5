/**
 * A minimal OpenAPI v3 description: paths and their operations, without schemas. It exists so
 * that `kubectl apply` and `kubectl create` work with their default `--validate=strict`: kubectl
 * looks for the `fieldValidation` parameter on the kind's PATCH operation, and when it finds it
 * leaves validation to the server instead of downloading the full schema (which this server does
 * not have). The PATCH operations do not offer `strategic-merge-patch+json`, so `kubectl apply`
 * computes its patches from its compiled-in types, as it does for a server without OpenAPI.
 *
 * `/openapi/v2` stays a 404: kubectl falls back from it gracefully.
 */
import type { JsonObject } from './json.js';
import { groupVersions, RESOURCES, type ResourceType } from './kinds.js';

/** The path segment kubectl's OpenAPI client uses for a group version: `api/v1`, `apis/<group>/<version>`. */
function groupVersionPath(group: string, version: string): string {
  return group === '' ? `api/${version}` : `apis/${group}/${version}`;
}

/** `/openapi/v3`: where each group version's document is. */
export function openApiIndex(): JsonObject {
  const paths: JsonObject = {};
  for (const { group, versions } of groupVersions()) {
    for (const version of versions) {
      const path = groupVersionPath(group, version);
      // The hash only lets clients cache; the documents never change while the server runs.
      paths[path] = { serverRelativeURL: `/openapi/v3/${path}?hash=tessera-${group === '' ? 'core' : group}-${version}` };
    }
  }
  return { paths };
}

const QUERY_STRING = { type: 'string', uniqueItems: true };

function queryParameter(name: string): JsonObject {
  return { name, in: 'query', schema: QUERY_STRING };
}

function pathParameter(name: string): JsonObject {
  return { name, in: 'path', required: true, schema: QUERY_STRING };
}

const OK: JsonObject = { '200': { description: 'OK' } };

function itemPaths(resource: ResourceType): [string, JsonObject][] {
  const gvk = { group: resource.group, version: resource.version, kind: resource.kind };
  const prefix = `/${groupVersionPath(resource.group, resource.version)}`;
  const item = resource.namespaced ? `${prefix}/namespaces/{namespace}/${resource.plural}/{name}` : `${prefix}/${resource.plural}/{name}`;
  const collection = resource.namespaced ? `${prefix}/namespaces/{namespace}/${resource.plural}` : `${prefix}/${resource.plural}`;
  const scope = resource.namespaced ? [pathParameter('namespace')] : [];
  const writeParameters = [queryParameter('dryRun'), queryParameter('fieldManager'), queryParameter('fieldValidation')];
  const operation = (id: string, extra: JsonObject = {}): JsonObject => ({
    operationId: `${id}${resource.kind}`,
    'x-kubernetes-group-version-kind': gvk,
    parameters: writeParameters,
    responses: OK,
    ...extra,
  });
  return [
    [
      collection,
      {
        parameters: [...scope, queryParameter('fieldValidation')],
        get: { operationId: `list${resource.kind}`, 'x-kubernetes-group-version-kind': gvk, responses: OK },
        post: operation('create'),
      },
    ],
    [
      item,
      {
        parameters: [...scope, pathParameter('name'), queryParameter('fieldValidation')],
        get: { operationId: `read${resource.kind}`, 'x-kubernetes-group-version-kind': gvk, responses: OK },
        put: operation('replace'),
        patch: operation('patch', {
          requestBody: {
            content: {
              'application/json-patch+json': { schema: { type: 'object' } },
              'application/merge-patch+json': { schema: { type: 'object' } },
            },
          },
        }),
        delete: { operationId: `delete${resource.kind}`, 'x-kubernetes-group-version-kind': gvk, responses: OK },
      },
    ],
  ];
}

/** `/openapi/v3/<api|apis/group>/<version>`, or `undefined` for a group version not served. */
export function openApiGroupVersion(group: string, version: string): JsonObject | undefined {
  const resources = RESOURCES.filter((r) => r.group === group && r.version === version);
  if (resources.length === 0) return undefined;
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes (tessera in-memory apiserver)', version: 'v1.32.0' },
    paths: Object.fromEntries(resources.flatMap(itemPaths)),
    components: {},
  };
}
