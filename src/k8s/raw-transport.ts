/**
 * A lean JSON transport for the calls on the scheduler's and the node agent's hot paths (pod and
 * node patches, `pods/binding`, Events, single gets). client-node's generated client turns every
 * request and response into its model classes and back through `ObjectSerializer` and
 * `node-fetch`; in `npm run bench -- extender` that was most of the extender's time outside the
 * placement engine. This sends and receives plain JSON over one keep-alive agent instead.
 *
 * Authentication stays client-node's: the server, TLS material and headers come from
 * `KubeConfig.applyToHTTPSOptions`, re-applied every few seconds so rotated tokens and
 * certificates are picked up (an exec plugin caches its own credential).
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders, type RequestOptions } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

import type { KubeConfig } from '@kubernetes/client-node';

import { TesseraError } from '../core/errors.js';

/** How long applied credentials are reused before client-node is asked again. */
const CREDENTIALS_TTL_MS = 10_000;
/** A call without an answer after this long fails (client-node sets no timeout; kube-scheduler's extender timeout is 30 s). */
const REQUEST_TIMEOUT_MS = 30_000;

/** A refused or failed call: the HTTP code (0 without a response) and the body's `v1.Status`, if any. */
export class RawResponseError extends Error {
  constructor(
    readonly httpCode: number,
    readonly status: Record<string, unknown> | undefined,
    readonly bodyText: string,
    readonly retryAfterHeader: string | undefined,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

interface Credentials {
  readonly headers: OutgoingHttpHeaders;
  readonly agent: HttpAgent;
  readonly agentKey: string;
  readonly at: number;
}

function parseStatus(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export class RawTransport {
  private readonly server: URL;
  private readonly tls: boolean;
  private credentials: Promise<Credentials> | undefined;
  private current: Credentials | undefined;

  constructor(private readonly kubeConfig: KubeConfig) {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new TesseraError('TESSERA_ERR_CONFIG', 'kubeconfig has no current cluster: set current-context, or pass --kubeconfig');
    this.server = new URL(cluster.server);
    this.tls = this.server.protocol === 'https:';
  }

  private async apply(): Promise<Credentials> {
    const options: RequestOptions & { agent?: unknown } = {};
    await this.kubeConfig.applyToHTTPSOptions(options as never);
    const headers: OutgoingHttpHeaders = { ...(options.headers as OutgoingHttpHeaders | undefined) };
    if (typeof options.auth === 'string') headers.Authorization = `Basic ${Buffer.from(options.auth).toString('base64')}`;
    const made = options.agent as (HttpAgent & { options?: Record<string, unknown> }) | undefined;
    const agentOptions = made?.options ?? {};
    made?.destroy();
    const agentKey = JSON.stringify([agentOptions.ca, agentOptions.cert, agentOptions.key, agentOptions.pfx, agentOptions.passphrase, agentOptions.rejectUnauthorized, agentOptions.servername]);
    let agent = this.current?.agent;
    if (agent === undefined || this.current?.agentKey !== agentKey) {
      this.current?.agent.destroy();
      agent = this.tls ? new HttpsAgent({ ...agentOptions, keepAlive: true }) : new HttpAgent({ keepAlive: true });
    }
    this.current = { headers, agent, agentKey, at: Date.now() };
    return this.current;
  }

  private credentialsNow(): Promise<Credentials> {
    if (this.current !== undefined && Date.now() - this.current.at < CREDENTIALS_TTL_MS) return Promise.resolve(this.current);
    this.credentials ??= this.apply().finally(() => {
      this.credentials = undefined;
    });
    return this.credentials;
  }

  /**
   * Sends `body` (JSON) to `path` and resolves with the parsed JSON answer.
   *
   * @throws RawResponseError for a non-2xx answer or a transport failure
   */
  async request(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<unknown> {
    const { headers, agent } = await this.credentialsNow();
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const send = this.tls ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const request = send(
        {
          protocol: this.server.protocol,
          hostname: this.server.hostname,
          port: this.server.port,
          path: `${this.server.pathname.replace(/\/$/, '')}${path}`,
          method,
          agent,
          timeout: REQUEST_TIMEOUT_MS,
          headers: {
            ...headers,
            Accept: 'application/json',
            ...(payload === undefined ? {} : { 'Content-Type': contentType, 'Content-Length': payload.length }),
          },
        },
        (response: IncomingMessage) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('error', (error) => reject(new RawResponseError(0, undefined, '', undefined, error.message, { cause: error })));
          response.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const code = response.statusCode ?? 0;
            if (code >= 200 && code < 300) {
              try {
                resolve(text === '' ? {} : JSON.parse(text));
              } catch (error) {
                reject(new RawResponseError(code, undefined, text.slice(0, 200), undefined, `the answer is not JSON: ${(error as Error).message}`));
              }
              return;
            }
            const retryAfter = response.headers['retry-after'];
            reject(new RawResponseError(code, parseStatus(text), text.slice(0, 200), Array.isArray(retryAfter) ? retryAfter[0] : retryAfter, `HTTP ${code}`));
          });
        },
      );
      request.on('timeout', () => request.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS / 1000} s`)));
      request.on('error', (error) => reject(new RawResponseError(0, undefined, '', undefined, error.message, { cause: error })));
      request.end(payload);
    });
  }

  close(): void {
    this.current?.agent.destroy();
  }
}
