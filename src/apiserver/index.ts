/**
 * In-memory Kubernetes API server for tests and the demo: `startApiServer()` serves the real REST
 * wire protocol on loopback. The pieces are exported for tests and for reuse: the resource table,
 * selectors, patch formats, the store with the apiserver's rules, the Status errors, and
 * `openWatch` for tests that assert a raw watch stream.
 */
export { startApiServer, type ApiServer, type ApiServerOptions } from './server.js';
export { Store, INITIAL_NAMESPACES, parseRevision, type StoreOptions, type ListOptions, type ListResult, type DeletePreconditions, type DeleteResult } from './store.js';
export { VersionedStorage, objectKey, type Change, type ChangeType, type ChangeListener, type HistoryResult } from './storage.js';
export {
  RESOURCES,
  PODS,
  NODES,
  NAMESPACES,
  EVENTS,
  RESOURCE_QUOTAS,
  CONFIG_MAPS,
  LEASES,
  defineResource,
  findResource,
  resourceType,
  groupVersions,
  type ResourceSpec,
  type ResourceType,
  type Subresource,
  type FieldLabel,
} from './kinds.js';
export {
  parseLabelSelector,
  parseFieldSelector,
  matchesLabels,
  matchesFields,
  checkFieldLabels,
  labelsOf,
  labelKeyProblem,
  labelValueProblem,
  type LabelSelector,
  type LabelRequirement,
  type LabelOperator,
  type FieldSelector,
  type FieldRequirement,
  type FieldOperator,
} from './selectors.js';
export {
  applyMergePatch,
  applyJsonPatch,
  applyStrategicMergePatch,
  applyPatch,
  parseJsonPatch,
  patchTypeOf,
  PATCH_TYPES,
  LIST_MERGE_KEYS,
  type PatchType,
  type JsonPatchOperation,
} from './patch.js';
export { Faults, matchesRequest, type RequestInfo, type RequestMatcher, type FailOptions, type InjectedFailure } from './faults.js';
export { WatchHub, type WatchRequest, type WatchEventType, type DropMode } from './watch.js';
export { route, type Route } from './router.js';
export { openApiIndex, openApiGroupVersion } from './openapi.js';
export { openWatch, type WatchReader, type WatchEvent } from './testing.js';
export { coreVersions, groupInfo, groupList, resourceList, rootPaths, versionDocument, SERVED_VERSION } from './discovery.js';
export { readBody, parseJson, parseObjectBody, mediaType, MAX_REQUEST_BODY_BYTES } from './body.js';
export {
  ApiError,
  STALE_OBJECT,
  alreadyExists,
  badRequest,
  conflict,
  expired,
  internalError,
  invalid,
  notFound,
  qualifiedResource,
  type CauseType,
  type FieldError,
  type ResourceName,
  type StatusDetails,
  type StatusReason,
} from './status.js';
export { clone, field, isJsonObject, jsonEqual, type JsonObject, type JsonPrimitive, type JsonValue } from './json.js';
