/**
 * The three patch formats of `PATCH` requests, as pure functions on JSON values:
 *
 * - `application/merge-patch+json`: RFC 7386 JSON Merge Patch. Objects merge key by key, `null`
 *   deletes a key, anything else (arrays included) replaces.
 * - `application/json-patch+json`: RFC 6902 JSON Patch, all six operations, applied atomically
 *   (a failed `test` or a missing path leaves the object untouched).
 * - `application/strategic-merge-patch+json`: the subset of Kubernetes' strategic merge patch that
 *   needs no OpenAPI schema. Maps merge as in a merge patch; lists whose field upstream declares
 *   `patchStrategy: merge` merge element-by-element on their merge key (see
 *   {@link LIST_MERGE_KEYS}); every other list is replaced. The directives `$patch` (`replace`,
 *   `delete`), `$retainKeys`, `$deleteFromPrimitiveList/<field>` and `$setElementOrder/<field>`
 *   (read, but order is not changed) are understood.
 *
 * Malformed patch documents are 400 `BadRequest`; a patch that cannot be applied to this object is
 * 422 `Invalid`, as the apiserver answers.
 */
import { clone, deleteField, field, isJsonObject, jsonEqual, setField, type JsonObject, type JsonValue } from './json.js';
import { ApiError, badRequest } from './status.js';

/** Media types of the patch formats, as sent in `Content-Type`. */
export const PATCH_TYPES = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  strategic: 'application/strategic-merge-patch+json',
} as const;

export type PatchType = keyof typeof PATCH_TYPES;

function unprocessable(message: string): ApiError {
  return new ApiError(422, 'Invalid', message, { causes: [{ message }] });
}

// ---------------------------------------------------------------------------------------------
// RFC 7386

/**
 * Applies a JSON Merge Patch (RFC 7386 §2) and returns the result; `target` is not modified.
 */
export function applyMergePatch(target: JsonValue, patch: JsonValue): JsonValue {
  if (!isJsonObject(patch)) return clone(patch);
  const result: JsonObject = isJsonObject(target) ? clone(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) {
      deleteField(result, key);
    } else {
      setField(result, key, applyMergePatch(field(result, key) ?? null, value));
    }
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// RFC 6902

export type JsonPatchOperation =
  | { readonly op: 'add' | 'replace' | 'test'; readonly path: string; readonly value: JsonValue }
  | { readonly op: 'remove'; readonly path: string }
  | { readonly op: 'move' | 'copy'; readonly from: string; readonly path: string };

/**
 * Reads a JSON Patch document: an array of operation objects.
 * @throws ApiError 400 naming the operation index and the missing or wrong member
 */
export function parseJsonPatch(document: JsonValue): JsonPatchOperation[] {
  if (!Array.isArray(document)) throw badRequest('json patch: the body must be a JSON array of operations');
  return document.map((item, i): JsonPatchOperation => {
    const where = `json patch operation ${i}`;
    if (!isJsonObject(item)) throw badRequest(`${where}: must be an object`);
    const op = field(item, 'op');
    const path = field(item, 'path');
    if (typeof path !== 'string') throw badRequest(`${where}: "path" must be a string`);
    switch (op) {
      case 'add':
      case 'replace':
      case 'test': {
        const value = field(item, 'value');
        if (value === undefined) throw badRequest(`${where} (${op}): "value" is required`);
        return { op, path, value };
      }
      case 'remove':
        return { op, path };
      case 'move':
      case 'copy': {
        const from = field(item, 'from');
        if (typeof from !== 'string') throw badRequest(`${where} (${op}): "from" must be a string`);
        return { op, from, path };
      }
      default:
        throw badRequest(`${where}: unknown "op" ${JSON.stringify(op)}; expected add, remove, replace, move, copy or test`);
    }
  });
}

/** RFC 6901 pointer to reference tokens. */
function pointerTokens(pointer: string, where: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw unprocessable(`${where}: path ${JSON.stringify(pointer)} must be empty or start with "/"`);
  return pointer
    .slice(1)
    .split('/')
    .map((token) => {
      if (/~[^01]|~$/.test(token)) throw unprocessable(`${where}: path ${JSON.stringify(pointer)} has an invalid "~" escape`);
      return token.replaceAll('~1', '/').replaceAll('~0', '~');
    });
}

const ARRAY_INDEX = /^(0|[1-9][0-9]*)$/;

function arrayIndex(token: string, length: number, allowEnd: boolean, where: string, pointer: string): number {
  if (allowEnd && token === '-') return length;
  if (!ARRAY_INDEX.test(token)) throw unprocessable(`${where}: ${JSON.stringify(token)} in ${pointer} is not an array index`);
  const index = Number(token);
  if (index > length || (!allowEnd && index === length)) {
    throw unprocessable(`${where}: index ${index} in ${pointer} is out of range (array length ${length})`);
  }
  return index;
}

/** The container holding the pointer's last token, and that token. */
function parentOf(doc: JsonValue, tokens: readonly string[], where: string, pointer: string): { parent: JsonValue; last: string } {
  let at: JsonValue = doc;
  for (const token of tokens.slice(0, -1)) {
    let next: JsonValue | undefined;
    if (Array.isArray(at)) next = ARRAY_INDEX.test(token) ? at[Number(token)] : undefined;
    else if (isJsonObject(at)) next = field(at, token);
    if (next === undefined) throw unprocessable(`${where}: path ${pointer} does not exist (missing ${JSON.stringify(token)})`);
    at = next;
  }
  return { parent: at, last: tokens[tokens.length - 1] ?? '' };
}

function getAt(doc: JsonValue, pointer: string, where: string): JsonValue {
  const tokens = pointerTokens(pointer, where);
  if (tokens.length === 0) return doc;
  const { parent, last } = parentOf(doc, tokens, where, pointer);
  let value: JsonValue | undefined;
  if (Array.isArray(parent)) value = ARRAY_INDEX.test(last) ? parent[Number(last)] : undefined;
  else if (isJsonObject(parent)) value = field(parent, last);
  if (value === undefined) throw unprocessable(`${where}: path ${pointer} does not exist`);
  return value;
}

/** Adds (or for objects sets) `value` at the pointer; returns the new document. */
function addAt(doc: JsonValue, pointer: string, value: JsonValue, where: string): JsonValue {
  const tokens = pointerTokens(pointer, where);
  if (tokens.length === 0) return value;
  const { parent, last } = parentOf(doc, tokens, where, pointer);
  if (Array.isArray(parent)) parent.splice(arrayIndex(last, parent.length, true, where, pointer), 0, value);
  else if (isJsonObject(parent)) setField(parent, last, value);
  else throw unprocessable(`${where}: the parent of ${pointer} is not an object or array`);
  return doc;
}

function removeAt(doc: JsonValue, pointer: string, where: string): JsonValue {
  const tokens = pointerTokens(pointer, where);
  if (tokens.length === 0) throw unprocessable(`${where}: cannot remove the whole document`);
  const { parent, last } = parentOf(doc, tokens, where, pointer);
  if (Array.isArray(parent)) {
    parent.splice(arrayIndex(last, parent.length, false, where, pointer), 1);
  } else if (isJsonObject(parent) && Object.hasOwn(parent, last)) {
    deleteField(parent, last);
  } else {
    throw unprocessable(`${where}: path ${pointer} does not exist`);
  }
  return doc;
}

/** Replaces the value at the pointer, which must exist; returns the new document. */
function replaceAt(doc: JsonValue, pointer: string, value: JsonValue, where: string): JsonValue {
  const tokens = pointerTokens(pointer, where);
  if (tokens.length === 0) return value;
  const { parent, last } = parentOf(doc, tokens, where, pointer);
  if (Array.isArray(parent)) parent[arrayIndex(last, parent.length, false, where, pointer)] = value;
  else if (isJsonObject(parent) && Object.hasOwn(parent, last)) setField(parent, last, value);
  else throw unprocessable(`${where}: path ${pointer} does not exist`);
  return doc;
}

/**
 * Applies a JSON Patch (RFC 6902 §4) and returns the result; `target` is not modified. The whole
 * patch applies or none of it does.
 * @throws ApiError 422 naming the failing operation (index and op) and why, e.g. a `test` whose
 *   value differs
 */
export function applyJsonPatch(target: JsonValue, operations: readonly JsonPatchOperation[]): JsonValue {
  let doc = clone(target);
  operations.forEach((operation, i) => {
    const where = `json patch operation ${i} (${operation.op} ${operation.path})`;
    switch (operation.op) {
      case 'add':
        doc = addAt(doc, operation.path, clone(operation.value), where);
        break;
      case 'remove':
        doc = removeAt(doc, operation.path, where);
        break;
      case 'replace':
        doc = replaceAt(doc, operation.path, clone(operation.value), where);
        break;
      case 'move': {
        if (operation.path !== operation.from && operation.path.startsWith(`${operation.from}/`)) {
          throw unprocessable(`${where}: cannot move ${operation.from} into its own child ${operation.path}`);
        }
        const value = getAt(doc, operation.from, where);
        doc = addAt(removeAt(doc, operation.from, where), operation.path, value, where);
        break;
      }
      case 'copy':
        doc = addAt(doc, operation.path, clone(getAt(doc, operation.from, where)), where);
        break;
      case 'test': {
        const actual = getAt(doc, operation.path, where);
        if (!jsonEqual(actual, operation.value)) {
          throw unprocessable(`${where}: test failed: the value is ${JSON.stringify(actual)}, not ${JSON.stringify(operation.value)}`);
        }
        break;
      }
    }
  });
  return doc;
}

// ---------------------------------------------------------------------------------------------
// Strategic merge patch (schema-free subset)

/**
 * Lists that merge rather than replace, by field name, with their merge key (`patchMergeKey` in
 * the Kubernetes API types). `null` marks a list of scalars merged as a set (`finalizers`).
 * A field name means the same list wherever it appears in the served kinds.
 */
export const LIST_MERGE_KEYS: Readonly<Record<string, string | null>> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  volumes: 'name',
  env: 'name',
  imagePullSecrets: 'name',
  volumeMounts: 'mountPath',
  ports: 'containerPort',
  hostAliases: 'ip',
  conditions: 'type',
  addresses: 'type',
  ownerReferences: 'uid',
  finalizers: null,
};

const DELETE_FROM_PRIMITIVE_LIST = '$deleteFromPrimitiveList/';
const SET_ELEMENT_ORDER = '$setElementOrder/';

function mergeKeyOf(name: string): string | null | undefined {
  return Object.hasOwn(LIST_MERGE_KEYS, name) ? LIST_MERGE_KEYS[name] : undefined;
}

function withoutDirectives(value: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(value)) if (!k.startsWith('$')) setField(out, k, clone(v));
  return out;
}

function mergeList(original: JsonValue | undefined, patch: JsonValue[], name: string, path: string): JsonValue {
  const key = mergeKeyOf(name);
  if (key === undefined || !Array.isArray(original)) {
    // Replaced wholesale; directive elements are not data.
    return patch.filter((item) => !(isJsonObject(item) && field(item, '$patch') !== undefined)).map((item) => (isJsonObject(item) ? withoutDirectives(item) : clone(item)));
  }
  if (key === null) {
    const result = clone(original);
    for (const item of patch) if (!result.some((have) => jsonEqual(have, item))) result.push(clone(item));
    return result;
  }
  if (patch.some((item) => isJsonObject(item) && field(item, '$patch') === 'replace')) {
    return patch.filter((item) => !(isJsonObject(item) && field(item, '$patch') === 'replace')).map((item) => (isJsonObject(item) ? withoutDirectives(item) : clone(item)));
  }
  let result = clone(original);
  patch.forEach((item, i) => {
    const where = `${path}[${i}]`;
    if (!isJsonObject(item)) throw badRequest(`strategic merge patch: ${where} must be an object with merge key ${JSON.stringify(key)}`);
    const id = field(item, key);
    if (id === undefined) throw badRequest(`strategic merge patch: ${where} lacks its merge key ${JSON.stringify(key)}`);
    const at = result.findIndex((have) => isJsonObject(have) && jsonEqual(field(have, key), id));
    const directive = field(item, '$patch');
    if (directive === 'delete') {
      if (at >= 0) result = result.filter((_, j) => j !== at);
      return;
    }
    if (directive !== undefined) throw badRequest(`strategic merge patch: ${where}: unknown $patch ${JSON.stringify(directive)}`);
    if (at < 0) result.push(withoutDirectives(item));
    else result[at] = strategicMerge(result[at] ?? null, item, where);
  });
  return result;
}

function strategicMerge(original: JsonValue, patch: JsonObject, path: string): JsonValue {
  const directive = field(patch, '$patch');
  if (directive === 'replace') return withoutDirectives(patch);
  if (directive !== undefined) throw badRequest(`strategic merge patch: ${path || '<root>'}: unsupported $patch ${JSON.stringify(directive)} on a map`);
  const result: JsonObject = isJsonObject(original) ? clone(original) : {};

  const retain = field(patch, '$retainKeys');
  if (retain !== undefined) {
    if (!Array.isArray(retain) || !retain.every((k) => typeof k === 'string')) {
      throw badRequest(`strategic merge patch: ${path || '<root>'}.$retainKeys must be a list of strings`);
    }
    for (const key of Object.keys(result)) if (!retain.includes(key)) deleteField(result, key);
  }
  for (const [key, value] of Object.entries(patch)) {
    const at = path === '' ? key : `${path}.${key}`;
    if (key.startsWith(DELETE_FROM_PRIMITIVE_LIST)) {
      const listName = key.slice(DELETE_FROM_PRIMITIVE_LIST.length);
      const list = field(result, listName);
      if (!Array.isArray(value)) throw badRequest(`strategic merge patch: ${at} must be a list`);
      if (Array.isArray(list)) setField(result, listName, list.filter((have) => !value.some((v) => jsonEqual(v, have))));
      continue;
    }
    if (key.startsWith(SET_ELEMENT_ORDER) || key === '$retainKeys') continue;
    if (key.startsWith('$')) throw badRequest(`strategic merge patch: ${at}: unknown directive ${JSON.stringify(key)}`);
    if (value === null) {
      deleteField(result, key);
    } else if (isJsonObject(value)) {
      if (field(value, '$patch') === 'delete') deleteField(result, key);
      else setField(result, key, strategicMerge(field(result, key) ?? null, value, at));
    } else if (Array.isArray(value)) {
      setField(result, key, mergeList(field(result, key), value, key, at));
    } else {
      setField(result, key, value);
    }
  }
  return result;
}

/**
 * Applies a strategic merge patch (the schema-free subset described above) and returns the
 * result; `target` is not modified.
 * @throws ApiError 400 for a patch that is not an object, an unknown directive, or a merge-list
 *   element without its merge key
 */
export function applyStrategicMergePatch(target: JsonValue, patch: JsonValue): JsonValue {
  if (!isJsonObject(patch)) throw badRequest('strategic merge patch: the body must be a JSON object');
  return strategicMerge(target, patch, '');
}

/**
 * Applies a patch of the given type to an object.
 * @throws ApiError 400 for a malformed patch, 422 for one that does not apply
 */
export function applyPatch(type: PatchType, target: JsonObject, patch: JsonValue): JsonValue {
  switch (type) {
    case 'merge':
      return applyMergePatch(target, patch);
    case 'json':
      return applyJsonPatch(target, parseJsonPatch(patch));
    case 'strategic':
      return applyStrategicMergePatch(target, patch);
  }
}

/** The patch type for a request's `Content-Type` (parameters ignored), or `undefined`. */
export function patchTypeOf(contentType: string): PatchType | undefined {
  const media = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  for (const [type, name] of Object.entries(PATCH_TYPES) as [PatchType, string][]) if (name === media) return type;
  return undefined;
}
