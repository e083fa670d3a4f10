#!/usr/bin/env bash
# Installs Debian's `chromium` package when /usr/bin/chromium is absent: the headless browser that
# prints the annual reports to PDF and drives the site tests. Runs as root (these machines have no
# sudo), with poppler-utils (pdftotext, for the tests). Elsewhere install them yourself, or set
# CHROMIUM to a browser binary.
set -euo pipefail
if [ -n "${CHROMIUM:-}" ] && [ -x "${CHROMIUM}" ]; then
  exit 0
fi
if [ -x /usr/bin/chromium ] && command -v pdftotext >/dev/null; then
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "chromium is missing and this is not root: install Debian's chromium package (apt-get install chromium)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core poppler-utils >/dev/null
/usr/bin/chromium --version
