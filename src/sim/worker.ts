/** A simulation worker thread: runs the jobs it is sent and posts their results back. */
import { parentPort, workerData } from 'node:worker_threads';

import type { TraceSpec } from './files.js';
import { type Job, runJob, TraceCache } from './jobs.js';

const port = parentPort;
if (!port) throw new Error('src/sim/worker runs as a worker thread only');
const cache = new TraceCache(workerData as TraceSpec[]);
port.on('message', (job: Job) => {
  try {
    port.postMessage({ ok: true, result: runJob(cache, job) });
  } catch (e) {
    port.postMessage({ ok: false, error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  }
});
