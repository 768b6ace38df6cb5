/**
 * REST verbs on resource paths: turns one request (route, method, query, body) into a
 * {@link Store} call and the reply the apiserver would give, status code included (201 for
 * create, 202 for a deletion that finalizers hold, …). Watches are handed to the {@link WatchHub}.
 */
import { mediaType, parseJson, parseObjectBody } from './body.js';
import { field, isJsonObject, type JsonObject } from './json.js';
import { PODS, type ResourceType } from './kinds.js';
import { patchTypeOf, PATCH_TYPES } from './patch.js';
import type { Route } from './router.js';
import { checkFieldLabels, parseFieldSelector, parseLabelSelector, type FieldSelector, type LabelSelector } from './selectors.js';
import { badRequest, methodNotAllowed, successStatus, unsupportedMediaType } from './status.js';
import { parseRevision, type DeletePreconditions, type ListOptions, type Store } from './store.js';
import type { WatchRequest } from './watch.js';

/** A finished reply: status code and JSON body. */
export interface Reply {
  readonly code: number;
  readonly body: JsonObject;
}

/** The request as the REST layer sees it. */
export interface RestRequest {
  readonly method: string;
  readonly route: Extract<Route, { kind: 'resource' }>;
  readonly query: URLSearchParams;
  readonly contentType: string | undefined;
  /** Reads the body (size-limited); only called by verbs that take one. */
  readonly body: () => Promise<Buffer>;
  /** `METHOD path`, for error messages. */
  readonly what: string;
}

/** What to do with a request: reply now, or stream a watch. */
export type RestOutcome = { readonly reply: Reply } | { readonly watch: WatchRequest };

function booleanParam(query: URLSearchParams, name: string): boolean | undefined {
  const value = query.get(name);
  if (value === null) return undefined;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0' || value === '') return false;
  throw badRequest(`${name}: Invalid value: ${JSON.stringify(value)}: must be true or false`);
}

function integerParam(query: URLSearchParams, name: string): number | undefined {
  const value = query.get(name);
  if (value === null || value === '') return undefined;
  if (!/^[0-9]{1,15}$/.test(value)) throw badRequest(`${name}: Invalid value: ${JSON.stringify(value)}: must be a non-negative integer`);
  return Number(value);
}

/** Whether the request is a watch (`?watch=true` or a `/watch/` path). */
export function isWatch(route: Route, query: URLSearchParams): boolean {
  if (route.kind !== 'resource') return false;
  return route.legacyWatch || booleanParam(query, 'watch') === true;
}

function selectorsFrom(resource: ResourceType, query: URLSearchParams, name: string | undefined): { labels: LabelSelector; fields: FieldSelector } {
  const labels = parseLabelSelector(query.get('labelSelector') ?? '');
  let fields = parseFieldSelector(query.get('fieldSelector') ?? '');
  checkFieldLabels(fields, resource.fieldLabels);
  // A watch on one object's path is a watch of the collection narrowed to its name.
  if (name !== undefined) fields = [...fields, { field: 'metadata.name', operator: '=', value: name }];
  return { labels, fields };
}

function listBody(resource: ResourceType, items: JsonObject[], resourceVersion: string, extra: JsonObject = {}): JsonObject {
  return { kind: resource.listKind, apiVersion: resource.apiVersion, metadata: { resourceVersion, ...extra }, items };
}

const DRY_RUN_UNSUPPORTED = 'dryRun is not supported by this API server (tessera in-memory apiserver)';

function rejectDryRun(query: URLSearchParams): void {
  if (query.has('dryRun')) throw badRequest(DRY_RUN_UNSUPPORTED);
}

/** `DeleteOptions` from a DELETE body (optional) and the query. */
async function deletePreconditions(request: RestRequest): Promise<DeletePreconditions> {
  const bytes = await request.body();
  if (bytes.length === 0 || bytes.toString('utf8').trim() === '') return {};
  const options = parseJson(bytes, request.what);
  if (!isJsonObject(options)) throw badRequest(`${request.what}: the body must be a DeleteOptions object`);
  const kind = field(options, 'kind');
  if (kind !== undefined && kind !== 'DeleteOptions') throw badRequest(`${request.what}: expected DeleteOptions in the body, got kind ${JSON.stringify(kind)}`);
  const policy = field(options, 'propagationPolicy');
  if (policy !== undefined && policy !== null && policy !== 'Orphan' && policy !== 'Background' && policy !== 'Foreground') {
    throw badRequest(`propagationPolicy: Unsupported value: ${JSON.stringify(policy)}: supported values: "Foreground", "Background", "Orphan"`);
  }
  const dryRun = field(options, 'dryRun');
  if (Array.isArray(dryRun) && dryRun.length > 0) throw badRequest(DRY_RUN_UNSUPPORTED);
  const preconditions = field(options, 'preconditions');
  if (preconditions === undefined || preconditions === null) return {};
  if (!isJsonObject(preconditions)) throw badRequest(`${request.what}: DeleteOptions.preconditions must be an object`);
  const uid = field(preconditions, 'uid');
  const resourceVersion = field(preconditions, 'resourceVersion');
  if ((uid !== undefined && uid !== null && typeof uid !== 'string') || (resourceVersion !== undefined && resourceVersion !== null && typeof resourceVersion !== 'string')) {
    throw badRequest(`${request.what}: DeleteOptions.preconditions.uid and .resourceVersion must be strings`);
  }
  return {
    ...(typeof uid === 'string' ? { uid } : {}),
    ...(typeof resourceVersion === 'string' ? { resourceVersion } : {}),
  };
}

function deletedReply(resource: ResourceType, object: JsonObject, deleted: boolean): Reply {
  if (!deleted) return { code: 202, body: object };
  if (resource.returnDeletedObject) return { code: 200, body: object };
  const metadata = field(object, 'metadata');
  const details: JsonObject = { name: isJsonObject(metadata) ? (field(metadata, 'name') ?? '') : '', kind: resource.plural };
  if (resource.group !== '') details['group'] = resource.group;
  if (isJsonObject(metadata)) details['uid'] = field(metadata, 'uid') ?? '';
  return { code: 200, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details } };
}

/**
 * Serves a request on a resource path.
 * @throws ApiError for every refusal; the caller renders it
 */
export async function serveResource(store: Store, request: RestRequest): Promise<RestOutcome> {
  const { method, route, query } = request;
  const { resource, namespace, name, subresource } = route;

  if (method === 'GET' && isWatch(route, query)) {
    if (subresource !== undefined) throw methodNotAllowed();
    const { labels, fields } = selectorsFrom(resource, query, name);
    const timeoutSeconds = integerParam(query, 'timeoutSeconds');
    const sendInitialEvents = booleanParam(query, 'sendInitialEvents');
    const resourceVersion = query.get('resourceVersion') ?? '';
    if (resourceVersion !== '' && resourceVersion !== '0') parseRevision(resourceVersion);
    return {
      watch: {
        resource,
        namespace,
        labelSelector: labels,
        fieldSelector: fields,
        resourceVersion,
        allowWatchBookmarks: booleanParam(query, 'allowWatchBookmarks') === true,
        ...(timeoutSeconds === undefined ? {} : { timeoutSeconds }),
        ...(sendInitialEvents === undefined ? {} : { sendInitialEvents }),
      },
    };
  }

  if (name === undefined) {
    const listOptions = (): ListOptions => {
      const { labels, fields } = selectorsFrom(resource, query, undefined);
      const limit = integerParam(query, 'limit');
      return {
        namespace,
        labelSelector: labels,
        fieldSelector: fields,
        ...(limit === undefined ? {} : { limit }),
        continue: query.get('continue') ?? '',
        resourceVersion: query.get('resourceVersion') ?? '',
        resourceVersionMatch: query.get('resourceVersionMatch') ?? '',
      };
    };
    switch (method) {
      case 'GET': {
        const list = store.list(resource, listOptions());
        const extra: JsonObject = {};
        if (list.continue !== undefined) extra['continue'] = list.continue;
        if (list.remainingItemCount !== undefined) extra['remainingItemCount'] = list.remainingItemCount;
        return { reply: { code: 200, body: listBody(resource, list.items, list.resourceVersion, extra) } };
      }
      case 'POST': {
        if (resource.namespaced && namespace === '') throw methodNotAllowed();
        rejectDryRun(query);
        const body = parseObjectBody(await request.body(), request.contentType, request.what);
        return { reply: { code: 201, body: store.create(resource, namespace, body) } };
      }
      case 'DELETE': {
        rejectDryRun(query);
        await deletePreconditions(request);
        const items = store.deleteCollection(resource, listOptions());
        return { reply: { code: 200, body: listBody(resource, items, store.resourceVersion) } };
      }
      default:
        throw methodNotAllowed();
    }
  }

  if (subresource === 'binding') {
    if (method !== 'POST' || resource !== PODS) throw methodNotAllowed();
    rejectDryRun(query);
    store.bind(namespace, name, parseObjectBody(await request.body(), request.contentType, request.what));
    return { reply: { code: 201, body: successStatus(201) } };
  }

  switch (method) {
    case 'GET':
      return { reply: { code: 200, body: store.get(resource, namespace, name) } };
    case 'PUT': {
      rejectDryRun(query);
      const body = parseObjectBody(await request.body(), request.contentType, request.what);
      if (subresource === 'status') return { reply: { code: 200, body: store.updateStatus(resource, namespace, name, body) } };
      const { object, created } = store.update(resource, namespace, name, body);
      return { reply: { code: created ? 201 : 200, body: object } };
    }
    case 'PATCH': {
      rejectDryRun(query);
      const media = mediaType(request.contentType);
      const type = patchTypeOf(media);
      if (type === undefined) {
        const accepted = Object.values(PATCH_TYPES);
        if (media === 'application/apply-patch+yaml' || media === 'application/apply-patch+cbor') {
          throw unsupportedMediaType(`${media} (server-side apply is not implemented by this server)`, accepted);
        }
        throw unsupportedMediaType(media, accepted);
      }
      const patch = parseJson(await request.body(), request.what);
      return { reply: { code: 200, body: store.patch(resource, namespace, name, type, patch, subresource) } };
    }
    case 'DELETE': {
      if (subresource !== undefined) throw methodNotAllowed();
      rejectDryRun(query);
      const { object, deleted } = store.delete(resource, namespace, name, await deletePreconditions(request));
      return { reply: deletedReply(resource, object, deleted) };
    }
    default:
      throw methodNotAllowed();
  }
}
