/**
 * The project's error classes. Outcomes that are part of normal operation (a pod that does not
 * fit a node) are values, not exceptions; these are for input that cannot be used. Every error
 * carries a stable, greppable `code` and names what was wrong and where.
 */

export type TesseraErrorCode =
  | 'TESSERA_ERR_DECODE'
  | 'TESSERA_ERR_REQUEST'
  | 'TESSERA_ERR_CONFIG'
  | 'TESSERA_ERR_REGION_FORMAT'
  | 'TESSERA_ERR_INPUT'
  | 'TESSERA_ERR_API_STATUS'
  | 'TESSERA_ERR_KUBE_API'
  | 'TESSERA_ERR_DISCOVERY'
  | 'TESSERA_ERR_ALLOCATE';

export class TesseraError extends Error {
  constructor(
    readonly code: TesseraErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Longest piece of offending text quoted in a message: annotations can be large. */
const QUOTE_LIMIT = 120;

/** Quotes untrusted text for an error message, shortened and with control characters escaped. */
export function quote(text: string): string {
  const shown = text.length > QUOTE_LIMIT ? `${text.slice(0, QUOTE_LIMIT)}…` : text;
  return JSON.stringify(shown);
}

/**
 * An annotation or other wire value that does not decode. `field` names the part of the format
 * (e.g. `hami.io/vgpu-devices-allocated[1][0].usedmem`), `text` is the offending text.
 */
export class DecodeError extends TesseraError {
  constructor(
    readonly field: string,
    readonly text: string,
    reason: string,
  ) {
    super('TESSERA_ERR_DECODE', `${field}: ${reason} (got ${quote(text)})`);
  }
}

/** A pod whose GPU request cannot be honoured as written: names the container and the field. */
export class RequestError extends TesseraError {
  constructor(
    readonly container: string,
    readonly field: string,
    readonly value: string,
    reason: string,
  ) {
    super('TESSERA_ERR_REQUEST', `container ${quote(container)}: ${field}=${quote(value)} ${reason}`);
  }
}

/** A configuration file or value that cannot be used: names the key path and the value. */
export class ConfigError extends TesseraError {
  constructor(
    readonly source: string,
    readonly path: string,
    readonly value: string,
    reason: string,
  ) {
    super('TESSERA_ERR_CONFIG', `${source}: ${path}=${quote(value)} ${reason}`);
  }
}

/**
 * A data file (a trace, a results table) that cannot be used: names the file, the line, the
 * column and the offending value, so the user can open the file at that spot.
 */
export class InputError extends TesseraError {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly column: string,
    readonly value: string,
    reason: string,
  ) {
    super('TESSERA_ERR_INPUT', `${file}:${String(line)}: ${column}=${quote(value)} ${reason}`);
  }
}
