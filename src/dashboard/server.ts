/**
 * The dashboard, served by the scheduler on its metrics port:
 *
 * - `GET /ui`: the page. The server renders the totals and the waiting pods as HTML, so the page
 *   says something before (or without) JavaScript; the Preact island (`/ui/app.js`, `/ui/app.css`,
 *   built by `npm run build` into `dist/ui`) then fetches the document and follows the events.
 * - `GET /api/v1/dashboard`: the document (src/dashboard/view.ts) as JSON.
 * - `GET /api/v1/dashboard/events[?since=<version>]`: server-sent events, one document per change,
 *   at most one every `pushIntervalMs`; the first at once unless `since` is still current.
 * - `GET /api/v1/dashboard/what-if?gpus=&memory=&cores=&type=`: how many more pods of that shape fit.
 *
 * The totals are sampled every `historyIntervalMs` for the utilisation chart.
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { fileURLToPath } from 'node:url';

import type { ClusterState } from '../core/placement/cluster.js';
import type { Explanation } from '../scheduler/explain.js';
import { buildPending, namespacesOf, NodeViews, totalsOf, type PodIdentity, type WaitingPod } from './build-view.js';
import { TotalsHistory } from './history.js';
import type { NodeUsage } from './node-usage.js';
import type { DashboardView, Totals } from './view.js';
import { parseShape, whatIf } from './what-if.js';

const gzipAsync = promisify(gzip);

/** How long after the last request the document is still prepared ahead of the next. */
const WATCHED_MS = 5 * 60_000;

export const DASHBOARD_PATH = '/ui';
export const DASHBOARD_API = '/api/v1/dashboard';

/** `dist/ui` of this package, from src/dashboard and dist/dashboard alike. */
export const DEFAULT_BUNDLE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'ui');

export interface DashboardSources {
  readonly cluster: ClusterState;
  readonly owner: (key: string) => PodIdentity | undefined;
  readonly usage: (node: string) => NodeUsage | undefined;
  /** Pods waiting for this scheduler now. */
  readonly waiting: () => readonly WaitingPod[];
  readonly explanation: (namespace: string, name: string) => Explanation | undefined;
}

export interface DashboardOptions extends DashboardSources {
  /** Where app.js and app.css are. @default dist/ui of this package */
  readonly bundleDir?: string;
  /** @default 5000 */
  readonly historyIntervalMs?: number;
  /** Samples kept for the chart. @default 720 (an hour at 5 s) */
  readonly historySamples?: number;
  /** @default 2000 */
  readonly pushIntervalMs?: number;
  /** Open event streams at most, as each is sent the whole document on every change. @default 64 */
  readonly maxStreams?: number;
  readonly now?: () => Date;
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

function gib(mib: number): string {
  return `${(mib / 1024).toFixed(mib >= 10 * 1024 ? 0 : 1)} GiB`;
}

function share(part: number, whole: number): string {
  return whole === 0 ? '0%' : `${Math.round((100 * part) / whole)}%`;
}

/**
 * The page: a summary rendered here, readable at once and without JavaScript, and the bundle,
 * which fetches the document itself (parsed off the HTML parser, it is much quicker to load). The
 * fetch is started by a preload hint while the bundle loads.
 */
export function renderPage(view: DashboardView, bundleReady: boolean): string {
  const t = view.totals;
  const used = t.memoryUsedMiB === null ? 'not reported' : `${gib(t.memoryUsedMiB)} (${share(t.memoryUsedMiB, t.memoryMiB)})`;
  const pending = view.pending
    .slice(0, 50)
    .map((p) => `<li><b>${escapeHtml(`${p.namespace}/${p.name}`)}</b>: ${escapeHtml(p.reason)}</li>`)
    .join('');
  const notice = bundleReady
    ? ''
    : '<p class="notice">The interactive dashboard is not built here: run <code>npm run build</code> (it writes dist/ui). The summary below is live on reload.</p>';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tessera · GPU sharing</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${DASHBOARD_PATH}/app.css">
${bundleReady ? `<link rel="preload" href="${DASHBOARD_API}" as="fetch" crossorigin>` : ''}
</head>
<body>
<div id="app">
<h1>Tessera</h1>
${notice}
<p>${String(t.nodes)} nodes, ${String(t.gpus)} GPUs · memory allocated ${gib(t.memoryAllocatedMiB)} of ${gib(t.memoryMiB)} (${share(t.memoryAllocatedMiB, t.memoryMiB)}), used ${used} · cores allocated ${share(t.coresAllocated, t.cores)} · ${String(t.pods)} pods holding shares, ${String(t.pending)} pending</p>
<h2>Pending pods</h2>
<ul>${pending === '' ? '<li>none</li>' : pending}</ul>
</div>
${bundleReady ? `<script type="module" src="${DASHBOARD_PATH}/app.js"></script>` : ''}
</body>
</html>
`;
}

function send(response: ServerResponse, status: number, contentType: string, body: string | Buffer, head = false): void {
  response.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  response.end(head ? undefined : body);
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  send(response, status, 'application/json', JSON.stringify(body));
}

const ASSETS: Readonly<Record<string, string>> = { 'app.js': 'text/javascript; charset=utf-8', 'app.css': 'text/css; charset=utf-8' };

export class Dashboard {
  private readonly history: TotalsHistory;
  /** Each event stream, with the version it was last sent (or had). */
  private readonly clients = new Map<ServerResponse, number>();
  private readonly bundleDir: string;
  private readonly now: () => Date;
  private historyTimer: NodeJS.Timeout | undefined;
  private pushTimer: NodeJS.Timeout | undefined;
  private lastContent = '';
  private lastParts: { readonly nodes: readonly string[]; readonly rest: readonly string[] } | null = null;
  /** The current version's time and JSON, and its gzip once asked for. */
  private generatedAt = '';
  private json = '';
  private gzipped: { readonly version: number; readonly body: Promise<Buffer> } | null = null;
  /** When the page, the document or the stream was last asked for (Unix ms). */
  private lastRequestAt = 0;
  private version = 0;
  private readonly assets = new Map<string, Buffer | null>();
  private readonly nodeViews = new NodeViews();

  constructor(private readonly options: DashboardOptions) {
    this.history = new TotalsHistory(options.historySamples ?? 720);
    this.bundleDir = options.bundleDir ?? DEFAULT_BUNDLE_DIR;
    this.now = options.now ?? (() => new Date());
  }

  /** Starts sampling the totals (and pushing to any event stream). */
  start(): void {
    this.sample();
    this.historyTimer = setInterval(() => this.sample(), this.options.historyIntervalMs ?? 5000);
    this.historyTimer.unref();
  }

  stop(): void {
    clearInterval(this.historyTimer);
    clearInterval(this.pushTimer);
    this.pushTimer = undefined;
    for (const client of this.clients.keys()) client.end();
    this.clients.clear();
  }

  private totalsNow(): Totals {
    const nodes = this.nodeViews.build(this.options).views;
    return totalsOf(nodes, this.options.cluster.podCount(), this.options.waiting().length);
  }

  private sample(): void {
    this.history.record(this.now().getTime(), this.totalsNow());
    // Every sample makes a new version: while someone looks, prepare it now, off the path of
    // their next request; nobody looking, nothing is built.
    if (this.watched()) void this.gzipDocument().catch(() => {});
  }

  /** Whether someone looks: an open event stream, or a request for the page or the document in the last 5 minutes. */
  watched(): boolean {
    return this.clients.size > 0 || Date.now() - this.lastRequestAt < WATCHED_MS;
  }

  /** The current document gzipped, made once per version. */
  private gzipDocument(): Promise<Buffer> {
    const { view, json } = this.snapshot();
    if (this.gzipped?.version !== view.version) this.gzipped = { version: view.version, body: gzipAsync(json, { level: 1 }) };
    return this.gzipped.body;
  }

  /**
   * The document as it is now, and its JSON. The version, and the time the document carries, move
   * on only when something in it changed since the last document built.
   */
  snapshot(): { readonly view: DashboardView; readonly json: string } {
    const nodes = this.nodeViews.build(this.options);
    const pending = buildPending({ waiting: this.options.waiting(), explanation: this.options.explanation });
    const totals = totalsOf(nodes.views, this.options.cluster.podCount(), pending.length);
    const namespaces = namespacesOf(nodes.views, pending);
    const history = this.history.view();
    // Serialised once: the same text tells a change and is what is sent. The nodes' JSON is kept
    // between documents, so when no node, pending pod or sample changed, nothing is joined again.
    const parts = [JSON.stringify(totals), JSON.stringify(pending), JSON.stringify(namespaces), JSON.stringify(history)] as const;
    const same = this.lastParts !== null && this.lastParts.nodes.length === nodes.json.length && nodes.json.every((json, i) => json === this.lastParts?.nodes[i]) && parts.every((part, i) => part === this.lastParts?.rest[i]);
    if (!same) {
      const body = `"totals":${parts[0]},"nodes":[${nodes.json.join(',')}],"pending":${parts[1]},"namespaces":${parts[2]},"history":${parts[3]}}`;
      if (body !== this.lastContent) {
        this.lastContent = body;
        this.version++;
        this.generatedAt = this.now().toISOString();
        this.json = `{"version":${String(this.version)},"generatedAt":"${this.generatedAt}",${body}`;
        this.gzipped = null;
      }
      this.lastParts = { nodes: nodes.json, rest: parts };
    }
    return {
      view: { version: this.version, generatedAt: this.generatedAt, totals, nodes: nodes.views, pending, namespaces, history },
      json: this.json,
    };
  }

  view(): DashboardView {
    return this.snapshot().view;
  }

  private async asset(name: string): Promise<Buffer | null> {
    if (!this.assets.has(name)) {
      // Read once: the bundle does not change under a running server.
      this.assets.set(name, await readFile(join(this.bundleDir, name)).catch(() => null));
    }
    return this.assets.get(name) ?? null;
  }

  private async page(response: ServerResponse, head: boolean): Promise<void> {
    const ready = (await this.asset('app.js')) !== null;
    send(response, 200, 'text/html; charset=utf-8', renderPage(this.view(), ready), head);
  }

  /** `?since=<version>`: the version the client has; the stream's first document is skipped when it is still current. */
  private events(request: IncomingMessage, response: ServerResponse, since: number | null): void {
    const most = this.options.maxStreams ?? 64;
    if (this.clients.size >= most) {
      response.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8', 'Retry-After': '30' });
      response.end(`${String(most)} dashboards are following this scheduler already; close one, or poll ${DASHBOARD_API}\n`);
      return;
    }
    response.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', Connection: 'keep-alive' });
    response.flushHeaders();
    const { view, json } = this.snapshot();
    // A late joiner gets the document at once, not after the next change, unless it has it.
    response.write(view.version === since ? 'retry: 3000\n\n' : `retry: 3000\nid: ${String(view.version)}\ndata: ${json}\n\n`);
    this.clients.set(response, view.version);
    request.on('close', () => {
      this.clients.delete(response);
      if (this.clients.size === 0) {
        clearInterval(this.pushTimer);
        this.pushTimer = undefined;
      }
    });
    this.pushTimer ??= setInterval(() => this.push(), this.options.pushIntervalMs ?? 2000);
  }

  /**
   * The document, gzipped when the client takes it: at 1,000 nodes it is ~3 MB of very repetitive
   * JSON that shrinks about tenfold, and the compressed copy is kept until the document changes.
   */
  private async sendDocument(request: IncomingMessage, response: ServerResponse, head: boolean): Promise<void> {
    const headers = { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', Vary: 'Accept-Encoding' };
    if (!/\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''))) {
      const { json } = this.snapshot();
      response.writeHead(200, { ...headers, 'Content-Length': Buffer.byteLength(json) }).end(head ? undefined : json);
      return;
    }
    const body = await this.gzipDocument();
    response.writeHead(200, { ...headers, 'Content-Encoding': 'gzip', 'Content-Length': body.length }).end(head ? undefined : body);
  }

  /** Sends the document to every stream that has not had this version (its time aside). */
  private push(): void {
    const { view, json } = this.snapshot();
    const message = `id: ${String(view.version)}\ndata: ${json}\n\n`;
    for (const [client, version] of this.clients) {
      if (version === view.version) continue;
      client.write(message);
      this.clients.set(client, view.version);
    }
  }

  /**
   * Answers the dashboard's paths; returns false for any other, so the caller can route it
   * elsewhere. Errors become a 500 with the reason; the server keeps serving.
   */
  route(request: IncomingMessage, response: ServerResponse): boolean {
    const url = new URL(request.url ?? '/', 'http://dashboard');
    const path = url.pathname;
    const isPage = path === DASHBOARD_PATH || path === `${DASHBOARD_PATH}/`;
    const asset = path.startsWith(`${DASHBOARD_PATH}/`) ? path.slice(DASHBOARD_PATH.length + 1) : undefined;
    if (!isPage && !path.startsWith(DASHBOARD_API) && asset === undefined) return false;
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      send(response, 405, 'text/plain; charset=utf-8', `${path} takes GET\n`);
      return true;
    }
    const head = request.method === 'HEAD';
    if (asset === undefined) this.lastRequestAt = Date.now();
    const fail = (error: unknown): void => {
      if (!response.headersSent) send(response, 500, 'text/plain; charset=utf-8', `dashboard: ${String(error)}\n`);
      else response.end();
    };
    try {
      if (isPage) {
        this.page(response, head).catch(fail);
      } else if (asset !== undefined) {
        const type = ASSETS[asset];
        if (type === undefined) {
          send(response, 404, 'text/plain; charset=utf-8', `no such file: ${path}\n`);
        } else {
          this.asset(asset).then((body) => {
            if (body === null) send(response, 404, 'text/plain; charset=utf-8', `${path} is not built: run npm run build (it writes ${this.bundleDir})\n`);
            else send(response, 200, type, body, head);
          }, fail);
        }
      } else if (path === DASHBOARD_API) {
        this.sendDocument(request, response, head).catch(fail);
      } else if (path === `${DASHBOARD_API}/events`) {
        const since = Number(url.searchParams.get('since') ?? request.headers['last-event-id'] ?? Number.NaN);
        this.events(request, response, Number.isInteger(since) ? since : null);
      } else if (path === `${DASHBOARD_API}/what-if`) {
        const shape = parseShape(url.searchParams);
        if ('error' in shape) sendJson(response, 400, { error: shape.error });
        else sendJson(response, 200, whatIf(this.options.cluster.nodes, shape));
      } else {
        sendJson(response, 404, { error: `no such endpoint: ${path}; try ${DASHBOARD_API}, ${DASHBOARD_API}/events or ${DASHBOARD_API}/what-if` });
      }
    } catch (error) {
      fail(error);
    }
    return true;
  }
}
