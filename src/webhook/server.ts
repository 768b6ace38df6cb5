/**
 * The webhook's HTTP(S) endpoint: `POST /webhook` answers AdmissionReviews with the decision of
 * `admission.ts`; `GET /healthz` and `GET /readyz` answer `ok`.
 *
 * Every request gets a status and no failure escapes a handler: a body over the limit is 413, a
 * body that is not JSON 415 or 400, a review that does not validate 400, and anything unexpected
 * (a failing namespace lookup included) 500 with a Status naming it, after which the server keeps
 * serving. What the API server then does with a non-200 answer is the webhook configuration's
 * `failurePolicy` (HAMi's chart: `Ignore`, admitting the pod unchanged).
 *
 * With TLS the certificate and key are re-read when their files change and swapped in with
 * `server.setSecureContext`, so rotating them (cert-manager, kube-webhook-certgen, a Secret volume's
 * symlink swap) needs no restart; HAMi does the same with controller-runtime's `certwatcher`.
 */
import { readFile, stat } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createSecureContext } from 'node:tls';

import {
  admitRequest,
  namespaceLookupNeeded,
  parseAdmissionReview,
  type AdmissionOptions,
  type AdmissionResult,
  type NamespaceContext,
} from './admission.js';
import { readBody } from '../http/read-body.js';

/** Largest AdmissionReview body accepted (1 MiB); larger ones get 413. */
export const MAX_BODY_BYTES = 1024 * 1024;

export const WEBHOOK_PATH = '/webhook';

/** What a handler is told about one decision, for logs and metrics. */
export interface AdmissionEvent {
  readonly uid: string;
  readonly namespace: string;
  /** `namespace/name`, or `''` when the review holds no pod. */
  readonly pod: string;
  readonly allowed: boolean;
  readonly outcome: AdmissionResult['outcome'];
  readonly summary: string;
}

export interface WebhookHandlerOptions {
  /** The configuration every review is decided with. */
  readonly admission: AdmissionOptions;
  /**
   * The namespace's labels and quota state. Called only for pods whose answer depends on them
   * (see `namespaceLookupNeeded`); a throw or a rejection answers 500.
   * @default () => ({}) (no labels, no quota)
   */
  readonly lookupNamespace?: (namespace: string) => NamespaceContext | Promise<NamespaceContext>;
  /**
   * How long a lookup may take before the review is answered 500 (the API server waits
   * `timeoutSeconds`, 10 s in HAMi's chart, for the whole review).
   * @default 5000
   */
  readonly lookupTimeoutMs?: number;
  /** @default MAX_BODY_BYTES (1 MiB) */
  readonly maxBodyBytes?: number;
  /** Hears every decision. @default nothing */
  readonly onAdmission?: (event: AdmissionEvent) => void;
  /**
   * Hears what went wrong unexpectedly: errors answered 500, and certificates that could not be
   * reloaded. `where` says which (`POST /webhook`, `tls reload`).
   * @default prints to stderr
   */
  readonly onError?: (error: unknown, where: string) => void;
  /**
   * Serves every path but `/webhook` (its `/healthz` and `/readyz` included) when the webhook shares
   * its port with another server, as HAMi serves the extender and the webhook on one HTTPS port.
   */
  readonly fallback?: RequestListener;
}

/** Certificate files to serve HTTPS with, and how often to look for new ones. */
export interface TlsFiles {
  /** PEM certificate (chain), e.g. `/tls/tls.crt`. */
  readonly certFile: string;
  /** PEM private key, e.g. `/tls/tls.key`. */
  readonly keyFile: string;
  /** How often the files are checked for changes. @default 2000 */
  readonly reloadIntervalMs?: number;
}

export interface WebhookServerOptions extends WebhookHandlerOptions {
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** @default 0 (any free port) */
  readonly port?: number;
  /** Serve HTTPS with these files; plain HTTP without. The API server calls webhooks over HTTPS only. */
  readonly tls?: TlsFiles;
}

export interface WebhookServer {
  /** `https://127.0.0.1:<port>` (or `http://`). */
  readonly url: string;
  readonly port: number;
  /**
   * Checks the certificate files now instead of waiting for the next poll.
   * @returns whether a new certificate was loaded; false for plain HTTP or unchanged files
   * @throws when the files changed but cannot be used (the old certificate stays in use); a change
   *   already reported is not thrown again
   */
  reloadCertificates(): Promise<boolean>;
  /** Stops watching the files, closes every connection and frees the port. */
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Responses

type Reason = 'BadRequest' | 'NotFound' | 'MethodNotAllowed' | 'RequestEntityTooLarge' | 'UnsupportedMediaType' | 'InternalError';

function sendJson(response: ServerResponse, code: number, body: object, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  response.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(text)), ...headers });
  response.end(text);
}

/** A Kubernetes `Status`, the error body the API server's own endpoints answer with. */
function sendStatus(response: ServerResponse, code: number, reason: Reason, message: string, headers: Record<string, string> = {}): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  sendJson(response, code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code }, headers);
}

function sendText(response: ServerResponse, code: number, text: string): void {
  response.writeHead(code, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': String(Buffer.byteLength(text)) });
  response.end(text);
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// ---------------------------------------------------------------------------------------------
// Requests

/** The media type of a `Content-Type` header, lower-cased, without parameters. */
function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

async function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function defaultOnError(error: unknown, where: string): void {
  console.error(`tessera webhook: ${where}:`, error);
}

/**
 * The request handler alone, to mount in another server (HAMi serves `/filter`, `/bind` and
 * `/webhook` from one). It answers `/webhook`, `/healthz` and `/readyz`, and 404 elsewhere.
 */
export function webhookHandler(options: WebhookHandlerOptions): RequestListener {
  const lookup = options.lookupNamespace ?? (() => ({}));
  const lookupTimeoutMs = options.lookupTimeoutMs ?? 5000;
  const maxBodyBytes = options.maxBodyBytes ?? MAX_BODY_BYTES;
  const onError = options.onError ?? defaultOnError;

  async function review(request: IncomingMessage, response: ServerResponse): Promise<void> {
    // The body is read before any refusal: answering while the client still sends makes the
    // closing socket reset the connection, and the client may lose the answer.
    const body = await readBody(request, maxBodyBytes);
    if (body === 'too-large' || body === 'cut') {
      const message = `POST ${WEBHOOK_PATH}: the body is larger than ${maxBodyBytes} bytes; an AdmissionReview of a pod is far smaller`;
      sendStatus(response, 413, 'RequestEntityTooLarge', message, body === 'cut' ? { Connection: 'close' } : {});
      return;
    }
    const media = mediaType(request.headers['content-type']);
    if (media !== 'application/json') {
      const message = `POST ${WEBHOOK_PATH}: Content-Type ${JSON.stringify(media)} is not supported; send the AdmissionReview as application/json`;
      sendStatus(response, 415, 'UnsupportedMediaType', message);
      return;
    }
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch (error) {
      sendStatus(response, 400, 'BadRequest', `POST ${WEBHOOK_PATH}: the body is not valid JSON: ${errorText(error)}`);
      return;
    }
    const parsed = parseAdmissionReview(json);
    if (!parsed.ok) {
      sendStatus(response, 400, 'BadRequest', `POST ${WEBHOOK_PATH}: ${parsed.message}`);
      return;
    }
    const req = parsed.request;
    let namespace: NamespaceContext = {};
    if (namespaceLookupNeeded(req, options.admission)) {
      try {
        namespace = await withTimeout(Promise.resolve().then(() => lookup(req.namespace)), lookupTimeoutMs, `looking up namespace ${JSON.stringify(req.namespace)}`);
      } catch (error) {
        onError(error, `POST ${WEBHOOK_PATH} namespace lookup`);
        const message = `POST ${WEBHOOK_PATH}: cannot decide on the pod: looking up namespace ${JSON.stringify(req.namespace)} (labels, ResourceQuotas) failed: ${errorText(error)}`;
        sendStatus(response, 500, 'InternalError', message);
        return;
      }
    }
    const result = admitRequest(req, options.admission, namespace);
    options.onAdmission?.({
      uid: req.uid,
      namespace: req.namespace,
      pod: result.pod,
      allowed: result.review.response.allowed,
      outcome: result.outcome,
      summary: result.summary,
    });
    sendJson(response, 200, result.review);
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    if (path === WEBHOOK_PATH) {
      if (request.method !== 'POST') {
        sendStatus(response, 405, 'MethodNotAllowed', `${request.method ?? '?'} ${WEBHOOK_PATH}: only POST is served`, { Allow: 'POST' });
        return;
      }
      await review(request, response);
      return;
    }
    if (options.fallback !== undefined) {
      options.fallback(request, response);
      return;
    }
    if (path === '/healthz' || path === '/readyz') {
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        sendStatus(response, 405, 'MethodNotAllowed', `${request.method ?? '?'} ${path}: only GET is served`, { Allow: 'GET, HEAD' });
        return;
      }
      sendText(response, 200, 'ok');
      return;
    }
    sendStatus(response, 404, 'NotFound', `${request.method ?? '?'} ${path}: not found; the webhook serves POST ${WEBHOOK_PATH}, GET /healthz and GET /readyz`);
  }

  return (request, response) => {
    handle(request, response).catch((error: unknown) => {
      const where = `${request.method ?? '?'} ${request.url ?? ''}`;
      try {
        onError(error, where);
      } catch {
        // A failing reporter must not take the answer down with it.
      }
      sendStatus(response, 500, 'InternalError', `${where}: internal error: ${errorText(error)}`);
    });
  };
}

// ---------------------------------------------------------------------------------------------
// TLS

/** Context options besides the pair, kept across reloads (`setSecureContext` starts from scratch). */
const TLS_OPTIONS = { minVersion: 'TLSv1.2' } as const;

interface Pem {
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** Reads the pair and checks that it makes a usable context (the key matches the certificate). */
async function readPem(files: TlsFiles): Promise<Pem> {
  const [cert, key] = await Promise.all([readFile(files.certFile), readFile(files.keyFile)]);
  try {
    createSecureContext({ cert, key });
  } catch (error) {
    throw new Error(
      `TLS certificate ${files.certFile} with key ${files.keyFile} cannot be used: ${errorText(error)}; ` +
        'check that both are PEM and that the key belongs to the certificate',
      { cause: error },
    );
  }
  return { cert, key };
}

/** Size, inode and times of both files: changes when either is rewritten, replaced or re-linked. */
async function signature(files: TlsFiles): Promise<string> {
  const [c, k] = await Promise.all([stat(files.certFile), stat(files.keyFile)]);
  return [c.ino, c.size, c.mtimeMs, c.ctimeMs, k.ino, k.size, k.mtimeMs, k.ctimeMs].join(':');
}

/**
 * Polls the certificate files (`stat`, which follows the symlinks a Secret volume swaps) and,
 * when they change, reads them and swaps the new pair in. A pair caught half-written (the key not
 * matching the certificate yet) is reported once and retried on the next poll; the old
 * certificate serves meanwhile. Connections already open keep the certificate they began with.
 */
class CertificateReloader {
  private loaded = '';
  private current: Pem | undefined;
  private failed = '';
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<boolean> | undefined;

  constructor(
    private readonly files: TlsFiles,
    private readonly onError: (error: unknown, where: string) => void,
  ) {}

  /** The first load; throws so that a bad pair stops the start. */
  async initial(): Promise<Pem> {
    const before = await signature(this.files);
    const pem = await readPem(this.files);
    this.loaded = before;
    this.current = pem;
    return pem;
  }

  start(server: HttpsServer): void {
    const interval = this.files.reloadIntervalMs ?? 2000;
    this.timer = setInterval(() => {
      if (this.busy) return;
      this.check(server).catch((error: unknown) => this.report(error));
    }, interval);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private report(error: unknown): void {
    this.onError(error, 'tls reload');
  }

  /** Whether a poll is under way (the timer then skips its turn). */
  get busy(): boolean {
    return this.running !== undefined;
  }

  /**
   * One poll, started after any poll under way has finished, so that a caller who has just
   * written the files sees them read.
   */
  check(server: HttpsServer): Promise<boolean> {
    const next = (this.running ?? Promise.resolve(false)).catch(() => false).then(() => this.poll(server));
    this.running = next;
    const clear = (): void => {
      if (this.running === next) this.running = undefined;
    };
    next.then(clear, clear);
    return next;
  }

  private async poll(server: HttpsServer): Promise<boolean> {
    let now: string;
    try {
      now = await signature(this.files);
    } catch (error) {
      // A file briefly missing mid-rotation: report once, keep serving the old pair.
      if (this.failed !== 'missing') {
        this.failed = 'missing';
        throw error;
      }
      return false;
    }
    if (now === this.loaded) return false;
    let pem: Pem;
    try {
      pem = await readPem(this.files);
    } catch (error) {
      if (this.failed === now) return false;
      this.failed = now;
      throw error;
    }
    this.loaded = now;
    this.failed = '';
    if (this.current && pem.cert.equals(this.current.cert) && pem.key.equals(this.current.key)) return false;
    server.setSecureContext({ ...TLS_OPTIONS, cert: pem.cert, key: pem.key });
    this.current = pem;
    return true;
  }
}

// ---------------------------------------------------------------------------------------------
// Server

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * Starts the webhook and resolves once it listens.
 *
 * @throws when the certificate files cannot be read or do not make a usable pair, or the port
 *   cannot be bound
 * @example
 * const webhook = await startWebhookServer({
 *   admission: { config: await loadDeviceConfig('/device-config.yaml') },
 *   lookupNamespace: (ns) => ({ labels: namespaces.get(ns)?.labels, quota: quotaOf(ns) }),
 *   tls: { certFile: '/tls/tls.crt', keyFile: '/tls/tls.key' },
 *   host: '0.0.0.0',
 *   port: 443,
 * });
 */
export async function startWebhookServer(options: WebhookServerOptions): Promise<WebhookServer> {
  const onError = options.onError ?? defaultOnError;
  const handler = webhookHandler({ ...options, onError });
  let server: Server | HttpsServer;
  let reloader: CertificateReloader | undefined;
  if (options.tls) {
    reloader = new CertificateReloader(options.tls, onError);
    const pem = await reloader.initial();
    server = createHttpsServer({ ...TLS_OPTIONS, cert: pem.cert, key: pem.key }, handler);
  } else {
    server = createHttpServer(handler);
  }
  // The API server gives a webhook 10 s at most (HAMi's chart); a client slower than this is stuck.
  server.requestTimeout = 30_000;
  server.headersTimeout = 15_000;

  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (error) => onError(error, 'server'));
  const https = reloader !== undefined;
  if (reloader) reloader.start(server as HttpsServer);
  const port = (server.address() as AddressInfo).port;

  return {
    url: `${https ? 'https' : 'http'}://${urlHost(host)}:${port}`,
    port,
    reloadCertificates: () => (reloader ? reloader.check(server as HttpsServer) : Promise.resolve(false)),
    close: async () => {
      reloader?.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
