#!/usr/bin/env bash
# Install the system packages fupin-gis needs, only those missing (Debian/Ubuntu, root or sudo).
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive

missing() { for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"; done; }
updated=0
install() {
  local need; need=$(missing "$@")
  [ -z "$need" ] && return 0
  if [ "$updated" -eq 0 ]; then $SUDO apt-get update -q; updated=1; fi
  # shellcheck disable=SC2086
  $SUDO apt-get install -y -q --no-install-recommends $need
}

install postgresql postgresql-contrib chromium fonts-noto-cjk gdal-bin poppler-utils
# Node.js/npm and venv may come from elsewhere (nodesource, pyenv): only install them when missing.
command -v npm >/dev/null 2>&1 || install nodejs npm
python3 -c 'import venv, ensurepip' 2>/dev/null || install python3-venv
# PostGIS and pgRouting for the PostgreSQL major version that is installed.
pgver=$(ls /usr/lib/postgresql | sort -n | tail -1)
install "postgresql-${pgver}-postgis-3" "postgresql-${pgver}-pgrouting"
# Debian starts a system cluster on install; fupin-gis runs its own, so leave that one alone.
