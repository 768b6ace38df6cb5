#!/usr/bin/env bash
# Tools some tests drive, installed from Debian when missing and this runs as root (CI, a fresh
# container); otherwise it says how, and the tests report what they could not find:
#   - Chromium, for the dashboard's browser test (through playwright-core);
#   - kubectl (`kubernetes-client`), which cross-checks the in-memory API server, the Helm chart's
#     manifests and the demo cluster. Those tests skip, saying so, without it.
set -euo pipefail

have_chromium() {
  [[ -n "${CHROMIUM_PATH:-}" ]] || command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1
}

missing=()
have_chromium || missing+=(chromium)
command -v kubectl >/dev/null 2>&1 || missing+=(kubernetes-client)
((${#missing[@]} == 0)) && exit 0

if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
  echo "> installing ${missing[*]} (Debian) for the tests that drive them"
  export DEBIAN_FRONTEND=noninteractive
  # A failed install (no network, a held package) is reported, not fatal: the tests say what they miss.
  if ! { apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }; then
    echo "scripts/ensure-test-tools.sh: installing ${missing[*]} failed; the browser test fails without Chromium, the kubectl checks skip without kubectl" >&2
  fi
else
  echo "scripts/ensure-test-tools.sh: ${missing[*]} missing and this is not root: run \`sudo apt-get install ${missing[*]}\` (or set CHROMIUM_PATH); the browser test fails without Chromium, the kubectl checks skip without kubectl" >&2
fi
