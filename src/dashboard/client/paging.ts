/**
 * The long lists' shared parts: a text filter over the items, the first `page` of what matches,
 * and a button that shows `page` more. A thousand nodes or pods rendered at once would cost the
 * first render (and every live update) far more than they tell.
 */
import { useMemo, useState } from 'preact/hooks';

import { count } from './format.js';
import { html } from './html.js';

/** The items that match the filter text (trimmed, lower-cased before `matches` sees it); all of them for an empty filter. */
export function useFilter<T>(items: readonly T[], matches: (item: T, query: string) => boolean) {
  const [filter, setFilter] = useState('');
  const matching = useMemo(() => {
    const q = filter.trim().toLowerCase();
    return q === '' ? items : items.filter((item) => matches(item, q));
    // `matches` is a module-level function in every caller, so it is not a dependency.
  }, [items, filter]);
  return { filter, setFilter, matching };
}

/** The first pages of `items`: `shown`, how many are hidden, and how to show more or start over. */
export function usePages<T>(items: readonly T[], page: number) {
  const [limit, setLimit] = useState(page);
  const shown = items.slice(0, limit);
  return { shown, rest: items.length - shown.length, more: () => setLimit(limit + page), reset: () => setLimit(page) };
}

/** "Show 25 more (130 hidden)", or nothing when nothing is hidden. */
export function MoreButton({ rest, page, onMore }: { readonly rest: number; readonly page: number; readonly onMore: () => void }) {
  return rest > 0 ? html`<button type="button" class="more" onClick=${onMore}>Show ${Math.min(page, rest)} more (${count(rest)} hidden)</button>` : null;
}
