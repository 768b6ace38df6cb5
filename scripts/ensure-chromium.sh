#!/usr/bin/env bash
# The dashboard's browser test drives Debian's Chromium through playwright-core. Install it when it
# is missing and this runs as root (CI, a fresh container); otherwise say how, and let the test
# report what it could not find.
set -euo pipefail

if [[ -n "${CHROMIUM_PATH:-}" ]] || command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
  exit 0
fi
if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
  echo '> installing chromium (Debian) for the dashboard browser test'
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends chromium >/dev/null
else
  echo 'scripts/ensure-chromium.sh: chromium is missing and this is not root: run `sudo apt-get install chromium` (or set CHROMIUM_PATH); the browser test will fail without it' >&2
fi
