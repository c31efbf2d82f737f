#!/usr/bin/env bash
# The browser the dashboard tests drive: Debian's chromium (Playwright launches it by path and
# never downloads a browser of its own). `make test` runs this before pytest. As root with
# apt-get it installs the package when missing; otherwise it prints one line and succeeds,
# and the browser tests skip with the same hint.
#
#   CHROMIUM_NO_INSTALL=1  never apt-get install chromium
set -euo pipefail

CHROMIUM=/usr/bin/chromium
if [[ -x $CHROMIUM ]]; then
    exit 0
fi
if [[ $(id -u) -eq 0 && -z ${CHROMIUM_NO_INSTALL:-} ]] && command -v apt-get >/dev/null; then
    echo "browser tests: installing Debian's chromium (CHROMIUM_NO_INSTALL=1 prevents this)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends chromium; } >/dev/null 2>&1 || true
fi
if [[ ! -x $CHROMIUM ]]; then
    echo "browser tests: skipped, no $CHROMIUM (as root: apt-get install chromium)"
fi
exit 0
