#!/usr/bin/env bash
# Installs the Debian packages the tests need, when missing: a real
# PostgreSQL server for the engine tests, openssl and curl for the local
# control plane. Runs apt-get update at most once.
set -euo pipefail
say() { printf '[deps] %s\n' "$*" >&2; }
missing=()
need() { dpkg -s "$1" >/dev/null 2>&1 || missing+=("$1"); }
need postgresql
need openssl
need curl
need ca-certificates
if [ ${#missing[@]} -eq 0 ]; then
  say "Debian packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
say "installing ${missing[*]} (apt-get)"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The package starts a cluster of its own; the tests start private servers.
$SUDO systemctl disable --now postgresql >/dev/null 2>&1 || $SUDO service postgresql stop >/dev/null 2>&1 || true
say "installed ${missing[*]}"
