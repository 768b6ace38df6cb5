/**
 * Test helpers for code that talks to the API server: a raw watch reader, so a test can assert
 * the exact event stream a client would receive.
 */
import { get, type ClientRequest } from 'node:http';
import { createInterface } from 'node:readline';
import { isJsonObject, type JsonObject } from './json.js';

export interface WatchEvent {
  readonly type: string;
  readonly object: JsonObject;
}

/** A watch stream opened on a URL, read one event at a time. */
export interface WatchReader {
  /** The HTTP status of the response. */
  readonly status: number;
  /**
   * The next event, or `'end'` once the server has ended the stream.
   * @throws Error when nothing arrives within `timeoutMs`
   */
  next(timeoutMs?: number): Promise<WatchEvent | 'end'>;
  /** Events that arrive within `ms`, stopping early at the end of the stream. */
  drain(ms: number): Promise<WatchEvent[]>;
  close(): void;
}

/**
 * Opens a watch (`url` must already carry `watch=true` or a `/watch/` path) and resolves once
 * the response headers arrive.
 */
export function openWatch(url: string): Promise<WatchReader> {
  return new Promise((resolve, reject) => {
    const queue: (WatchEvent | 'end')[] = [];
    const waiters: ((item: WatchEvent | 'end') => void)[] = [];
    const push = (item: WatchEvent | 'end'): void => {
      const waiter = waiters.shift();
      if (waiter !== undefined) waiter(item);
      else queue.push(item);
    };
    let ended = false;
    const end = (): void => {
      if (ended) return;
      ended = true;
      push('end');
    };
    const request: ClientRequest = get(url, (response) => {
      response.on('error', end);
      response.on('close', end);
      const lines = createInterface({ input: response });
      lines.on('line', (line) => {
        if (line.trim() === '') return;
        let parsed: unknown;
        try {
          parsed = JSON.parse(line);
        } catch {
          parsed = undefined;
        }
        // A malformed line becomes an INVALID event, so the test fails on it instead of crashing.
        if (!isJsonObject(parsed) || typeof parsed['type'] !== 'string' || !isJsonObject(parsed['object'])) {
          push({ type: 'INVALID', object: { line } });
          return;
        }
        push({ type: parsed['type'], object: parsed['object'] });
      });
      lines.on('close', end);
      // readline re-emits the response's errors (an aborted stream) on itself.
      lines.on('error', end);
      const next = (timeoutMs = 5000): Promise<WatchEvent | 'end'> => {
        const ready = queue.shift();
        if (ready !== undefined) return Promise.resolve(ready);
        if (ended) return Promise.resolve('end');
        return new Promise((resolveNext, rejectNext) => {
          const timer = setTimeout(() => {
            const at = waiters.indexOf(waiter);
            if (at >= 0) waiters.splice(at, 1);
            rejectNext(new Error(`no watch event within ${timeoutMs} ms from ${url}`));
          }, timeoutMs);
          const waiter = (item: WatchEvent | 'end'): void => {
            clearTimeout(timer);
            resolveNext(item);
          };
          waiters.push(waiter);
        });
      };
      resolve({
        status: response.statusCode ?? 0,
        next,
        async drain(ms) {
          const events: WatchEvent[] = [];
          const until = Date.now() + ms;
          for (;;) {
            const left = until - Date.now();
            if (left <= 0) return events;
            let item: WatchEvent | 'end';
            try {
              item = await next(left);
            } catch {
              return events;
            }
            if (item === 'end') {
              queue.unshift('end');
              return events;
            }
            events.push(item);
          }
        },
        close() {
          request.destroy();
        },
      });
    });
    request.on('error', (error) => {
      if (!ended) reject(error);
      end();
    });
  });
}
