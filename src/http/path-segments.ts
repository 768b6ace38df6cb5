/**
 * A request path's segments, percent-decoded, for Tessera's HTTP servers. `decodeURIComponent`
 * throws on a malformed escape (`%E0%A4`), and a throw inside a request listener ends the process,
 * so the servers ask here and answer 400 or 404 on null.
 */

/** `path` split on `/` with each segment decoded; empty segments kept. Null when an escape is malformed. */
export function decodePathSegments(path: string): string[] | null {
  try {
    return path.split('/').map((segment) => decodeURIComponent(segment));
  } catch {
    return null;
  }
}
