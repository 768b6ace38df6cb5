/**
 * Request bodies: read with the apiserver's size limit and parsed by media type. Everything that
 * comes over the wire is checked here before a handler sees it, and every refusal is a Status.
 */
import type { IncomingMessage } from 'node:http';
import { parse as parseYaml } from 'yaml';
import type { JsonValue } from './json.js';
import { badRequest, requestEntityTooLarge, unsupportedMediaType } from './status.js';

/** The apiserver's request body limit (`MaxRequestBodyBytes`, 3 MiB). */
export const MAX_REQUEST_BODY_BYTES = 3 * 1024 * 1024;

/** Media types accepted for create and update bodies. */
export const OBJECT_MEDIA_TYPES = ['application/json', 'application/yaml'] as const;

/** The media type of a `Content-Type` header, lower-cased and without parameters. */
export function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

/**
 * Reads the whole body, refusing more than `limit` bytes (declared or sent) with 413. What the
 * client still sends after a refusal is discarded by Node's HTTP server.
 */
export async function readBody(request: IncomingMessage, limit = MAX_REQUEST_BODY_BYTES): Promise<Buffer> {
  const declared = Number(request.headers['content-length'] ?? '0');
  if (declared > limit) throw requestEntityTooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const bytes = chunk as Buffer;
    size += bytes.length;
    if (size > limit) throw requestEntityTooLarge(limit);
    chunks.push(bytes);
  }
  return Buffer.concat(chunks);
}

/**
 * Parses a body as JSON, or YAML when the media type says so. `what` names the request in the
 * error (`POST /api/v1/namespaces/default/pods`).
 * @throws ApiError 400 `BadRequest` naming the problem; 415 for another media type
 */
export function parseObjectBody(bytes: Buffer, contentType: string | undefined, what: string): JsonValue {
  const media = mediaType(contentType);
  if (media === 'application/yaml') {
    try {
      return parseYaml(bytes.toString('utf8')) as JsonValue;
    } catch (error) {
      throw badRequest(`${what}: the body is not valid YAML: ${(error as Error).message}`);
    }
  }
  if (media !== '' && media !== 'application/json' && media !== '*/*') throw unsupportedMediaType(media, OBJECT_MEDIA_TYPES);
  return parseJson(bytes, what);
}

/** Parses JSON. @throws ApiError 400 naming where parsing failed */
export function parseJson(bytes: Buffer, what: string): JsonValue {
  const text = bytes.toString('utf8');
  if (text.trim() === '') throw badRequest(`${what}: the request body is empty; a JSON object is required`);
  try {
    return JSON.parse(text) as JsonValue;
  } catch (error) {
    throw badRequest(`${what}: the request body is not valid JSON: ${(error as Error).message}`);
  }
}
