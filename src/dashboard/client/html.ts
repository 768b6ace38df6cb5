import { h } from 'preact';
import htm from 'htm';

/** Tagged templates in place of JSX, so the island builds with plain esbuild and tsc, no JSX transform. */
export const html = htm.bind(h);
