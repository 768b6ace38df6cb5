/**
 * Failures as the Kubernetes API reports them: a `v1.Status` body with `reason`, `code` and
 * `details`, sent with the matching HTTP status. Clients branch on these (client-node's informer
 * relists on 410, controllers retry on 409 `Conflict` but not on 409 `AlreadyExists`), so the
 * reasons, codes and message shapes follow `k8s.io/apimachinery/pkg/api/errors`.
 */
import { TesseraError } from '../core/errors.js';
import type { JsonObject } from './json.js';

/** `metav1.StatusReason` values this server produces. */
export type StatusReason =
  | 'BadRequest'
  | 'NotFound'
  | 'AlreadyExists'
  | 'Conflict'
  | 'Invalid'
  | 'Expired'
  | 'MethodNotAllowed'
  | 'NotAcceptable'
  | 'UnsupportedMediaType'
  | 'RequestEntityTooLarge'
  | 'TooManyRequests'
  | 'InternalError'
  | 'ServiceUnavailable'
  | 'Timeout';

/** `metav1.CauseType` values used for field errors. */
export type CauseType =
  | 'FieldValueRequired'
  | 'FieldValueInvalid'
  | 'FieldValueForbidden'
  | 'FieldValueNotSupported'
  | 'FieldValueDuplicate';

/** One field-level problem, as `field.Error` renders it into a `StatusCause`. */
export interface FieldError {
  readonly type: CauseType;
  /** Dotted path, e.g. `spec.containers[0].image`. */
  readonly field: string;
  /** The text after the type's prefix, e.g. `name or generateName is required`. */
  readonly detail: string;
  /** The offending value, quoted in the message for `FieldValueInvalid`. */
  readonly value?: string;
}

/** The part of a resource type that error messages name. */
export interface ResourceName {
  readonly group: string;
  readonly plural: string;
  readonly kind: string;
}

interface StatusCause {
  readonly reason: CauseType;
  readonly message: string;
  readonly field: string;
}

/** `metav1.StatusDetails`: which object the failure is about, and why in per-field detail. */
export interface StatusDetails {
  readonly name?: string;
  readonly group?: string;
  readonly kind?: string;
  readonly causes?: readonly { readonly reason?: string; readonly message: string; readonly field?: string }[];
  readonly retryAfterSeconds?: number;
}

/**
 * A request the server refuses. Handlers throw it; the HTTP layer turns it into the Status body
 * and status code, so no handler writes error responses itself.
 */
export class ApiError extends TesseraError {
  constructor(
    /** HTTP status code, also the Status `code`. */
    readonly httpCode: number,
    readonly reason: StatusReason,
    message: string,
    readonly details?: StatusDetails,
  ) {
    super('TESSERA_ERR_API_STATUS', message);
  }

  /** The `v1.Status` body for this error. */
  toStatus(): JsonObject {
    const status: JsonObject = {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
    };
    if (this.details !== undefined) status['details'] = detailsJson(this.details);
    status['code'] = this.httpCode;
    return status;
  }
}

function detailsJson(details: StatusDetails): JsonObject {
  const out: JsonObject = {};
  if (details.name !== undefined) out['name'] = details.name;
  if (details.group !== undefined && details.group !== '') out['group'] = details.group;
  if (details.kind !== undefined) out['kind'] = details.kind;
  if (details.causes !== undefined) {
    out['causes'] = details.causes.map((c) => {
      const cause: JsonObject = {};
      if (c.reason !== undefined) cause['reason'] = c.reason;
      cause['message'] = c.message;
      if (c.field !== undefined) cause['field'] = c.field;
      return cause;
    });
  }
  if (details.retryAfterSeconds !== undefined) out['retryAfterSeconds'] = details.retryAfterSeconds;
  return out;
}

/** `pods` or `leases.coordination.k8s.io`: how messages name a resource type. */
export function qualifiedResource(resource: ResourceName): string {
  return resource.group === '' ? resource.plural : `${resource.plural}.${resource.group}`;
}

function objectDetails(resource: ResourceName, name: string): StatusDetails {
  return { name, group: resource.group, kind: resource.plural };
}

export function notFound(resource: ResourceName, name: string): ApiError {
  return new ApiError(404, 'NotFound', `${qualifiedResource(resource)} "${name}" not found`, objectDetails(resource, name));
}

export function alreadyExists(resource: ResourceName, name: string): ApiError {
  return new ApiError(409, 'AlreadyExists', `${qualifiedResource(resource)} "${name}" already exists`, objectDetails(resource, name));
}

/**
 * 409 `Conflict`: the write lost a race or its precondition failed. `why` is the server's
 * explanation, e.g. {@link STALE_OBJECT}.
 */
export function conflict(resource: ResourceName, name: string, why: string): ApiError {
  return new ApiError(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${qualifiedResource(resource)} "${name}": ${why}`,
    objectDetails(resource, name),
  );
}

/** The apiserver's wording for an update whose `resourceVersion` is not the stored one. */
export const STALE_OBJECT = 'the object has been modified; please apply your changes to the latest version and try again';

const CAUSE_PREFIX: Readonly<Record<CauseType, string>> = {
  FieldValueRequired: 'Required value',
  FieldValueInvalid: 'Invalid value',
  FieldValueForbidden: 'Forbidden',
  FieldValueNotSupported: 'Unsupported value',
  FieldValueDuplicate: 'Duplicate value',
};

/** `field.Error.ErrorBody()`: `Required value: …` or `Invalid value: "x": …`. */
function causeMessage(error: FieldError): string {
  const prefix = CAUSE_PREFIX[error.type];
  const value = error.value === undefined ? '' : `: ${JSON.stringify(error.value)}`;
  return error.detail === '' ? `${prefix}${value}` : `${prefix}${value}: ${error.detail}`;
}

/**
 * 422 `Invalid`: `Pod "p" is invalid: metadata.name: Required value: …` (`Lease.coordination.k8s.io "l"`
 * for a named group), one cause per field
 * error; several errors are listed in brackets, as `errors.NewInvalid` does.
 */
export function invalid(resource: ResourceName, name: string, errors: readonly FieldError[]): ApiError {
  const causes: StatusCause[] = errors.map((e) => ({ reason: e.type, message: causeMessage(e), field: e.field }));
  const parts = causes.map((c) => `${c.field}: ${c.message}`);
  const list = parts.length === 1 ? (parts[0] ?? '') : `[${parts.join(', ')}]`;
  const qualifiedKind = resource.group === '' ? resource.kind : `${resource.kind}.${resource.group}`;
  return new ApiError(422, 'Invalid', `${qualifiedKind} ${JSON.stringify(name)} is invalid: ${list}`, {
    name,
    group: resource.group,
    kind: resource.kind,
    causes,
  });
}

export function badRequest(message: string): ApiError {
  return new ApiError(400, 'BadRequest', message);
}

/** 410 `Expired`: the requested `resourceVersion` is older than the retained history. */
export function expired(message: string): ApiError {
  return new ApiError(410, 'Expired', message);
}

export function methodNotAllowed(): ApiError {
  return new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
}

export function notAcceptable(): ApiError {
  return new ApiError(406, 'NotAcceptable', 'only the following media types are accepted: application/json');
}

export function unsupportedMediaType(contentType: string, accepted: readonly string[]): ApiError {
  return new ApiError(
    415,
    'UnsupportedMediaType',
    `the body of the request was in an unknown format (${JSON.stringify(contentType)}) - accepted media types include: ${accepted.join(', ')}`,
  );
}

export function requestEntityTooLarge(limit: number): ApiError {
  return new ApiError(413, 'RequestEntityTooLarge', `Request entity too large: limit is ${limit}`);
}

export function tooManyRequests(retryAfterSeconds: number): ApiError {
  return new ApiError(429, 'TooManyRequests', 'Too many requests, please try again later.', { retryAfterSeconds });
}

export function internalError(cause: string): ApiError {
  return new ApiError(500, 'InternalError', `Internal error occurred: ${cause}`, { causes: [{ message: cause }] });
}

export function timeout(message: string): ApiError {
  return new ApiError(504, 'Timeout', message);
}

/** The body of a successful delete of something with no object to return, or of a binding. */
export function successStatus(code: number): JsonObject {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code };
}
