/**
 * What the long-running subcommands (`scheduler`, `node-agent`, `demo`) share as processes: log
 * lines on stderr with a timestamp, and running until SIGTERM or SIGINT, then closing cleanly.
 */

/** One log line on stderr, prefixed with the time in ISO 8601. */
export function logLine(line: string): void {
  process.stderr.write(`${new Date().toISOString()} ${line}\n`);
}

/**
 * Resolves after the first SIGTERM or SIGINT, once `close()` has settled (a failing close still
 * ends the wait, so the process exits). `announce` hears which signal arrived.
 */
export function closeOnSignal(close: () => Promise<unknown>, announce: (signal: string) => void): Promise<void> {
  return new Promise((resolve) => {
    const stop = (signal: string): void => {
      announce(signal);
      close().then(
        () => resolve(),
        () => resolve(),
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
