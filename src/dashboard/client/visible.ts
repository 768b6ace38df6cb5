import type { RefObject } from 'preact';
import { useEffect, useState } from 'preact/hooks';

/** How far outside the viewport an element counts as near: a screen or so of scrolling ahead. */
const MARGIN = '800px 0px';

/**
 * Whether the element has come near the viewport; once it has, it stays so. Lets a long list build
 * its costly parts only where someone may look, while its cheap parts (headings) are all there.
 */
export function useSeen(ref: RefObject<Element>, initially: boolean): boolean {
  const [seen, setSeen] = useState(initially);
  useEffect(() => {
    const el = ref.current;
    if (seen || el === null) return undefined;
    const observer = new IntersectionObserver(
      (entries) => {
        if (entries.some((e) => e.isIntersecting)) setSeen(true);
      },
      { rootMargin: MARGIN },
    );
    observer.observe(el);
    return () => observer.disconnect();
  }, [seen, ref]);
  return seen;
}
