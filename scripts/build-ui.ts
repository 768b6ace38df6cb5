/** `npm run build`'s last step: the dashboard bundle into dist/ui (src/dashboard/bundle.ts). */
import { buildDashboardBundle } from '../src/dashboard/bundle.js';
import { DEFAULT_BUNDLE_DIR } from '../src/dashboard/server.js';

const result = await buildDashboardBundle(DEFAULT_BUNDLE_DIR);
process.stdout.write(`dashboard bundle: ${result.js} (${String(Math.round(result.bytes.js / 1024))} KiB), ${result.css} (${String(Math.round(result.bytes.css / 1024))} KiB)\n`);
