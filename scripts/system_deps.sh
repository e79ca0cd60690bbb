#!/usr/bin/env bash
# Install the Debian packages a make target needs, when they are missing.
#   scripts/system_deps.sh run    the virtualenv module, gettext and Redis (the Celery broker make run starts)
#   scripts/system_deps.sh test   also PostgreSQL 15, Chromium, a CJK font, wrk and openssl
set -euo pipefail
target=${1:-test}

missing=()
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
# msgfmt, to compile the translation catalogues.
command -v msgfmt >/dev/null || missing+=(gettext)
command -v redis-server >/dev/null || missing+=(redis-server)
if [ "$target" = test ]; then
  [ -x /usr/lib/postgresql/15/bin/initdb ] || missing+=(postgresql)
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  command -v wrk >/dev/null || missing+=(wrk)
  # A self-signed certificate for the test of a Chat call's deadline over TLS.
  command -v openssl >/dev/null || missing+=(openssl)
  # CJK glyphs for the browser tests' screenshots.
  [ -d /usr/share/fonts/truetype/wqy ] || missing+=(fonts-wqy-zenhei)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "Missing Debian packages: ${missing[*]}. Install them (sudo apt-get install ${missing[*]}) or run as root." >&2
  exit 1
fi
echo "Installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
