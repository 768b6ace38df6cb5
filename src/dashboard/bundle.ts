/**
 * Builds the dashboard's browser bundle (the Preact island in src/dashboard/client/) with esbuild:
 * `app.js` and `app.css` in one directory. `npm run build` writes them to dist/ui, where the
 * scheduler serves them from; tests build into a directory of their own.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { build } from 'esbuild';

/** The island's entry, from src/dashboard and dist/dashboard alike (the source is not copied to dist). */
export const CLIENT_ENTRY = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'dashboard', 'client', 'app.ts');

export interface BundleResult {
  readonly js: string;
  readonly css: string;
  readonly bytes: { readonly js: number; readonly css: number };
}

export async function buildDashboardBundle(outDir: string): Promise<BundleResult> {
  const result = await build({
    entryPoints: [CLIENT_ENTRY],
    bundle: true,
    minify: true,
    format: 'esm',
    target: 'es2022',
    outdir: outDir,
    entryNames: 'app',
    logLevel: 'silent',
    metafile: true,
    legalComments: 'none',
  });
  const bytes = { js: 0, css: 0 };
  for (const [file, output] of Object.entries(result.metafile.outputs)) {
    if (file.endsWith('.js')) bytes.js = output.bytes;
    if (file.endsWith('.css')) bytes.css = output.bytes;
  }
  return { js: join(outDir, 'app.js'), css: join(outDir, 'app.css'), bytes };
}
