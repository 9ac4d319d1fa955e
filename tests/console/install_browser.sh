#!/usr/bin/env bash
# Installs what the console's browser tests need from Debian's packages: Chromium (Playwright drives it; its own
# browser download cannot be used here) and a CJK font, without which every Chinese screenshot shows boxes.
# Idempotent: does nothing when both are there. Needs root (CI runs as root); otherwise it only says what is missing.
set -uo pipefail

have_browser() { [ -x /usr/bin/chromium ]; }
have_cjk_font() { fc-list :lang=zh 2>/dev/null | grep -qi 'noto'; }

if have_browser && have_cjk_font; then
  exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install_browser.sh: chromium or fonts-noto-cjk missing and this is not a root Debian shell;" \
    "install them (apt-get install chromium fonts-noto-cjk) or the browser tests skip (fail under CI=true)" >&2
  exit 0
fi
echo "install_browser.sh: installing chromium and fonts-noto-cjk from Debian's packages" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends chromium fonts-noto-cjk fontconfig >/dev/null
status=$?
if [ $status -ne 0 ]; then
  echo "install_browser.sh: apt-get failed ($status); the browser tests will say why" >&2
fi
exit 0
