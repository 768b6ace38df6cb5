/**
 * The extender's HTTP endpoints for kube-scheduler: `POST /filter`, `POST /bind`, and the probes
 * `GET /healthz` (the process serves) and `GET /readyz` (its cache has synced and it may decide).
 * kube-scheduler reads an extender's refusal from the `Error` field of a 200 answer; a body it
 * could not have sent (too large, not JSON, wrong shape) gets a 4xx with the same field. No
 * exception leaves a handler: the server answers 500 and keeps serving.
 */
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import type { ExtenderArgs, ExtenderBindingArgs, ExtenderBindingResult, ExtenderFilterResult } from './extender-wire.js';
import { readBody } from '../http/read-body.js';
import { parseBindingArgs, parseExtenderArgs, WireError } from './extender-wire.js';

/** HAMi's limit on an extender request body. */
export const BODY_LIMIT_BYTES = 1 << 20;

export interface ExtenderServerOptions {
  readonly filter: (args: ExtenderArgs) => Promise<ExtenderFilterResult>;
  readonly bind: (args: ExtenderBindingArgs) => Promise<ExtenderBindingResult>;
  /** False until the cache has synced (and, with several replicas, while this one is not the leader). */
  readonly ready: () => boolean;
  /** Hears what the server answered with a 500. @default prints to stderr */
  readonly onError?: (error: unknown, path: string) => void;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** @default 0 (any free port) */
  readonly port?: number;
}

export interface ExtenderServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** The client is still sending: answer, then close the connection. */
    readonly closeConnection = false,
  ) {
    super(message);
  }
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  const body = await readBody(request, BODY_LIMIT_BYTES);
  if (body === 'too-large' || body === 'cut') throw new HttpError(413, `request body over ${String(BODY_LIMIT_BYTES)} bytes`, body === 'cut');
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch (error) {
    throw new HttpError(400, `request body is not JSON: ${(error as Error).message}`);
  }
}

function send(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (response.headersSent) return;
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  response.writeHead(status, { 'Content-Type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  response.end(text);
}

/**
 * The extender's request listener alone, for a server shared with the webhook (HAMi serves both on
 * one HTTPS port).
 */
export function extenderHandler(options: Omit<ExtenderServerOptions, 'host' | 'port'>): RequestListener {
  const onError = options.onError ?? ((error: unknown, path: string) => process.stderr.write(`extender ${path}: ${String(error)}\n`));

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    if (path === '/healthz' && request.method === 'GET') return send(response, 200, 'ok');
    if (path === '/readyz' && request.method === 'GET') return options.ready() ? send(response, 200, 'ok') : send(response, 503, 'not ready: the cache has not synced or this replica is not the leader');
    if (path !== '/filter' && path !== '/bind') return send(response, 404, { Error: `no such endpoint: ${path}` });
    if (request.method !== 'POST') return send(response, 405, { Error: `${path} takes POST, not ${request.method ?? ''}` });
    if (!options.ready()) return send(response, 503, { Error: 'not ready: the cache has not synced or this replica is not the leader' });
    try {
      const body = await readJson(request);
      if (path === '/filter') send(response, 200, await options.filter(parseExtenderArgs(body)));
      else send(response, 200, await options.bind(parseBindingArgs(body)));
    } catch (error) {
      if (error instanceof HttpError) return send(response, error.status, { Error: error.message }, error.closeConnection ? { Connection: 'close' } : {});
      if (error instanceof WireError) return send(response, 400, { Error: error.message });
      onError(error, path);
      send(response, 500, { Error: `internal error in ${path}: ${(error as Error).message}` });
    }
  };

  return (request, response) => {
    handle(request, response).catch((error: unknown) => {
      onError(error, request.url ?? '');
      send(response, 500, { Error: 'internal error' });
    });
  };
}

export async function startExtenderServer(options: ExtenderServerOptions): Promise<ExtenderServer> {
  const server: Server = createServer(extenderHandler(options));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${String(port)}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
