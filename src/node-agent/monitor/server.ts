/**
 * The node monitor's HTTP endpoint: `GET /metrics` (and `HEAD`), 404 for any other path, 405 for
 * another method on `/metrics`. Nothing thrown while rendering escapes the handler: the scraper
 * gets a 500 with the message, and the process goes on.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface MetricsServerOptions {
  /** @default '0.0.0.0' */
  readonly host?: string;
  /** 0 picks a free port. @default 9394 */
  readonly port?: number;
  /** One scrape's text exposition. */
  readonly render: () => Promise<string>;
  readonly contentType: string;
  readonly log?: (line: string) => void;
}

export interface RunningMetricsServer {
  /** `http://<host>:<port>`, the port resolved. */
  readonly url: string;
  close(): Promise<void>;
}

function reply(response: ServerResponse, status: number, body: string, contentType = 'text/plain; charset=utf-8', head = false): void {
  response.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) });
  response.end(head ? undefined : body);
}

export async function startMetricsServer(options: MetricsServerOptions): Promise<RunningMetricsServer> {
  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    if (path !== '/metrics') {
      reply(response, 404, 'not found: the node monitor serves GET /metrics\n');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.setHeader('Allow', 'GET, HEAD');
      reply(response, 405, `method ${request.method ?? ''} not allowed: use GET\n`);
      return;
    }
    try {
      reply(response, 200, await options.render(), options.contentType, request.method === 'HEAD');
    } catch (error) {
      options.log?.(`node-agent: metrics: ${(error as Error).message}`);
      reply(response, 500, `cannot render metrics: ${(error as Error).message}\n`);
    }
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      options.log?.(`node-agent: metrics: ${String(error)}`);
      if (!response.headersSent) reply(response, 500, 'internal error\n');
      else response.destroy();
    });
  });
  server.on('clientError', (_error, socket) => socket.destroy());

  const host = options.host ?? '0.0.0.0';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 9394, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (error) => options.log?.(`node-agent: metrics server: ${error.message}`));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${String(port)}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
