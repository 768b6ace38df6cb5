/**
 * Runs many simulation jobs, on worker threads when more than one core is asked for: a study of
 * 13 traces × 6 policies × 10 seeds is embarrassingly parallel. Results come back in job order
 * whatever order they finish in.
 */
import { Worker } from 'node:worker_threads';

import type { TraceSpec } from './files.js';
import { type Job, type JobResult, runJob, TraceCache } from './jobs.js';

export interface StudyOptions {
  readonly workers: number;
  /** Called as each job finishes (done counts finished jobs). */
  readonly onProgress?: ((result: JobResult, done: number, total: number) => void) | undefined;
}

/**
 * A worker thread running ./worker. Built, that is worker.js. From source (tests, `tsx`), it is
 * worker.ts, and module hooks do not follow a thread: the thread registers tsx itself first.
 */
function startWorker(specs: readonly TraceSpec[]): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./worker.js', import.meta.url), { workerData: specs });
  const tsx = import.meta.resolve('tsx/esm/api');
  const script = new URL('./worker.ts', import.meta.url).href;
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(script)}); });`;
  return new Worker(boot, { eval: true, workerData: specs });
}

export async function runStudy(specs: readonly TraceSpec[], jobs: readonly Job[], options: StudyOptions): Promise<JobResult[]> {
  const results = new Array<JobResult>(jobs.length);
  let done = 0;
  const finish = (i: number, r: JobResult): void => {
    results[i] = r;
    done++;
    options.onProgress?.(r, done, jobs.length);
  };
  const workers = Math.max(1, Math.min(options.workers, jobs.length));
  if (workers === 1) {
    const cache = new TraceCache(specs);
    for (let i = 0; i < jobs.length; i++) {
      finish(i, runJob(cache, jobs[i] as Job));
      // Let progress output and signals through between runs.
      await new Promise((resolve) => setImmediate(resolve));
    }
    return results;
  }
  let next = 0;
  const pool = Array.from({ length: workers }, () => startWorker(specs));
  try {
    await Promise.all(
      pool.map(
        (worker) =>
          new Promise<void>((resolve, reject) => {
            let current = -1;
            const feed = (): void => {
              if (next >= jobs.length) {
                resolve();
                return;
              }
              current = next++;
              worker.postMessage(jobs[current]);
            };
            worker.on('message', (m: { ok: true; result: JobResult } | { ok: false; error: string }) => {
              if (!m.ok) {
                reject(new Error(m.error));
                return;
              }
              finish(current, m.result);
              feed();
            });
            worker.on('error', reject);
            worker.on('exit', (code) => {
              if (next < jobs.length || current < 0 || results[current] === undefined) reject(new Error(`a simulation worker exited (code ${String(code)})`));
            });
            feed();
          }),
      ),
    );
  } finally {
    await Promise.all(pool.map((w) => w.terminate()));
  }
  return results;
}
