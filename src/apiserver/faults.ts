/**
 * Fault injection for tests of the code that talks to the API server: failed requests (500, or
 * 429 with `Retry-After`), handler crashes, added latency, dropped watches and a compacted history
 * (so the next watch from an old `resourceVersion` gets 410). Each fault names which requests it
 * hits, so a test can, say, fail only the next watch on pods.
 */
import type { DropMode } from './watch.js';

/** The parts of a request a fault can select on. */
export interface RequestInfo {
  readonly method: string;
  /** Path without the query, e.g. `/api/v1/namespaces/default/pods`. */
  readonly path: string;
  readonly query: URLSearchParams;
  /** Whether the request is a watch. */
  readonly watch: boolean;
}

/**
 * Which requests a fault hits: all when absent; an object matches when every given field does
 * (`path` as the exact path or a pattern), a function decides for itself.
 */
export type RequestMatcher =
  | { readonly method?: string; readonly path?: string | RegExp; readonly watch?: boolean }
  | ((request: RequestInfo) => boolean);

export function matchesRequest(matcher: RequestMatcher | undefined, request: RequestInfo): boolean {
  if (matcher === undefined) return true;
  if (typeof matcher === 'function') return matcher(request);
  if (matcher.method !== undefined && matcher.method.toUpperCase() !== request.method) return false;
  if (matcher.watch !== undefined && matcher.watch !== request.watch) return false;
  if (typeof matcher.path === 'string' && matcher.path !== request.path) return false;
  if (matcher.path instanceof RegExp && !matcher.path.test(request.path)) return false;
  return true;
}

/** What an injected failure does to a request. */
export type InjectedFailure =
  | { readonly kind: 'status'; readonly code: 500 | 429 | 503; readonly retryAfterSeconds: number }
  | { readonly kind: 'crash' };

interface FailureRule {
  remaining: number;
  readonly failure: InjectedFailure;
  readonly match: RequestMatcher | undefined;
}

interface LatencyRule {
  readonly ms: number;
  readonly match: RequestMatcher | undefined;
}

/** The hooks a {@link Faults} object acts through, supplied by the server. */
export interface FaultTargets {
  dropWatches(mode: DropMode): number;
  compactHistory(): void;
}

export interface FailOptions {
  /** HTTP status to answer with. @default 500 */
  readonly code?: 500 | 429 | 503;
  /** `Retry-After` seconds for 429 and 503. @default 1 */
  readonly retryAfterSeconds?: number;
  readonly match?: RequestMatcher;
}

export class Faults {
  private failures: FailureRule[] = [];
  private latencies: LatencyRule[] = [];

  constructor(private readonly targets: FaultTargets) {}

  /**
   * Makes the next `count` matching requests fail with a `Status` (500 `InternalError`, 429
   * `TooManyRequests` or 503) instead of being served. Rules are consumed in the order added.
   */
  failNext(count: number, options: FailOptions = {}): void {
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`failNext: count must be a positive integer, got ${count}`);
    this.failures.push({
      remaining: count,
      failure: { kind: 'status', code: options.code ?? 500, retryAfterSeconds: options.retryAfterSeconds ?? 1 },
      match: options.match,
    });
  }

  /**
   * Makes the handler of the next `count` matching requests throw, to exercise the server's
   * safety net (the client gets a 500 `InternalError`; the process lives on).
   */
  crashNext(count: number, match?: RequestMatcher): void {
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`crashNext: count must be a positive integer, got ${count}`);
    this.failures.push({ remaining: count, failure: { kind: 'crash' }, match });
  }

  /** Delays every matching request by `ms` before it is served, until {@link clearLatency}. */
  addLatency(ms: number, match?: RequestMatcher): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`addLatency: ms must be a non-negative number, got ${ms}`);
    this.latencies.push({ ms, match });
  }

  clearLatency(): void {
    this.latencies = [];
  }

  /**
   * Ends every open watch now: `end` closes each stream cleanly (clients re-watch from their last
   * `resourceVersion`), `reset` destroys the connection (clients see a network error). Returns how
   * many watches were open.
   */
  dropWatches(mode: DropMode = 'end'): number {
    return this.targets.dropWatches(mode);
  }

  /** Forgets the change history, so a watch or paged list from any earlier version gets 410 Expired. */
  compactHistory(): void {
    this.targets.compactHistory();
  }

  /** Removes every pending failure and latency. */
  reset(): void {
    this.failures = [];
    this.latencies = [];
  }

  /** The failure to inject into this request, consuming one use of the first matching rule. */
  takeFailure(request: RequestInfo): InjectedFailure | undefined {
    const rule = this.failures.find((r) => matchesRequest(r.match, request));
    if (rule === undefined) return undefined;
    rule.remaining -= 1;
    if (rule.remaining <= 0) this.failures = this.failures.filter((r) => r !== rule);
    return rule.failure;
  }

  /** Total delay for this request. */
  latencyFor(request: RequestInfo): number {
    return this.latencies.filter((r) => matchesRequest(r.match, request)).reduce((sum, r) => sum + r.ms, 0);
  }
}
