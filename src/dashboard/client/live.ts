import { useEffect, useState } from 'preact/hooks';

import type { DashboardView } from '../view.js';

export type LiveStatus = 'connecting' | 'live' | 'reconnecting' | 'closed';

/**
 * The latest document: fetched once (a fetched body is parsed far quicker than the same JSON inlined
 * in the HTML), then replaced by each event of the stream. The stream is opened with the version
 * fetched, so the server does not send the same document again at once; each event is a whole
 * document, and EventSource reconnects by itself after an error.
 */
export function useLiveView(api: string): { view: DashboardView | null; status: LiveStatus; error: string | null } {
  const [view, setView] = useState<DashboardView | null>(null);
  const [status, setStatus] = useState<LiveStatus>('connecting');
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let source: EventSource | null = null;
    let cancelled = false;
    const follow = (since: number | null): void => {
      source = new EventSource(since === null ? `${api}/events` : `${api}/events?since=${String(since)}`);
      source.onopen = () => setStatus('live');
      // CLOSED means the browser gave up (e.g. the server answered with an error status): no retry comes.
      source.onerror = () => setStatus(source?.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting');
      source.onmessage = (event: MessageEvent<string>) => {
        try {
          setView(JSON.parse(event.data) as DashboardView);
          setError(null);
        } catch (problem) {
          console.warn('dashboard: an event is not JSON', problem);
        }
      };
    };
    fetch(api)
      .then(async (response) => {
        if (!response.ok) throw new Error(`${api} answered ${String(response.status)}: ${await response.text()}`);
        return (await response.json()) as DashboardView;
      })
      .then(
        (first) => {
          if (cancelled) return;
          setView(first);
          follow(first.version);
        },
        (problem: unknown) => {
          if (cancelled) return;
          // The stream's first event carries the document too: fall back on it.
          setError(String(problem));
          follow(null);
        },
      );
    return () => {
      cancelled = true;
      source?.close();
    };
  }, [api]);
  return { view, status, error };
}
