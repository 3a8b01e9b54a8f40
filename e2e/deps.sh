#!/usr/bin/env bash
# Installs the Debian packages the tests need, when missing: real
# PostgreSQL, MariaDB and Redis servers for the engine and backup tests,
# Prometheus and the three exporters for the monitoring tests,
# zstd for the backup benchmark's baseline, openssl and
# curl for the local control plane; runc, iptables, ipset, conntrack, the
# CNI plugins and debootstrap for the real node and its images.
# Runs apt-get update at most once.
set -euo pipefail
say() { printf '[deps] %s\n' "$*" >&2; }
missing=()
need() { dpkg -s "$1" >/dev/null 2>&1 || missing+=("$1"); }
need postgresql
need mariadb-server
need mariadb-client
need redis-server
need zstd
need prometheus
need prometheus-postgres-exporter
need prometheus-mysqld-exporter
need prometheus-redis-exporter
need time
need openssl
need curl
need ca-certificates
need runc
need iptables
need ipset
need conntrack
need iproute2
need containernetworking-plugins
need debootstrap
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
# The packages start servers of their own; the tests start private ones.
for service in postgresql mariadb redis-server prometheus prometheus-postgres-exporter \
  prometheus-mysqld-exporter prometheus-redis-exporter; do
  $SUDO systemctl disable --now "$service" >/dev/null 2>&1 || $SUDO service "$service" stop >/dev/null 2>&1 || true
done
say "installed ${missing[*]}"
