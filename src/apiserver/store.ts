/**
 * The REST semantics of the API server over {@link VersionedStorage}: what create, update, patch,
 * delete, list and the `status` and `binding` subresources do to objects, with the apiserver's
 * rules and errors. The HTTP layer calls it for every request, and tests call it directly to seed
 * or inspect the cluster; both go through the same rules and both produce watch events.
 *
 * Rules kept from upstream (`k8s.io/apiserver` generic registry and the core strategies):
 * - every object gets `uid`, `creationTimestamp`, `generation` (1, bumped when anything outside
 *   `metadata` and `status` changes) and `resourceVersion` (one counter across all kinds);
 * - an update or patch whose `metadata.resourceVersion` is set and stale is a 409 `Conflict`; an
 *   update that changes nothing writes nothing and keeps the version;
 * - writes to an object with a `status` subresource leave its status alone, and writes to
 *   `…/status` change only the status;
 * - deleting an object with finalizers marks it (`deletionTimestamp`) instead; it goes when the
 *   last finalizer is removed;
 * - namespaced objects need their namespace to exist; `default`, `kube-system`, `kube-public` and
 *   `kube-node-lease` exist from the start.
 */
import { randomUUID } from 'node:crypto';
import { dns1123LabelReason, dns1123SubdomainReason } from '../core/codec/fields.js';
import { clone, deleteField, field, isJsonObject, jsonEqual, objectField, setField, stringField, type JsonObject, type JsonValue } from './json.js';
import { NAMESPACES, PODS, RESOURCES, type ResourceType } from './kinds.js';
import { applyPatch, type PatchType } from './patch.js';
import { checkFieldLabels, labelKeyProblem, labelsOf, labelValueProblem, matchesFields, matchesLabels, type FieldSelector, type LabelSelector } from './selectors.js';
import {
  alreadyExists,
  ApiError,
  badRequest,
  conflict,
  expired,
  invalid,
  notFound,
  STALE_OBJECT,
  timeout,
  type FieldError,
  type ResourceName,
} from './status.js';
import { objectKey, VersionedStorage, type ChangeListener } from './storage.js';

/** Namespaces every cluster starts with. */
export const INITIAL_NAMESPACES: readonly string[] = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

export interface StoreOptions {
  /** Changes kept per resource type for watches and paged lists. @default 1000 */
  readonly historyLimit?: number;
  /** Namespaces to create besides {@link INITIAL_NAMESPACES}. */
  readonly namespaces?: readonly string[];
  /** Wall clock for timestamps. @default () => new Date() */
  readonly now?: () => Date;
}

/** Query options of a list. */
export interface ListOptions {
  /** Only this namespace; `undefined` or `''` lists all. */
  readonly namespace?: string;
  readonly labelSelector?: LabelSelector;
  readonly fieldSelector?: FieldSelector;
  /** Page size; 0 or absent = everything. */
  readonly limit?: number;
  /** The `continue` token of the previous page. */
  readonly continue?: string;
  /** `resourceVersion` query parameter: absent = latest, `"0"` = any, else a revision. */
  readonly resourceVersion?: string;
  /** `resourceVersionMatch`: `Exact` or `NotOlderThan`. */
  readonly resourceVersionMatch?: string;
}

export interface ListResult {
  /** Items without `kind`/`apiVersion`, as list responses carry them. */
  readonly items: JsonObject[];
  readonly resourceVersion: string;
  readonly continue?: string;
  readonly remainingItemCount?: number;
}

/** `metav1.DeleteOptions.preconditions`. */
export interface DeletePreconditions {
  readonly uid?: string;
  readonly resourceVersion?: string;
}

export interface DeleteResult {
  /** The object as deleted, or as marked for deletion when finalizers hold it. */
  readonly object: JsonObject;
  /** False when finalizers keep the object (HTTP 202). */
  readonly deleted: boolean;
}

/** The `pods/binding` resource, as its conflict messages name it. */
const POD_BINDING: ResourceName = { group: '', plural: 'pods/binding', kind: 'Binding' };
const BINDING_KIND: ResourceName = { group: '', plural: 'bindings', kind: 'Binding' };

/** Characters of a `generateName` suffix: `names.SimpleNameGenerator` leaves out vowels and look-alikes. */
const NAME_SUFFIX_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

function rfc3339Seconds(at: Date): string {
  return `${at.toISOString().slice(0, 19)}Z`;
}

function metadataOf(object: JsonObject): JsonObject {
  return objectField(object, 'metadata');
}

/** A metadata field of a stored (frozen) object, read without copying or creating anything. */
function metaField(object: JsonObject, key: string): JsonValue | undefined {
  const metadata = field(object, 'metadata');
  return isJsonObject(metadata) ? field(metadata, key) : undefined;
}

function metaString(object: JsonObject, key: string): string {
  const value = metaField(object, key);
  return typeof value === 'string' ? value : '';
}

/** Everything but `metadata` and `status`: what bumps `generation` when it changes. */
function specPart(object: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(object)) if (k !== 'metadata' && k !== 'status' && k !== 'kind' && k !== 'apiVersion') setField(out, k, v);
  return out;
}

function hasStatusSubresource(resource: ResourceType): boolean {
  return resource.subresources.includes('status');
}

/**
 * Any value as the JSON it would be on the wire: a deep copy in which `Date`s are strings and
 * `undefined` members are gone. Callers in the same process (tests passing client-node's `V1Pod`
 * objects) thus get exactly what an HTTP client would.
 * @throws ApiError 400 for a value JSON cannot carry (a cycle, a BigInt, a bare `undefined`)
 */
function asJson(value: unknown): JsonValue {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw badRequest(`the body cannot be written as JSON: ${(error as Error).message}`);
  }
  if (text === undefined) throw badRequest('the body is missing');
  return JSON.parse(text) as JsonValue;
}

/** Go's JSON type names, for decode errors that read like upstream's. */
function goType(value: JsonValue): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'object') return 'object';
  return typeof value;
}

/**
 * Checks the types of the metadata fields a decoder would refuse (upstream answers 400 when the
 * JSON does not fit `ObjectMeta`).
 */
function checkMetadataTypes(resource: ResourceType, object: JsonObject): void {
  const metadata = field(object, 'metadata');
  if (metadata === undefined || metadata === null) return;
  const where = `${resource.kind}.metadata`;
  if (!isJsonObject(metadata)) throw badRequest(`json: cannot unmarshal ${goType(metadata)} into Go struct field ${where} of type v1.ObjectMeta`);
  for (const key of ['name', 'generateName', 'namespace', 'uid', 'resourceVersion', 'creationTimestamp', 'deletionTimestamp']) {
    const value = field(metadata, key);
    if (value !== undefined && value !== null && typeof value !== 'string') {
      throw badRequest(`json: cannot unmarshal ${goType(value)} into Go struct field ${where}.${key} of type string`);
    }
  }
  for (const key of ['labels', 'annotations']) {
    const value = field(metadata, key);
    if (value === undefined || value === null) continue;
    if (!isJsonObject(value)) throw badRequest(`json: cannot unmarshal ${goType(value)} into Go struct field ${where}.${key} of type map[string]string`);
    for (const [k, v] of Object.entries(value)) {
      if (typeof v !== 'string') throw badRequest(`json: cannot unmarshal ${goType(v)} into Go struct field ${where}.${key} of type string (key ${JSON.stringify(k)})`);
    }
  }
  const finalizers = field(metadata, 'finalizers');
  if (finalizers !== undefined && finalizers !== null && (!Array.isArray(finalizers) || !finalizers.every((f) => typeof f === 'string'))) {
    throw badRequest(`json: cannot unmarshal ${goType(finalizers)} into Go struct field ${where}.finalizers of type []string`);
  }
}

/** `ValidateObjectMeta`: name, labels, annotations; plus the kind's own rules. */
function validateObject(resource: ResourceType, object: JsonObject): FieldError[] {
  const errors: FieldError[] = [];
  const metadata = metadataOf(object);
  const name = stringField(metadata, 'name') ?? '';
  if (name === '') {
    errors.push({ type: 'FieldValueRequired', field: 'metadata.name', detail: 'name or generateName is required' });
  } else {
    const reason = resource.nameRule === 'dns1123-label' ? dns1123LabelReason(name) : dns1123SubdomainReason(name);
    if (reason !== undefined) errors.push({ type: 'FieldValueInvalid', field: 'metadata.name', detail: reason, value: name });
  }
  for (const [key, value] of labelsOf(object)) {
    const keyProblem = labelKeyProblem(key);
    if (keyProblem !== undefined) errors.push({ type: 'FieldValueInvalid', field: 'metadata.labels', detail: keyProblem, value: key });
    const valueProblem = labelValueProblem(value);
    if (valueProblem !== undefined) errors.push({ type: 'FieldValueInvalid', field: `metadata.labels[${key}]`, detail: valueProblem, value });
  }
  const annotations = field(metadata, 'annotations');
  if (isJsonObject(annotations)) {
    let size = 0;
    for (const [key, value] of Object.entries(annotations)) {
      const keyProblem = labelKeyProblem(key);
      if (keyProblem !== undefined) errors.push({ type: 'FieldValueInvalid', field: 'metadata.annotations', detail: keyProblem, value: key });
      size += key.length + (typeof value === 'string' ? value.length : 0);
    }
    if (size > 256 * 1024) {
      errors.push({ type: 'FieldValueInvalid', field: 'metadata.annotations', detail: 'must have at most 262144 bytes', value: '' });
    }
  }
  return [...errors, ...resource.validate(object)];
}

/**
 * The cluster's objects with the API server's rules. Every method throws {@link ApiError} for the
 * failures the real server reports (404, 409, 422, …); the returned objects are copies.
 */
export class Store {
  private readonly storage: VersionedStorage;
  private readonly now: () => Date;

  constructor(options: StoreOptions = {}) {
    this.storage = new VersionedStorage(options.historyLimit ?? 1000);
    this.now = options.now ?? (() => new Date());
    for (const name of [...INITIAL_NAMESPACES, ...(options.namespaces ?? [])]) {
      if (this.storage.get(NAMESPACES, name) === undefined) this.create(NAMESPACES, '', { metadata: { name } });
    }
  }

  /** The latest `resourceVersion`, as the decimal string clients see. */
  get resourceVersion(): string {
    return String(this.storage.currentRevision);
  }

  /** Hears every write, in order, synchronously. Returns the function that stops listening. */
  subscribe(listener: ChangeListener): () => void {
    return this.storage.subscribe(listener);
  }

  /** Changes after `revision`, or the oldest retained revision when history no longer reaches back. */
  changesSince(resource: ResourceType, revision: number): ReturnType<VersionedStorage['changesSince']> {
    return this.storage.changesSince(resource, revision);
  }

  /** Current objects of a resource type, frozen, in key order (for watches' initial events). */
  currentObjects(resource: ResourceType): readonly JsonObject[] {
    return this.storage.current(resource).map((e) => e.object);
  }

  /** Drops all change history (so watches and paged lists from older versions get 410). */
  compact(): void {
    this.storage.compact();
  }

  setHistoryLimit(limit: number): void {
    this.storage.setHistoryLimit(limit);
  }

  // -------------------------------------------------------------------------------------------
  // Reads

  private scopeNamespace(resource: ResourceType, namespace: string): string {
    return resource.namespaced ? namespace : '';
  }

  /** One object. @throws ApiError 404 */
  get(resource: ResourceType, namespace: string, name: string): JsonObject {
    const found = this.storage.get(resource, objectKey(this.scopeNamespace(resource, namespace), name));
    if (found === undefined) throw notFound(resource, name);
    return clone(found);
  }

  /** One object, or `undefined`. */
  find(resource: ResourceType, namespace: string, name: string): JsonObject | undefined {
    const found = this.storage.get(resource, objectKey(this.scopeNamespace(resource, namespace), name));
    return found === undefined ? undefined : clone(found);
  }

  /**
   * Lists with selectors and paging, with the apiserver's `resourceVersion` semantics: latest when
   * unset, any (here: latest) for `"0"`, the exact snapshot for `resourceVersionMatch=Exact` or a
   * revision with `limit`, and a continued list reads the snapshot its first page read.
   * @throws ApiError 400 for bad options, 410 when the snapshot is no longer in history, 504 for a
   *   revision from the future
   */
  list(resource: ResourceType, options: ListOptions = {}): ListResult {
    const labelSelector = options.labelSelector ?? [];
    const fieldSelector = options.fieldSelector ?? [];
    checkFieldLabels(fieldSelector, resource.fieldLabels);
    const limit = options.limit ?? 0;
    if (!Number.isInteger(limit) || limit < 0) throw badRequest(`limit must be a non-negative integer, got ${limit}`);

    let revision = this.storage.currentRevision;
    let startAfter = '';
    const rvParam = options.resourceVersion ?? '';
    const match = options.resourceVersionMatch ?? '';
    if (match !== '' && match !== 'Exact' && match !== 'NotOlderThan') {
      throw badRequest(`resourceVersionMatch: Unsupported value: ${JSON.stringify(match)}: supported values: "Exact", "NotOlderThan"`);
    }
    if (match !== '' && rvParam === '') throw badRequest('resourceVersionMatch is forbidden unless resourceVersion is provided');
    if (options.continue !== undefined && options.continue !== '') {
      if (rvParam !== '' && rvParam !== '0') throw badRequest('specifying resource version is not allowed when using continue');
      const token = decodeContinue(options.continue);
      revision = token.rv;
      startAfter = token.start;
    } else if (rvParam !== '' && rvParam !== '0') {
      const wanted = parseRevision(rvParam);
      if (wanted > this.storage.currentRevision) {
        throw timeout(`Too large resource version: ${wanted}, current: ${this.storage.currentRevision}`);
      }
      // A revision with a limit (and no match) is read exactly, as upstream's legacy rule says.
      if (match === 'Exact' || (match === '' && limit > 0)) revision = wanted;
    }

    const snapshot = this.storage.snapshot(resource, revision);
    if (snapshot === undefined) {
      const since = this.storage.changesSince(resource, revision);
      const oldest = since.complete ? revision : since.oldest;
      throw startAfter === ''
        ? expired(`too old resource version: ${revision} (${oldest})`)
        : expired(
            'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue value from the response to retrieve the remainder of the results.',
          );
    }
    const namespace = resource.namespaced ? (options.namespace ?? '') : '';
    const matching = snapshot.filter(
      ({ key, object }) =>
        key > startAfter &&
        (namespace === '' || metaString(object, 'namespace') === namespace) &&
        matchesLabels(labelSelector, labelsOf(object)) &&
        matchesFields(fieldSelector, object, resource.fieldLabels),
    );
    const page = limit > 0 ? matching.slice(0, limit) : matching;
    const items = page.map(({ object }) => {
      const item = clone(object);
      delete item['kind'];
      delete item['apiVersion'];
      return item;
    });
    const rest = matching.length - page.length;
    const last = page[page.length - 1];
    if (rest > 0 && last !== undefined) {
      const result: ListResult = { items, resourceVersion: String(revision), continue: encodeContinue(revision, last.key) };
      // Upstream counts the rest only when it can do so without filtering.
      return labelSelector.length === 0 && fieldSelector.length === 0 ? { ...result, remainingItemCount: rest } : result;
    }
    return { items, resourceVersion: String(revision) };
  }

  // -------------------------------------------------------------------------------------------
  // Writes

  private nowText(): string {
    return rfc3339Seconds(this.now());
  }

  /** Checks `kind`/`apiVersion` of a request body against the endpoint's. @throws ApiError 400 */
  private checkTypeMeta(resource: ResourceName & { apiVersion: string }, body: JsonObject): void {
    const apiVersion = field(body, 'apiVersion');
    const kind = field(body, 'kind');
    if (apiVersion !== undefined && apiVersion !== '' && apiVersion !== resource.apiVersion) {
      throw badRequest(`the API version in the data (${String(apiVersion)}) does not match the expected API version (${resource.apiVersion})`);
    }
    if (kind !== undefined && kind !== '' && kind !== resource.kind) {
      throw badRequest(`the object provided is unrecognized (must be of type ${resource.kind}): kind ${JSON.stringify(kind)} was sent to the ${resource.plural} endpoint`);
    }
  }

  /** Body checks shared by create and update; returns a working copy with type meta filled in. */
  private prepareBody(resource: ResourceType, namespace: string, body: unknown): JsonObject {
    const object = asJson(body);
    if (!isJsonObject(object)) throw badRequest(`the request body must be a JSON object (a ${resource.kind}), got ${goType(object)}`);
    this.checkTypeMeta(resource, object);
    checkMetadataTypes(resource, object);
    object['apiVersion'] = resource.apiVersion;
    object['kind'] = resource.kind;
    const metadata = metadataOf(object);
    if (resource.namespaced) {
      const given = stringField(metadata, 'namespace') ?? '';
      if (given !== '' && given !== namespace) {
        throw badRequest(`the namespace of the provided object (${given}) does not match the namespace sent on the request (${namespace})`);
      }
      metadata['namespace'] = namespace;
    } else {
      delete metadata['namespace'];
    }
    return object;
  }

  private requireNamespace(resource: ResourceType, namespace: string): void {
    if (!resource.namespaced) return;
    if (namespace === '') throw badRequest(`${resource.plural} are namespaced: a namespace is required`);
    if (this.storage.get(NAMESPACES, namespace) === undefined) throw notFound(NAMESPACES, namespace);
  }

  private generateName(resource: ResourceType, namespace: string, prefix: string): string {
    for (let attempt = 0; attempt < 16; attempt++) {
      let suffix = '';
      for (let i = 0; i < 5; i++) suffix += NAME_SUFFIX_ALPHABET[Math.floor(Math.random() * NAME_SUFFIX_ALPHABET.length)];
      const name = `${prefix.slice(0, 58)}${suffix}`;
      if (this.storage.get(resource, objectKey(namespace, name)) === undefined) return name;
    }
    throw alreadyExists(resource, `${prefix}?????`);
  }

  /**
   * Creates an object (`POST`). `generateName` is honoured; `uid`, timestamps, `generation` and
   * `resourceVersion` are set by the server; the kind's defaults apply (a pod's status is reset to
   * `Pending`).
   * @throws ApiError 400 (malformed body, wrong kind, namespace mismatch, resourceVersion set),
   *   404 (namespace missing), 409 `AlreadyExists`, 422 `Invalid`
   */
  create(resource: ResourceType, namespace: string, body: unknown, options: { keepStatus?: boolean } = {}): JsonObject {
    const scope = this.scopeNamespace(resource, namespace);
    const object = this.prepareBody(resource, scope, body);
    const metadata = metadataOf(object);
    if ((stringField(metadata, 'resourceVersion') ?? '') !== '') throw badRequest('resourceVersion should not be set on objects to be created');
    const generateName = stringField(metadata, 'generateName') ?? '';
    if ((stringField(metadata, 'name') ?? '') === '' && generateName !== '') metadata['name'] = this.generateName(resource, scope, generateName);
    const givenStatus = field(object, 'status');
    resource.prepareForCreate(object);
    if (options.keepStatus === true && givenStatus !== undefined) object['status'] = givenStatus;
    for (const key of ['uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'selfLink', 'managedFields']) deleteField(metadata, key);
    const name = stringField(metadata, 'name') ?? '';
    const errors = validateObject(resource, object);
    if (errors.length > 0) throw invalid(resource, name, errors);
    this.requireNamespace(resource, scope);
    const key = objectKey(scope, name);
    if (this.storage.get(resource, key) !== undefined) throw alreadyExists(resource, name);

    metadata['uid'] = randomUUID();
    metadata['creationTimestamp'] = this.nowText();
    metadata['generation'] = 1;
    metadata['resourceVersion'] = String(this.storage.nextRevision());
    return clone(this.storage.commit('ADDED', resource, key, object).object);
  }

  /** Preconditions carried in an object's metadata: a set, stale `resourceVersion` or a foreign `uid` conflict. */
  private checkPreconditions(resource: ResourceType, name: string, incoming: JsonObject, existing: JsonObject): void {
    const rv = metaString(incoming, 'resourceVersion');
    if (rv !== '' && rv !== metaString(existing, 'resourceVersion')) throw conflict(resource, name, STALE_OBJECT);
    const uid = metaString(incoming, 'uid');
    const have = metaString(existing, 'uid');
    if (uid !== '' && uid !== have) throw conflict(resource, name, `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${have}`);
  }

  /**
   * Writes `next` over `existing` unless nothing changed; bumps `generation` on spec changes and
   * completes a deletion whose last finalizer went away.
   */
  private commitUpdate(resource: ResourceType, key: string, existing: JsonObject, next: JsonObject): JsonObject {
    const metadata = metadataOf(next);
    metadata['resourceVersion'] = metaString(existing, 'resourceVersion');
    if (jsonEqual(next, existing)) return clone(existing);
    const generation = metaField(existing, 'generation');
    const previousGeneration = typeof generation === 'number' ? generation : 1;
    metadata['generation'] = jsonEqual(specPart(next), specPart(existing)) ? previousGeneration : previousGeneration + 1;
    metadata['resourceVersion'] = String(this.storage.nextRevision());
    const written = this.storage.commit('MODIFIED', resource, key, next).object;
    const finalizers = field(metadata, 'finalizers');
    const held = Array.isArray(finalizers) && finalizers.length > 0;
    if (!held && metaString(written, 'deletionTimestamp') !== '') return this.remove(resource, key, written);
    return clone(written);
  }

  /** Removes an object for good; the `DELETED` event and the result carry the deletion's revision. */
  private remove(resource: ResourceType, key: string, existing: JsonObject): JsonObject {
    const gone = clone(existing);
    metadataOf(gone)['resourceVersion'] = String(this.storage.nextRevision());
    return clone(this.storage.commit('DELETED', resource, key, gone).object);
  }

  /**
   * Replaces an object (`PUT`). The body's `resourceVersion`, when set, must be the stored one.
   * Kinds with a `status` subresource keep their status; kinds that allow it (leases, events) are
   * created when missing.
   * @throws ApiError 400, 404, 409 `Conflict`, 422
   */
  update(resource: ResourceType, namespace: string, name: string, body: unknown): { object: JsonObject; created: boolean } {
    const scope = this.scopeNamespace(resource, namespace);
    const object = this.prepareBody(resource, scope, body);
    const metadata = metadataOf(object);
    const bodyName = stringField(metadata, 'name') ?? '';
    if (bodyName !== name) throw badRequest(`the name of the object (${bodyName}) does not match the name on the URL (${name})`);
    const key = objectKey(scope, name);
    const existing = this.storage.get(resource, key);
    if (existing === undefined) {
      if (!resource.allowCreateOnUpdate) throw notFound(resource, name);
      delete metadata['resourceVersion'];
      return { object: this.create(resource, scope, object), created: true };
    }
    this.checkPreconditions(resource, name, object, existing);
    for (const k of ['uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'generation']) {
      const value = metaField(existing, k);
      if (value === undefined) deleteField(metadata, k);
      else setField(metadata, k, value);
    }
    delete metadata['selfLink'];
    delete metadata['managedFields'];
    if (hasStatusSubresource(resource)) {
      const status = field(existing, 'status');
      if (status === undefined) delete object['status'];
      else object['status'] = clone(status);
    }
    const errors = validateObject(resource, object);
    if (errors.length > 0) throw invalid(resource, name, errors);
    return { object: this.commitUpdate(resource, key, existing, object), created: false };
  }

  /**
   * Replaces only the status (`PUT …/status`); metadata and spec changes in the body are ignored,
   * as upstream's status strategies do.
   * @throws ApiError 400, 404, 409 `Conflict`
   */
  updateStatus(resource: ResourceType, namespace: string, name: string, body: unknown): JsonObject {
    const scope = this.scopeNamespace(resource, namespace);
    const object = this.prepareBody(resource, scope, body);
    const bodyName = metaString(object, 'name');
    if (bodyName !== name) throw badRequest(`the name of the object (${bodyName}) does not match the name on the URL (${name})`);
    const key = objectKey(scope, name);
    const existing = this.storage.get(resource, key);
    if (existing === undefined) throw notFound(resource, name);
    this.checkPreconditions(resource, name, object, existing);
    const next = clone(existing);
    const status = field(object, 'status');
    if (status === undefined) delete next['status'];
    else next['status'] = status;
    return this.commitUpdate(resource, key, existing, next);
  }

  /**
   * Patches an object (`PATCH`, or `PATCH …/status` with `subresource: 'status'`): the patch
   * applies to the stored object and the result is written as an update would be, so a patch
   * carrying a stale `metadata.resourceVersion` is a 409 `Conflict`.
   * @throws ApiError 400 (malformed patch), 404, 409, 422 (patch does not apply, invalid result)
   */
  patch(resource: ResourceType, namespace: string, name: string, type: PatchType, patch: unknown, subresource?: 'status'): JsonObject {
    const scope = this.scopeNamespace(resource, namespace);
    const existing = this.storage.get(resource, objectKey(scope, name));
    if (existing === undefined) throw notFound(resource, name);
    const patched = applyPatch(type, existing, asJson(patch));
    if (!isJsonObject(patched)) throw new ApiError(422, 'Invalid', `the patch turns the ${resource.kind} into a JSON ${goType(patched)}; it must stay an object`);
    if (subresource === 'status') return this.updateStatus(resource, scope, name, patched);
    return this.update(resource, scope, name, patched).object;
  }

  /**
   * Deletes an object. One with finalizers is only marked (`deletionTimestamp`) and stays until
   * they are removed; a namespace takes its objects with it.
   * @throws ApiError 404, 409 when a precondition fails
   */
  delete(resource: ResourceType, namespace: string, name: string, preconditions: DeletePreconditions = {}): DeleteResult {
    const scope = this.scopeNamespace(resource, namespace);
    const key = objectKey(scope, name);
    const existing = this.storage.get(resource, key);
    if (existing === undefined) throw notFound(resource, name);
    const uid = metaString(existing, 'uid');
    if (preconditions.uid !== undefined && preconditions.uid !== uid) {
      throw conflict(resource, name, `Precondition failed: UID in precondition: ${preconditions.uid}, UID in object meta: ${uid}`);
    }
    const rv = metaString(existing, 'resourceVersion');
    if (preconditions.resourceVersion !== undefined && preconditions.resourceVersion !== rv) {
      throw conflict(resource, name, `Precondition failed: ResourceVersion in precondition: ${preconditions.resourceVersion}, ResourceVersion in object meta: ${rv}`);
    }
    const finalizers = metaField(existing, 'finalizers');
    if (Array.isArray(finalizers) && finalizers.length > 0) {
      if (metaString(existing, 'deletionTimestamp') !== '') return { object: clone(existing), deleted: false };
      const marked = clone(existing);
      const metadata = metadataOf(marked);
      metadata['deletionTimestamp'] = this.nowText();
      metadata['deletionGracePeriodSeconds'] = 0;
      metadata['resourceVersion'] = String(this.storage.nextRevision());
      return { object: clone(this.storage.commit('MODIFIED', resource, key, marked).object), deleted: false };
    }
    if (resource === NAMESPACES) {
      // Upstream's namespace controller empties a terminating namespace in the background; here
      // it happens at once, finalizers of the contents notwithstanding.
      for (const other of RESOURCES) {
        if (!other.namespaced) continue;
        for (const entry of this.storage.current(other)) {
          if (metaString(entry.object, 'namespace') === name) this.remove(other, entry.key, entry.object);
        }
      }
    }
    return { object: this.remove(resource, key, existing), deleted: true };
  }

  /**
   * Deletes every object that a list with the same options would return (`DELETE` on a
   * collection). Returns the deleted (or finalizer-marked) objects.
   */
  deleteCollection(resource: ResourceType, options: ListOptions): JsonObject[] {
    const { items } = this.list(resource, { ...options, limit: 0, continue: '' });
    return items.map((item) => this.delete(resource, metaString(item, 'namespace'), metaString(item, 'name')).object);
  }

  /**
   * Binds a pod to a node (`POST pods/<name>/binding`): sets `spec.nodeName`, copies the binding's
   * annotations onto the pod and marks it `PodScheduled`, as upstream's `BindingREST` does.
   * @throws ApiError 400 (name mismatch, malformed body), 404 (pod missing), 409 (already bound,
   *   being deleted, uid precondition), 422 (target missing or not a Node)
   */
  bind(namespace: string, podName: string, request: unknown): JsonObject {
    const body = asJson(request);
    if (!isJsonObject(body)) throw badRequest(`the request body must be a JSON object (a Binding), got ${goType(body)}`);
    this.checkTypeMeta({ ...BINDING_KIND, apiVersion: 'v1' }, body);
    const metadata = field(body, 'metadata');
    const bindingName = isJsonObject(metadata) ? (stringField(metadata, 'name') ?? '') : '';
    if (bindingName !== podName) throw badRequest('name in URL does not match name in Binding object');
    const target = field(body, 'target');
    const targetKind = isJsonObject(target) ? (stringField(target, 'kind') ?? '') : '';
    const nodeName = isJsonObject(target) ? (stringField(target, 'name') ?? '') : '';
    const errors: FieldError[] = [];
    if (targetKind !== '' && targetKind !== 'Node') {
      errors.push({ type: 'FieldValueNotSupported', field: 'target.kind', detail: 'supported values: "Node", "<empty>"', value: targetKind });
    }
    if (nodeName === '') errors.push({ type: 'FieldValueRequired', field: 'target.name', detail: '' });
    if (errors.length > 0) throw invalid(BINDING_KIND, podName, errors);

    const key = objectKey(namespace, podName);
    const existing = this.storage.get(PODS, key);
    if (existing === undefined) throw notFound(PODS, podName);
    const uid = isJsonObject(metadata) ? (stringField(metadata, 'uid') ?? '') : '';
    if (uid !== '' && uid !== metaString(existing, 'uid')) {
      throw conflict(POD_BINDING, podName, `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${metaString(existing, 'uid')}`);
    }
    if (metaString(existing, 'deletionTimestamp') !== '') {
      throw conflict(POD_BINDING, podName, `pod ${podName} is being deleted, cannot be assigned to a host`);
    }
    const next = clone(existing);
    const spec = objectField(next, 'spec');
    const bound = stringField(spec, 'nodeName') ?? '';
    if (bound !== '') throw conflict(POD_BINDING, podName, `pod ${podName} is already assigned to node ${JSON.stringify(bound)}`);
    spec['nodeName'] = nodeName;
    const annotations = isJsonObject(metadata) ? field(metadata, 'annotations') : undefined;
    if (isJsonObject(annotations)) {
      const podAnnotations = objectField(metadataOf(next), 'annotations');
      for (const [k, v] of Object.entries(annotations)) setField(podAnnotations, k, v);
    }
    const status = objectField(next, 'status');
    const conditions = Array.isArray(field(status, 'conditions')) ? (field(status, 'conditions') as JsonValue[]) : [];
    const scheduled: JsonObject = { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: this.nowText() };
    const at = conditions.findIndex((c) => isJsonObject(c) && field(c, 'type') === 'PodScheduled');
    if (at >= 0) conditions[at] = scheduled;
    else conditions.push(scheduled);
    status['conditions'] = conditions;
    return this.commitUpdate(PODS, key, existing, next);
  }

  /**
   * Test access: creates the object, or replaces it when it exists, status included (no
   * `resourceVersion` precondition unless the object carries one). For seeding a cluster in a
   * given state, e.g. a running pod, without a kubelet; it still validates and emits watch events.
   */
  put(resource: ResourceType, value: unknown): JsonObject {
    const object = asJson(value);
    if (!isJsonObject(object)) throw badRequest(`put: the object must be a JSON object (a ${resource.kind}), got ${goType(object)}`);
    const metadata = field(object, 'metadata');
    const namespace = isJsonObject(metadata) ? (stringField(metadata, 'namespace') ?? (resource.namespaced ? 'default' : '')) : '';
    const name = isJsonObject(metadata) ? (stringField(metadata, 'name') ?? '') : '';
    const existing = name === '' ? undefined : this.storage.get(resource, objectKey(this.scopeNamespace(resource, namespace), name));
    if (existing === undefined) return this.create(resource, namespace, object, { keepStatus: true });
    const updated = this.update(resource, namespace, name, object).object;
    const status = field(object, 'status');
    if (!hasStatusSubresource(resource) || status === undefined) return updated;
    return this.updateStatus(resource, namespace, name, { ...updated, status });
  }
}

/** A `resourceVersion` query value as a revision. @throws ApiError 400 */
export function parseRevision(text: string): number {
  if (!/^[0-9]{1,15}$/.test(text)) throw badRequest(`resourceVersion: Invalid value: ${JSON.stringify(text)}: must be a decimal revision`);
  return Number(text);
}

/** `continue` tokens, in upstream's shape: base64 of `{"v":"meta.k8s.io/v1","rv":N,"start":"key\u0000"}`. */
function encodeContinue(revision: number, lastKey: string): string {
  return Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv: revision, start: `${lastKey}\u0000` })).toString('base64url');
}

function decodeContinue(token: string): { rv: number; start: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw badRequest(`continue key is not valid: ${JSON.stringify(token.slice(0, 40))} is not a token this server issued`);
  }
  if (!isJsonObject(parsed) || field(parsed, 'v') !== 'meta.k8s.io/v1') throw badRequest('continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1 required)');
  const rv = field(parsed, 'rv');
  const start = field(parsed, 'start');
  if (typeof rv !== 'number' || !Number.isInteger(rv) || rv <= 0 || typeof start !== 'string') throw badRequest('continue key is not valid: missing or malformed rv/start');
  // The start key is inclusive upstream and carries a trailing NUL; here it is "after this key".
  return { rv, start: start.endsWith('\u0000') ? start.slice(0, -1) : start };
}

