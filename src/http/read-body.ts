/**
 * Request bodies for Tessera's HTTP servers (the extender and the admission webhook): read whole,
 * up to a limit, in a way that lets the client see the 413.
 */
import type { IncomingMessage } from 'node:http';

/**
 * Past the limit, the rest of a body is read and dropped up to this many bytes so that the client,
 * still sending, can read the 413; beyond it the connection is cut.
 */
const DISCARD_LIMIT_BYTES = 8 * 1024 * 1024;

/**
 * Reads the body, or returns `'too-large'` once it passes `limit`. A body past the limit is
 * still read and dropped (up to {@link DISCARD_LIMIT_BYTES}) so that the 413 goes out on a
 * connection the client is no longer writing to; a client still sending gets a reset otherwise
 * and may never see the answer.
 */
export function readBody(request: IncomingMessage, limit: number): Promise<Buffer | 'too-large' | 'cut'> {
  const declared = Number(request.headers['content-length'] ?? '0');
  return new Promise((resolve, reject) => {
    if (declared > DISCARD_LIMIT_BYTES) {
      resolve('cut');
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (value: Buffer | 'too-large' | 'cut'): void => {
      if (settled) return;
      settled = true;
      resolve(value);
    };
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > DISCARD_LIMIT_BYTES) {
        settle('cut');
      } else if (size <= limit) {
        chunks.push(chunk);
      } else {
        chunks.length = 0;
      }
    });
    request.on('end', () => settle(size > limit ? 'too-large' : Buffer.concat(chunks)));
    request.on('error', (error) => {
      if (settled) return;
      settled = true;
      reject(error);
    });
    request.on('close', () => settle('cut'));
  });
}
