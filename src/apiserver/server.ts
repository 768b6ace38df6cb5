/**
 * The in-memory Kubernetes API server: the real REST wire protocol over loopback HTTP, so the
 * unmodified `@kubernetes/client-node` and `kubectl --server http://127.0.0.1:<port>` can talk to
 * it. Tests of the scheduler extender, webhook and node agent run against it, and so does the
 * demo; see {@link startApiServer}.
 *
 * No handler failure can take the process down: every request runs inside one safety net that
 * answers a `Status` (500 `InternalError` for anything unexpected) and reports the error.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { readBody } from './body.js';
import { coreVersions, groupInfo, groupList, resourceList, rootPaths, versionDocument } from './discovery.js';
import { Faults, type RequestInfo } from './faults.js';
import type { JsonObject } from './json.js';
import { openApiGroupVersion, openApiIndex } from './openapi.js';
import { route, type Route } from './router.js';
import { isWatch, serveResource } from './rest.js';
import { ApiError, internalError, methodNotAllowed, notAcceptable, tooManyRequests } from './status.js';
import { Store } from './store.js';
import { WatchHub } from './watch.js';

export interface ApiServerOptions {
  /**
   * Changes kept per resource type. A watch or paged list from a `resourceVersion` older than the
   * retained window gets 410 `Expired`; a small value lets a test force that.
   * @default 1000
   */
  readonly historyLimit?: number;
  /**
   * How often watches with `allowWatchBookmarks=true` get a `BOOKMARK`; 0 sends none.
   * @default 60000 (about what upstream does)
   */
  readonly bookmarkIntervalMs?: number;
  /** Namespaces to create besides `default`, `kube-system`, `kube-public` and `kube-node-lease`. */
  readonly namespaces?: readonly string[];
  /** Interface to listen on; loopback unless a test needs otherwise. @default '127.0.0.1' */
  readonly host?: string;
  /** @default 0 (any free port) */
  readonly port?: number;
  /** Clock for timestamps. @default () => new Date() */
  readonly now?: () => Date;
  /**
   * Hears errors the server did not expect (answered with 500). A test that wants none can fail
   * on the first.
   * @default prints to stderr
   */
  readonly onInternalError?: (error: unknown, request: RequestInfo) => void;
}

export interface ApiServer {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  /** The cluster's objects, for tests to seed and inspect without HTTP; writes reach watches. */
  readonly store: Store;
  readonly faults: Faults;
  /** Watch streams now open. */
  readonly openWatches: number;
  /** A client-node `KubeConfig` whose current context points at this server. */
  kubeConfig(): KubeConfig;
  /** A kubeconfig file's text pointing at this server, for kubectl or other processes. */
  kubeconfigYaml(): string;
  /** Ends every watch, closes every connection and frees the port. */
  close(): Promise<void>;
}

/** Name of the cluster, user and context in the generated kubeconfigs. */
const CONTEXT = 'tessera-apiserver';

/** Whether an `Accept` header admits a JSON response (any parameters, e.g. `as=Table`, are read as JSON). */
function acceptsJson(accept: string | undefined): boolean {
  if (accept === undefined || accept.trim() === '') return true;
  return accept.split(',').some((range) => {
    const media = range.split(';')[0]?.trim().toLowerCase() ?? '';
    return media === '*/*' || media === 'application/*' || media === 'application/json';
  });
}

function sendJson(response: ServerResponse, code: number, body: JsonObject, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  response.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  response.end(text);
}

function sendError(response: ServerResponse, error: ApiError): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  const headers: Record<string, string> = {};
  const retryAfter = error.details?.retryAfterSeconds;
  if (retryAfter !== undefined) headers['Retry-After'] = String(retryAfter);
  sendJson(response, error.httpCode, error.toStatus(), headers);
}

/** Upstream's answer for a path it does not serve. */
function pathNotFound(): ApiError {
  return new ApiError(404, 'NotFound', 'the server could not find the requested resource', {});
}

/** The Status an injected `failNext` failure answers with. */
function injectedFailure(code: 500 | 429 | 503, retryAfterSeconds: number): ApiError {
  if (code === 500) return internalError('injected failure (faults.failNext)');
  if (code === 429) return tooManyRequests(retryAfterSeconds);
  return new ApiError(503, 'ServiceUnavailable', 'the server is currently unable to handle the request', { retryAfterSeconds });
}

function discoveryBody(found: Route, serverAddress: string): JsonObject | undefined {
  switch (found.kind) {
    case 'root':
      return rootPaths();
    case 'version':
      return versionDocument();
    case 'core-versions':
      return coreVersions(serverAddress);
    case 'group-list':
      return groupList();
    case 'group':
      return groupInfo(found.group);
    case 'resource-list':
      return resourceList(found.group, found.version);
    case 'openapi-index':
      return openApiIndex();
    case 'openapi-group-version':
      return openApiGroupVersion(found.group, found.version);
    default:
      return undefined;
  }
}

/**
 * Starts a server on loopback and resolves once it listens.
 *
 * @example
 * const api = await startApiServer({ historyLimit: 50 });
 * const core = api.kubeConfig().makeApiClient(CoreV1Api);
 * await core.createNamespacedPod({ namespace: 'default', body: pod });
 * await api.close();
 */
export async function startApiServer(options: ApiServerOptions = {}): Promise<ApiServer> {
  const store = new Store({
    ...(options.historyLimit === undefined ? {} : { historyLimit: options.historyLimit }),
    ...(options.namespaces === undefined ? {} : { namespaces: options.namespaces }),
    ...(options.now === undefined ? {} : { now: options.now }),
  });
  const bookmarkIntervalMs = options.bookmarkIntervalMs ?? 60_000;
  if (!Number.isFinite(bookmarkIntervalMs) || bookmarkIntervalMs < 0) {
    throw new RangeError(`bookmarkIntervalMs must be a non-negative number, got ${bookmarkIntervalMs}`);
  }
  const onInternalError =
    options.onInternalError ??
    ((error: unknown, request: RequestInfo) => {
      console.error(`tessera apiserver: internal error serving ${request.method} ${request.path}:`, error);
    });
  const hub = new WatchHub(store, bookmarkIntervalMs, (error) =>
    onInternalError(error, { method: 'GET', path: '(watch stream)', query: new URLSearchParams(), watch: true }),
  );
  const faults = new Faults({ dropWatches: (mode) => hub.dropAll(mode), compactHistory: () => store.compact() });
  let serverAddress = '';

  async function handle(request: IncomingMessage, response: ServerResponse, info: RequestInfo): Promise<void> {
    const delay = faults.latencyFor(info);
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    const failure = faults.takeFailure(info);
    if (failure?.kind === 'crash') throw new Error(`injected handler crash (faults.crashNext) on ${info.method} ${info.path}`);
    if (failure?.kind === 'status') throw injectedFailure(failure.code, failure.retryAfterSeconds);

    const found = route(info.path);
    // Unknown paths first: kubectl asks for `/openapi/v2` in protobuf only and must see a 404.
    if (found.kind === 'not-found') throw pathNotFound();
    if (found.kind === 'health') {
      response.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
      response.end('ok');
      return;
    }
    if (!acceptsJson(request.headers.accept)) throw notAcceptable();
    if (found.kind !== 'resource') {
      if (info.method !== 'GET') throw methodNotAllowed();
      const body = discoveryBody(found, serverAddress);
      if (body === undefined) throw pathNotFound();
      sendJson(response, 200, body);
      return;
    }
    const outcome = await serveResource(store, {
      method: info.method,
      route: found,
      query: info.query,
      contentType: request.headers['content-type'],
      body: () => readBody(request),
      what: `${info.method} ${info.path}`,
    });
    if ('watch' in outcome) hub.serve(response, outcome.watch);
    else sendJson(response, outcome.reply.code, outcome.reply.body);
  }

  const server: Server = createServer((request, response) => {
    let info: RequestInfo = { method: request.method ?? 'GET', path: '/', query: new URLSearchParams(), watch: false };
    try {
      const url = new URL(request.url ?? '/', 'http://localhost');
      const path = url.pathname;
      let watch = false;
      try {
        watch = isWatch(route(path), url.searchParams);
      } catch {
        // A malformed watch parameter is reported by the handler itself.
      }
      info = { method: (request.method ?? 'GET').toUpperCase(), path, query: url.searchParams, watch };
    } catch (error) {
      onInternalError(error, info);
      sendError(response, internalError('the request URL cannot be read'));
      return;
    }
    handle(request, response, info).catch((error: unknown) => {
      if (error instanceof ApiError) {
        sendError(response, error);
        return;
      }
      // The client went away (or the server is closing) while its body was read: nobody to answer.
      if (request.destroyed || (error as NodeJS.ErrnoException).code === 'ECONNRESET') {
        response.destroy();
        return;
      }
      onInternalError(error, info);
      sendError(response, internalError(error instanceof Error ? error.message : String(error)));
    });
  });
  // Watches are long-lived; the default request timeout would cut them.
  server.requestTimeout = 0;
  server.on('clientError', (_error, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  serverAddress = `${host}:${address.port}`;
  const url = `http://${serverAddress}`;

  let closing: Promise<void> | undefined;
  return {
    url,
    port: address.port,
    store,
    faults,
    get openWatches() {
      return hub.size;
    },
    kubeConfig() {
      const config = new KubeConfig();
      config.loadFromOptions({
        clusters: [{ name: CONTEXT, server: url, skipTLSVerify: true }],
        users: [{ name: CONTEXT }],
        contexts: [{ name: CONTEXT, cluster: CONTEXT, user: CONTEXT }],
        currentContext: CONTEXT,
      });
      return config;
    },
    kubeconfigYaml() {
      return [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        `- name: ${CONTEXT}`,
        '  cluster:',
        `    server: ${url}`,
        // client-node 1.4.0 refuses a plain-HTTP server unless TLS verification is off.
        '    insecure-skip-tls-verify: true',
        'users:',
        `- name: ${CONTEXT}`,
        '  user: {}',
        'contexts:',
        `- name: ${CONTEXT}`,
        '  context:',
        `    cluster: ${CONTEXT}`,
        `    user: ${CONTEXT}`,
        `current-context: ${CONTEXT}`,
        '',
      ].join('\n');
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        hub.dropAll('end');
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
