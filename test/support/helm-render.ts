/**
 * A renderer for the subset of Helm's template language that `deploy/helm/tessera` uses, so the
 * chart can be tested where no `helm` binary exists. It is not Helm: it implements exactly the
 * constructs below and throws on anything else, so a template that strays outside the subset
 * fails the test instead of rendering differently from Helm. docs/deploy.md lists the same subset.
 *
 * Supported:
 * - actions `{{ … }}` with the trim markers `{{- ` and ` -}}`, and comments `{{/* … *\/}}`
 *   (also `{{- /* … *\/ -}}`); an action must not contain `}}` inside a string;
 * - `{{ if PIPELINE }} … {{ else }} … {{ end }}` (no `else if`), `{{ define "name" }} … {{ end }}`
 *   (any file; files whose name starts with `_` produce no output);
 * - variables: `{{ $x := PIPELINE }}`, `{{ $x = PIPELINE }}`, `$x`, `$x.Field`; one scope per
 *   template (Go ends a variable declared inside `if` at its `end`; the chart never relies on it);
 * - operands: `.`, `.A.B.C` (Values, Release, Chart), string literals, integers, `nil`, `true`,
 *   `false`, `( PIPELINE )`; pipelines `a | f x | g`, the piped value passed as the last argument;
 * - functions: include, toYaml, indent, nindent, quote, default, printf (%s %d %v), trunc,
 *   trimSuffix, b64enc, list, int, not, genCA, genSignedCert (both through the `openssl` command;
 *   {@link OpensslMissingError} when it is absent).
 *
 * Stricter than Helm, on purpose: a missing value printed (Helm prints nothing), a map or list
 * printed without toYaml, and a field of a missing value are errors.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';

export type Value = unknown;

/** What `.` holds at the top of each template. */
export interface RenderContext {
  readonly Values: Record<string, Value>;
  readonly Release: { readonly Name: string; readonly Namespace: string; readonly Service: string };
  readonly Chart: { readonly Name: string; readonly Version: string; readonly AppVersion: string };
}

export interface RenderOptions {
  readonly releaseName?: string;
  readonly namespace?: string;
  /** Deep-merged over values.yaml, as `helm --set`/`-f` would (maps merge, everything else replaces). */
  readonly values?: Record<string, Value>;
}

/** A template construct outside the supported subset, or a value error, with the file named. */
export class TemplateError extends Error {}

/** genCA/genSignedCert need the `openssl` command. */
export class OpensslMissingError extends TemplateError {}

// ---------------------------------------------------------------------------------------------
// Parsing

type Token =
  | { readonly t: 'str'; readonly v: string }
  | { readonly t: 'num'; readonly v: number }
  | { readonly t: 'lit'; readonly v: null | boolean }
  | { readonly t: 'field'; readonly path: readonly string[] }
  | { readonly t: 'var'; readonly name: string; readonly path: readonly string[] }
  | { readonly t: 'ident'; readonly name: string }
  | { readonly t: '(' | ')' | '|' | ':=' | '=' };

type Operand = Exclude<Token, { t: '(' | ')' | '|' | ':=' | '=' | 'ident' }> | { readonly t: 'sub'; readonly pipe: Pipeline };
type Command = { readonly fn: string; readonly args: readonly Operand[] } | { readonly fn: undefined; readonly args: readonly [Operand] };
type Pipeline = readonly Command[];

type Node =
  | { readonly k: 'text'; readonly text: string }
  | { readonly k: 'print'; readonly pipe: Pipeline }
  | { readonly k: 'assign'; readonly name: string; readonly pipe: Pipeline }
  | { readonly k: 'if'; readonly pipe: Pipeline; readonly then: readonly Node[]; readonly otherwise: readonly Node[] };

interface Segment {
  readonly text: string;
  /** The action's inner text, or undefined for a comment or for the text after the last action. */
  readonly action: string | undefined;
}

/** Splits a template into text and actions, applying the trim markers. */
function segments(source: string, file: string): Segment[] {
  const out: { text: string; action: string | undefined; trimAfter: boolean }[] = [];
  let pos = 0;
  let text = '';
  let trimNext = false;
  for (;;) {
    const open = source.indexOf('{{', pos);
    let chunk = source.slice(pos, open === -1 ? undefined : open);
    if (trimNext) chunk = chunk.replace(/^\s+/, '');
    text += chunk;
    if (open === -1) break;
    const close = source.indexOf('}}', open);
    if (close === -1) throw new TemplateError(`${file}: unclosed action at offset ${String(open)}`);
    let inner = source.slice(open + 2, close);
    if (/^-\s/.test(inner)) {
      text = text.replace(/\s+$/, '');
      inner = inner.slice(1);
    }
    trimNext = /\s-$/.test(inner);
    if (trimNext) inner = inner.slice(0, -1);
    inner = inner.trim();
    const comment = inner.startsWith('/*');
    if (comment && !inner.endsWith('*/')) throw new TemplateError(`${file}: a comment must end with */ right before }}`);
    out.push({ text, action: comment ? undefined : inner, trimAfter: trimNext });
    text = '';
    pos = close + 2;
  }
  out.push({ text, action: undefined, trimAfter: false });
  return out.map(({ text: t, action }) => ({ text: t, action }));
}

function tokenize(action: string, file: string): Token[] {
  const tokens: Token[] = [];
  const re = /\s*(?:("(?:[^"\\]|\\.)*")|(-?\d+)|(\$[A-Za-z_]\w*)((?:\.[A-Za-z_]\w*)*)|((?:\.[A-Za-z_]\w*)+|\.)|([A-Za-z_]\w*)|(:=|[()|=]))/y;
  let pos = 0;
  while (pos < action.length) {
    if (/^\s*$/.test(action.slice(pos))) break;
    re.lastIndex = pos;
    const m = re.exec(action);
    if (m === null) throw new TemplateError(`${file}: cannot read {{ ${action} }} at "${action.slice(pos)}" (outside the supported subset)`);
    pos = re.lastIndex;
    const [, str, num, varName, varPath, field, ident, punct] = m;
    if (str !== undefined) tokens.push({ t: 'str', v: JSON.parse(str) as string });
    else if (num !== undefined) tokens.push({ t: 'num', v: Number(num) });
    else if (varName !== undefined) tokens.push({ t: 'var', name: varName, path: (varPath ?? '').split('.').filter(Boolean) });
    else if (field !== undefined) tokens.push({ t: 'field', path: field.split('.').filter(Boolean) });
    else if (ident === 'nil') tokens.push({ t: 'lit', v: null });
    else if (ident === 'true' || ident === 'false') tokens.push({ t: 'lit', v: ident === 'true' });
    else if (ident !== undefined) tokens.push({ t: 'ident', name: ident });
    else tokens.push({ t: punct as '(' | ')' | '|' | ':=' | '=' });
  }
  return tokens;
}

function parsePipeline(tokens: Token[], file: string, source: string): Pipeline {
  let i = 0;
  const fail = (why: string): never => {
    throw new TemplateError(`${file}: {{ ${source} }}: ${why}`);
  };
  const operand = (): Operand => {
    const token = tokens[i++] ?? fail('expression ends early');
    if (token.t === '(') {
      const pipe = pipeline();
      if (tokens[i++]?.t !== ')') fail('missing )');
      return { t: 'sub', pipe };
    }
    if (token.t === 'str' || token.t === 'num' || token.t === 'lit' || token.t === 'field' || token.t === 'var') return token;
    return fail(`unexpected ${token.t}`);
  };
  const command = (): Command => {
    const first = tokens[i];
    if (first?.t === 'ident') {
      i++;
      const args: Operand[] = [];
      while (i < tokens.length && tokens[i]?.t !== '|' && tokens[i]?.t !== ')') args.push(operand());
      return { fn: first.name, args };
    }
    return { fn: undefined, args: [operand()] };
  };
  const pipeline = (): Pipeline => {
    const commands: Command[] = [command()];
    while (tokens[i]?.t === '|') {
      i++;
      commands.push(command());
    }
    return commands;
  };
  const result = pipeline();
  if (i !== tokens.length) fail('unexpected tokens after the expression');
  return result;
}

interface Parsed {
  readonly body: readonly Node[];
  readonly defines: ReadonlyMap<string, readonly Node[]>;
}

function parseTemplate(source: string, file: string): Parsed {
  const defines = new Map<string, readonly Node[]>();
  const segs = segments(source, file);
  let i = 0;
  /** Parses nodes until `end`/`else` (returned) or the end of input (undefined). */
  const block = (): { nodes: Node[]; stop: 'end' | 'else' | undefined } => {
    const nodes: Node[] = [];
    while (i < segs.length) {
      const seg = segs[i++];
      if (seg === undefined) break;
      if (seg.text !== '') nodes.push({ k: 'text', text: seg.text });
      const action = seg.action;
      if (action === undefined) continue;
      if (action === 'end' || action === 'else') return { nodes, stop: action };
      const words = action.split(/\s+/);
      const keyword = words[0];
      if (keyword === 'if') {
        const pipe = parsePipeline(tokenize(action.slice(2), file), file, action);
        const then = block();
        let otherwise: Node[] = [];
        if (then.stop === 'else') {
          const rest = block();
          if (rest.stop !== 'end') throw new TemplateError(`${file}: {{ else }} without {{ end }}`);
          otherwise = rest.nodes;
        } else if (then.stop !== 'end') throw new TemplateError(`${file}: {{ if }} without {{ end }}`);
        nodes.push({ k: 'if', pipe, then: then.nodes, otherwise });
      } else if (keyword === 'define') {
        const name = /^define\s+("(?:[^"\\]|\\.)*")$/.exec(action)?.[1];
        if (name === undefined) throw new TemplateError(`${file}: {{ ${action} }}: define takes one quoted name`);
        const body = block();
        if (body.stop !== 'end') throw new TemplateError(`${file}: {{ define }} without {{ end }}`);
        defines.set(JSON.parse(name) as string, body.nodes);
      } else if (['range', 'with', 'template', 'block', 'else if', 'break', 'continue'].includes(keyword ?? '') || action.startsWith('else ')) {
        throw new TemplateError(`${file}: {{ ${action} }} is outside the supported subset`);
      } else {
        const tokens = tokenize(action, file);
        const [first, second] = tokens;
        if (first?.t === 'var' && first.path.length === 0 && (second?.t === ':=' || second?.t === '=')) {
          nodes.push({ k: 'assign', name: first.name, pipe: parsePipeline(tokens.slice(2), file, action) });
        } else {
          nodes.push({ k: 'print', pipe: parsePipeline(tokens, file, action) });
        }
      }
    }
    return { nodes, stop: undefined };
  };
  const top = block();
  if (top.stop !== undefined) throw new TemplateError(`${file}: {{ ${top.stop} }} without {{ if }} or {{ define }}`);
  return { body: top.nodes, defines };
}

// ---------------------------------------------------------------------------------------------
// Evaluation

function isMap(v: Value): v is Record<string, Value> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Go templates' and Sprig's emptiness: false, 0, nil, "", empty list or map. */
function truthy(v: Value): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (isMap(v)) return Object.keys(v).length > 0;
  return true;
}

function goString(v: Value, where: string): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v === undefined || v === null) throw new TemplateError(`${where}: prints a missing value (helm would print nothing)`);
  throw new TemplateError(`${where}: prints a map or list; use toYaml`);
}

function indentText(n: number, s: string): string {
  const pad = ' '.repeat(n);
  return pad + s.replaceAll('\n', `\n${pad}`);
}

function openssl(args: readonly string[]): void {
  try {
    execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new OpensslMissingError('genCA/genSignedCert need the openssl command, which is not on PATH');
    throw error;
  }
}

interface KeyPair {
  readonly Cert: string;
  readonly Key: string;
}

/** Sprig's genCA: a self-signed CA certificate and its RSA key, PEM. */
function genCA(cn: string, days: number): KeyPair {
  const dir = mkdtempSync(join(tmpdir(), 'helm-render-'));
  try {
    openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.crt'), '-days', String(days), '-subj', `/CN=${cn}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,digitalSignature,keyEncipherment']);
    return { Cert: readFileSync(join(dir, 'ca.crt'), 'utf8'), Key: readFileSync(join(dir, 'ca.key'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Sprig's genSignedCert: a serving certificate for cn, the IPs and DNS names, signed by ca. */
function genSignedCert(cn: string, ips: Value, names: Value, days: number, ca: Value): KeyPair {
  if (!isMap(ca) || typeof ca['Cert'] !== 'string' || typeof ca['Key'] !== 'string') throw new TemplateError('genSignedCert: the CA must come from genCA');
  const list = (v: Value): string[] => (v === null || v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)]);
  const san = [...list(names).map((n) => `DNS:${n}`), ...list(ips).map((ip) => `IP:${ip}`)];
  const dir = mkdtempSync(join(tmpdir(), 'helm-render-'));
  try {
    writeFileSync(join(dir, 'ca.crt'), ca['Cert']);
    writeFileSync(join(dir, 'ca.key'), ca['Key']);
    writeFileSync(join(dir, 'ext.cnf'), `${san.length > 0 ? `subjectAltName=${san.join(',')}\n` : ''}extendedKeyUsage=serverAuth,clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n`);
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'tls.key'), '-out', join(dir, 'tls.csr'), '-subj', `/CN=${cn}`]);
    openssl(['x509', '-req', '-in', join(dir, 'tls.csr'), '-CA', join(dir, 'ca.crt'), '-CAkey', join(dir, 'ca.key'), '-CAcreateserial', '-days', String(days),
      '-extfile', join(dir, 'ext.cnf'), '-out', join(dir, 'tls.crt')]);
    return { Cert: readFileSync(join(dir, 'tls.crt'), 'utf8'), Key: readFileSync(join(dir, 'tls.key'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

class Renderer {
  constructor(private readonly defines: ReadonlyMap<string, readonly Node[]>) {}

  run(nodes: readonly Node[], dot: Value, file: string, vars = new Map<string, Value>()): string {
    let out = '';
    for (const node of nodes) {
      if (node.k === 'text') out += node.text;
      else if (node.k === 'print') out += goString(this.pipe(node.pipe, dot, vars, file), file);
      else if (node.k === 'assign') vars.set(node.name, this.pipe(node.pipe, dot, vars, file));
      else out += this.run(truthy(this.pipe(node.pipe, dot, vars, file)) ? node.then : node.otherwise, dot, file, vars);
    }
    return out;
  }

  private operand(op: Operand, dot: Value, vars: Map<string, Value>, file: string): Value {
    switch (op.t) {
      case 'str':
      case 'num':
      case 'lit':
        return op.v;
      case 'sub':
        return this.pipe(op.pipe, dot, vars, file);
      case 'field':
        return walk(dot, op.path, '.', file);
      case 'var': {
        if (!vars.has(op.name)) throw new TemplateError(`${file}: undefined variable ${op.name}`);
        return walk(vars.get(op.name), op.path, op.name, file);
      }
    }
  }

  private pipe(pipeline: Pipeline, dot: Value, vars: Map<string, Value>, file: string): Value {
    let result: Value;
    pipeline.forEach((command, index) => {
      const args = command.args.map((a) => this.operand(a, dot, vars, file));
      if (index > 0) args.push(result);
      if (command.fn === undefined) {
        if (index > 0) throw new TemplateError(`${file}: only a function may follow |`);
        result = args[0];
      } else {
        result = this.call(command.fn, args, file);
      }
    });
    return result;
  }

  private call(fn: string, args: Value[], file: string): Value {
    const where = `${file}: ${fn}`;
    const str = (v: Value): string => goString(v, where);
    const num = (v: Value): number => {
      const n = typeof v === 'number' ? v : Number(str(v));
      if (!Number.isFinite(n)) throw new TemplateError(`${where}: not a number: ${String(v)}`);
      return Math.trunc(n);
    };
    const arity = (n: number): void => {
      if (args.length !== n) throw new TemplateError(`${where}: takes ${String(n)} arguments, got ${String(args.length)}`);
    };
    switch (fn) {
      case 'include': {
        arity(2);
        const body = this.defines.get(str(args[0]));
        if (body === undefined) throw new TemplateError(`${where}: no template named ${String(args[0])}`);
        return this.run(body, args[1], `${file} (include ${str(args[0])})`);
      }
      case 'toYaml':
        arity(1);
        // YAML 1.1 quoting, as Go's yaml (Helm's toYaml) does: "on", "yes", "y" stay strings
        // for a YAML 1.1 reader such as the kubelet's, instead of turning into booleans.
        return stringifyYaml(args[0] ?? null, { sortMapEntries: true, lineWidth: 0, version: '1.1' }).replace(/\n$/, '');
      case 'indent':
        arity(2);
        return indentText(num(args[0]), str(args[1]));
      case 'nindent':
        arity(2);
        return `\n${indentText(num(args[0]), str(args[1]))}`;
      case 'quote':
        return args.filter((a) => a !== null && a !== undefined).map((a) => JSON.stringify(str(a))).join(' ');
      case 'default':
        arity(2);
        return truthy(args[1]) ? args[1] : args[0];
      case 'printf': {
        const [format, ...rest] = args;
        let k = 0;
        return str(format).replace(/%[sdv%]/g, (spec) => (spec === '%%' ? '%' : str(rest[k++])));
      }
      case 'trunc':
        arity(2);
        return str(args[1]).slice(0, num(args[0]));
      case 'trimSuffix': {
        arity(2);
        const [suffix, s] = [str(args[0]), str(args[1])];
        return suffix !== '' && s.endsWith(suffix) ? s.slice(0, -suffix.length) : s;
      }
      case 'b64enc':
        arity(1);
        return Buffer.from(str(args[0])).toString('base64');
      case 'list':
        return args;
      case 'int':
        arity(1);
        return num(args[0]);
      case 'not':
        arity(1);
        return !truthy(args[0]);
      case 'genCA':
        arity(2);
        return genCA(str(args[0]), num(args[1]));
      case 'genSignedCert':
        arity(5);
        return genSignedCert(str(args[0]), args[1], args[2], num(args[3]), args[4]);
      default:
        throw new TemplateError(`${where}: function outside the supported subset`);
    }
  }
}

function walk(from: Value, path: readonly string[], start: string, file: string): Value {
  let v = from;
  let at = start;
  for (const key of path) {
    if (!isMap(v)) throw new TemplateError(`${file}: ${at}.${key}: ${at} is ${v === undefined || v === null ? 'missing' : 'not a map'}`);
    v = v[key];
    at = at === '.' ? `.${key}` : `${at}.${key}`;
  }
  return v;
}

// ---------------------------------------------------------------------------------------------
// Charts

function deepMerge(base: Record<string, Value>, over: Record<string, Value>): Record<string, Value> {
  const out: Record<string, Value> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    out[key] = isMap(current) && isMap(value) ? deepMerge(current, value) : value;
  }
  return out;
}

/** One rendered template file: its path under the chart and its text. */
export interface RenderedFile {
  readonly path: string;
  readonly text: string;
}

/**
 * Renders every template of a chart, as `helm template` would, with values.yaml merged under
 * `options.values`. Files under `templates/` whose names start with `_` only define templates;
 * files that render to whitespace are left out.
 */
export function renderChart(chartDir: string, options: RenderOptions = {}): RenderedFile[] {
  const chart = parseYaml(readFileSync(join(chartDir, 'Chart.yaml'), 'utf8')) as Record<string, Value>;
  const defaults = (parseYaml(readFileSync(join(chartDir, 'values.yaml'), 'utf8')) ?? {}) as Record<string, Value>;
  const context: RenderContext = {
    Values: deepMerge(defaults, options.values ?? {}),
    Release: { Name: options.releaseName ?? 'tessera', Namespace: options.namespace ?? 'kube-system', Service: 'Helm' },
    Chart: { Name: String(chart['name']), Version: String(chart['version']), AppVersion: String(chart['appVersion']) },
  };
  const dir = join(chartDir, 'templates');
  const files = readdirSync(dir).filter((f) => /\.(ya?ml|tpl)$/.test(f)).sort();
  const parsed = files.map((f) => ({ path: `templates/${f}`, ...parseTemplate(readFileSync(join(dir, f), 'utf8'), `templates/${f}`) }));
  const defines = new Map<string, readonly Node[]>();
  for (const p of parsed) for (const [name, body] of p.defines) defines.set(name, body);
  const renderer = new Renderer(defines);
  return parsed
    .filter((p) => !basename(p.path).startsWith('_'))
    .map((p) => ({ path: p.path, text: renderer.run(p.body, context, p.path) }))
    .filter((f) => f.text.trim() !== '');
}
