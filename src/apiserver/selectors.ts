/**
 * Label and field selectors, parsed and matched as `k8s.io/apimachinery`'s `labels.Parse` and
 * `fields.ParseSelector` do. Pure functions: the list, watch and delete-collection paths share them,
 * and their tests are tables of selector text, labels and the expected match.
 *
 * Label selector grammar (requirements joined by `,`, all must hold):
 * `key`, `!key`, `key=value`, `key==value`, `key!=value`, `key in (a,b)`, `key notin (a,b)`,
 * `key>1`, `key<1`. `!=` and `notin` also match objects without the label, as upstream.
 *
 * Field selector grammar: `path=value`, `path==value`, `path!=value` joined by `,`; `\,`, `\=` and
 * `\\` escape those characters in values.
 */
import { field, isJsonObject, pathText, type JsonObject } from './json.js';
import type { FieldLabel } from './kinds.js';
import { ApiError, badRequest } from './status.js';

export type LabelOperator = 'exists' | '!' | '=' | '!=' | 'in' | 'notin' | 'gt' | 'lt';

export interface LabelRequirement {
  readonly key: string;
  readonly operator: LabelOperator;
  /** One value for `=`, `!=`, `gt`, `lt`; one or more for `in`/`notin`; none for `exists`/`!`. */
  readonly values: readonly string[];
}

/** Requirements that must all hold; empty matches everything. */
export type LabelSelector = readonly LabelRequirement[];

export type FieldOperator = '=' | '!=';

export interface FieldRequirement {
  readonly field: string;
  readonly operator: FieldOperator;
  readonly value: string;
}

export type FieldSelector = readonly FieldRequirement[];

// ---------------------------------------------------------------------------------------------
// Label selectors

type Token =
  | { readonly kind: 'word'; readonly text: string; readonly at: number }
  | { readonly kind: 'op'; readonly text: '!' | '=' | '==' | '!=' | '>' | '<' | '(' | ')' | ','; readonly at: number };

const SPECIAL = new Set(['!', '=', '>', '<', '(', ')', ',']);

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i] ?? '';
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (SPECIAL.has(c)) {
      const two = text.slice(i, i + 2);
      if (two === '==' || two === '!=') {
        tokens.push({ kind: 'op', text: two, at: i });
        i += 2;
      } else {
        tokens.push({ kind: 'op', text: c as '!' | '=' | '>' | '<' | '(' | ')' | ',', at: i });
        i++;
      }
      continue;
    }
    const start = i;
    while (i < text.length && !SPECIAL.has(text[i] ?? '') && !/\s/.test(text[i] ?? '')) i++;
    tokens.push({ kind: 'word', text: text.slice(start, i), at: start });
  }
  return tokens;
}

const NAME_PART = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Why `key` is not a label key (`[prefix/]name`), or `undefined`. */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.indexOf('/');
  const name = slash < 0 ? key : key.slice(slash + 1);
  if (slash >= 0) {
    const prefix = key.slice(0, slash);
    if (prefix === '' || prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix)) {
      return 'prefix part must be a DNS-1123 subdomain (lower-case alphanumerics, "-" and ".")';
    }
  }
  if (name === '') return 'name part must be non-empty';
  if (name.length > 63) return 'name part must be no more than 63 characters';
  if (!NAME_PART.test(name)) {
    return "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
  }
  return undefined;
}

/** Why `value` is not a label value (empty is allowed), or `undefined`. */
export function labelValueProblem(value: string): string | undefined {
  if (value === '') return undefined;
  if (value.length > 63) return 'must be no more than 63 characters';
  if (!NAME_PART.test(value)) {
    return "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
  }
  return undefined;
}

function selectorError(text: string, why: string): ApiError {
  return badRequest(`unable to parse requirement: labelSelector ${JSON.stringify(text)}: ${why}`);
}

/**
 * Parses a `labelSelector` query value.
 * @throws ApiError 400 `BadRequest` naming the selector and what is wrong with it
 */
export function parseLabelSelector(text: string): LabelSelector {
  const tokens = tokenize(text);
  const requirements: LabelRequirement[] = [];
  let i = 0;
  const peek = (): Token | undefined => tokens[i];
  const fail = (why: string): never => {
    throw selectorError(text, why);
  };
  const word = (what: string): string => {
    const t = tokens[i];
    if (t?.kind !== 'word') fail(`expected ${what} at ${t === undefined ? 'end of input' : `position ${t.at}`}`);
    i++;
    return (t as Token).text;
  };
  const checkKey = (key: string): void => {
    const problem = labelKeyProblem(key);
    if (problem !== undefined) fail(`key ${JSON.stringify(key)}: ${problem}`);
  };
  const checkValue = (value: string): void => {
    const problem = labelValueProblem(value);
    if (problem !== undefined) fail(`value ${JSON.stringify(value)}: ${problem}`);
  };

  if (tokens.length === 0) return [];
  for (;;) {
    const first = peek();
    if (first?.kind === 'op' && first.text === '!') {
      i++;
      const key = word('a label key after "!"');
      checkKey(key);
      requirements.push({ key, operator: '!', values: [] });
    } else {
      const key = word('a label key');
      checkKey(key);
      const op = peek();
      if (op === undefined || (op.kind === 'op' && op.text === ',')) {
        requirements.push({ key, operator: 'exists', values: [] });
      } else if (op.kind === 'word' && (op.text === 'in' || op.text === 'notin')) {
        i++;
        const open = peek();
        if (open?.kind !== 'op' || open.text !== '(') fail(`expected "(" after ${op.text}`);
        i++;
        const values: string[] = [];
        for (;;) {
          const t = peek();
          if (t === undefined) fail('missing ")" to close the value set');
          if (t?.kind === 'op' && t.text === ')') {
            i++;
            break;
          }
          if (t?.kind === 'op' && t.text === ',') {
            // An empty member between commas is the empty value, as upstream reads `in (a,,b)`.
            values.push('');
            i++;
            continue;
          }
          const value = word('a value in the set');
          checkValue(value);
          values.push(value);
          const after = peek();
          if (after?.kind === 'op' && after.text === ',') i++;
          else if (after?.kind !== 'op' || after.text !== ')') fail('expected "," or ")" in the value set');
        }
        if (values.length === 0) fail(`for '${op.text}' the set of values must not be empty`);
        requirements.push({ key, operator: op.text, values });
      } else if (op.kind === 'op' && ['=', '==', '!=', '>', '<'].includes(op.text)) {
        i++;
        const next = peek();
        // `a=` (nothing before the next `,` or the end) compares with the empty value.
        const value = next === undefined || (next.kind === 'op' && next.text === ',') ? '' : word('a value');
        if (op.text === '>' || op.text === '<') {
          if (!/^-?[0-9]+$/.test(value)) fail(`for '${op.text}' the value must be an integer, got ${JSON.stringify(value)}`);
          requirements.push({ key, operator: op.text === '>' ? 'gt' : 'lt', values: [value] });
        } else {
          checkValue(value);
          requirements.push({ key, operator: op.text === '!=' ? '!=' : '=', values: [value] });
        }
      } else {
        fail(`unexpected ${JSON.stringify(op.text)} at position ${op.at}; expected an operator (=, ==, !=, in, notin, >, <) or ","`);
      }
    }
    const sep = peek();
    if (sep === undefined) break;
    if (sep.kind !== 'op' || sep.text !== ',') fail(`expected "," at position ${sep.at}`);
    i++;
    if (peek() === undefined) fail('a requirement must follow ","');
  }
  return requirements;
}

/** The object's labels as a string map (non-string values are ignored, as they cannot be stored). */
export function labelsOf(object: JsonObject): ReadonlyMap<string, string> {
  const metadata = field(object, 'metadata');
  const labels = isJsonObject(metadata) ? field(metadata, 'labels') : undefined;
  const out = new Map<string, string>();
  if (isJsonObject(labels)) for (const [k, v] of Object.entries(labels)) if (typeof v === 'string') out.set(k, v);
  return out;
}

/** Whether labels satisfy every requirement of the selector. */
export function matchesLabels(selector: LabelSelector, labels: ReadonlyMap<string, string>): boolean {
  return selector.every(({ key, operator, values }) => {
    const value = labels.get(key);
    switch (operator) {
      case 'exists':
        return value !== undefined;
      case '!':
        return value === undefined;
      case '=':
      case 'in':
        return value !== undefined && values.includes(value);
      case '!=':
      case 'notin':
        return value === undefined || !values.includes(value);
      case 'gt':
      case 'lt': {
        if (value === undefined || !/^-?[0-9]+$/.test(value)) return false;
        const have = Number(value);
        const bound = Number(values[0]);
        return operator === 'gt' ? have > bound : have < bound;
      }
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Field selectors

/** Splits on `sep` outside backslash escapes, keeping the escapes for {@link unescapeValue}. */
function splitUnescaped(text: string, sep: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i] ?? '';
    if (c === '\\') {
      current += c + (text[i + 1] ?? '');
      i++;
    } else if (c === sep) {
      parts.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  parts.push(current);
  return parts;
}

function unescapeValue(text: string, selector: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i] ?? '';
    if (c !== '\\') {
      out += c;
      continue;
    }
    const next = text[i + 1];
    if (next !== '\\' && next !== ',' && next !== '=') {
      throw badRequest(`invalid field selector ${JSON.stringify(selector)}: invalid escape sequence ${JSON.stringify(c + (next ?? ''))}`);
    }
    out += next;
    i++;
  }
  return out;
}

/** Index of the first operator character outside an escape, or -1. */
function operatorIndex(term: string): number {
  for (let i = 0; i < term.length; i++) {
    const c = term[i];
    if (c === '\\') i++;
    else if (c === '=' || c === '!') return i;
  }
  return -1;
}

/**
 * Parses a `fieldSelector` query value. Which fields a kind supports is checked separately
 * ({@link checkFieldLabels}), since it depends on the resource.
 * @throws ApiError 400 `BadRequest` naming the selector and the bad term
 */
export function parseFieldSelector(text: string): FieldSelector {
  if (text.trim() === '') return [];
  return splitUnescaped(text, ',').map((term) => {
    const at = operatorIndex(term);
    if (at <= 0) throw badRequest(`invalid field selector ${JSON.stringify(text)}: ${JSON.stringify(term)} has no key and operator (=, ==, !=)`);
    const rest = term.slice(at);
    const [operator, length]: [FieldOperator, number] = rest.startsWith('!=')
      ? ['!=', 2]
      : rest.startsWith('==')
        ? ['=', 2]
        : rest.startsWith('=')
          ? ['=', 1]
          : ['=', -1];
    if (length < 0) throw badRequest(`invalid field selector ${JSON.stringify(text)}: ${JSON.stringify(term)} has no operator (=, ==, !=)`);
    return { field: term.slice(0, at).trim(), operator, value: unescapeValue(term.slice(at + length), text) };
  });
}

/**
 * Checks that every field of the selector is one the kind supports.
 * @throws ApiError 400 `field label not supported: …`, as upstream words it
 */
export function checkFieldLabels(selector: FieldSelector, labels: Readonly<Record<string, FieldLabel>>): void {
  for (const { field: name } of selector) {
    if (!Object.hasOwn(labels, name)) {
      throw badRequest(`field label not supported: ${name} (supported: ${Object.keys(labels).join(', ')})`);
    }
  }
}

/** Whether the object satisfies every field requirement. */
export function matchesFields(selector: FieldSelector, object: JsonObject, labels: Readonly<Record<string, FieldLabel>>): boolean {
  return selector.every(({ field: name, operator, value }) => {
    const label = Object.hasOwn(labels, name) ? labels[name] : undefined;
    if (label === undefined) return false;
    let have = pathText(object, label.path);
    if (have === '' && label.absent !== undefined) have = label.absent;
    return operator === '=' ? have === value : have !== value;
  });
}
