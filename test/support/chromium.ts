/**
 * Debian's Chromium for the browser tests, driven through playwright-core (which ships no
 * browser). `npm test` installs it when it is missing (scripts/ensure-test-tools.sh); set
 * CHROMIUM_PATH to use another build.
 */
import { existsSync } from 'node:fs';

import { chromium, type Browser } from 'playwright-core';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/lib/chromium/chromium'];

export function chromiumPath(): string {
  const wanted = process.env.CHROMIUM_PATH;
  if (wanted !== undefined && wanted !== '') {
    if (!existsSync(wanted)) throw new Error(`CHROMIUM_PATH=${wanted} does not exist`);
    return wanted;
  }
  const found = CANDIDATES.find((path) => existsSync(path));
  if (found === undefined) {
    throw new Error(
      `no Chromium found (looked at ${CANDIDATES.join(', ')}): install Debian's with \`apt-get install chromium\` ` +
        '(scripts/ensure-test-tools.sh does it when run as root), or set CHROMIUM_PATH',
    );
  }
  return found;
}

export async function launchChromium(): Promise<Browser> {
  // No sandbox: CI and this machine run as root in a container, where Chromium's sandbox cannot start.
  return chromium.launch({ executablePath: chromiumPath(), args: ['--no-sandbox', '--disable-dev-shm-usage'], timeout: 60_000 });
}
