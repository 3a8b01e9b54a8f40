#!/usr/bin/env bash
# Builds every container image the e2e suite and the demo need, without Docker
# or a registry, as OCI image-layout tars that `ctr -n k8s.io images import`
# (containerd 2.x) takes. Each image is a Debian bookworm root filesystem
# (`debootstrap --variant=minbase`, once, copied per image) plus Debian
# packages, or a given static binary, packed by e2e/images/oci.py. Recipes,
# entrypoints and test doubles of the official images' entrypoints live in
# e2e/images/<image>/.
#
# Cached by content in ${SERVICEDB_CACHE:-~/.cache/servicedb-e2e}/images: a
# tar is named after a hash of its recipe folder, the packing code, the base
# and any binary it holds, so a run with unchanged inputs does nothing (<2 s).
# Measured on 2 cores: cold (empty cache, packages downloaded) 1 min 53 s for
# everything but the servicedb images (debootstrap ~45 s, then 1-30 s per
# image; up to ~100 s for debootstrap on a loaded machine), 1 min 43 s for all
# twelve with the .debs cached; warm (nothing to do) ~0.7 s; selftest ~50 s.
#
#   e2e/images.sh build [IMAGE...]    build what is missing; prints "NAME TAR" per image
#   e2e/images.sh list                "NAME TAR" of every image that is built
#   e2e/images.sh path IMAGE...       their tars, one a line (exit 1 if one is not built)
#   e2e/images.sh selftest [IMAGE...] run the images with runc, no kubelet (e2e/images/selftest.sh)
#
# IMAGE is a folder name under e2e/images (postgres, mariadb, ...) or the
# full image name. SERVICEDB_BINARY (default target/release/servicedb) feeds
# the servicedb and servicedb-tools images, COREDNS_BINARY (default
# $CACHE/bin/coredns) the coredns image; both are skipped when absent.
# Needs root (debootstrap, chroot, mounts).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
RECIPES=$HERE/images
CACHE=${SERVICEDB_CACHE:-$HOME/.cache/servicedb-e2e}
IMAGES=$CACHE/images
SUITE=bookworm
VARIANT=minbase
# Build order; `list` and `build` without names use it.
ALL=(pause postgres mariadb redis postgres-exporter mysqld-exporter redis-exporter
  client prometheus servicedb servicedb-tools coredns)
SERVICEDB_BINARY=$(realpath -m "${SERVICEDB_BINARY:-$REPO/target/release/servicedb}")
COREDNS_BINARY=$(realpath -m "${COREDNS_BINARY:-$CACHE/bin/coredns}")

say() { printf '[images %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { say "error: $*"; exit 1; }

# --- mounts, always undone -------------------------------------------------------

MOUNTS=()
mount_at() { # mount args..., the last one is the mount point
  mount "$@"
  MOUNTS+=("${!#}")
}
unmount_all() {
  local i
  for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
    umount "${MOUNTS[i]}" 2>/dev/null || umount -l "${MOUNTS[i]}" 2>/dev/null || true
  done
  MOUNTS=()
}
on_exit() { unmount_all; [ -z "${WORK:-}" ] || rm -rf "$WORK"; }
trap on_exit EXIT
trap 'exit 130' INT TERM

# --- host tools and the Debian mirror ------------------------------------------

need_packages() { # debian packages...
  local missing=() p
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p"); done
  [ ${#missing[@]} = 0 ] && return
  say "installing ${missing[*]} on the host"
  apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1 \
    || { apt-get update >/dev/null && apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; } \
    || die "could not install ${missing[*]}"
}

# "URI SUITE" of every enabled deb source of $SUITE (and -updates, -security)
# in the host's apt sources, one-line and deb822 formats.
debian_repos() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    sed -E 's/\[[^]]*\]//' "$f" | awk -v s="$SUITE" '$1 == "deb" && $3 ~ "^" s "(-|$)" { print $2, $3 }'
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v s="$SUITE" 'BEGIN { RS = ""; FS = "\n" }
      { t = u = su = ""; on = 1
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^Types:/) t = $i; else if ($i ~ /^URIs:/) u = $i
          else if ($i ~ /^Suites:/) su = $i; else if ($i ~ /^Enabled: *no/) on = 0 }
        if (!on || t !~ /[: ]deb( |$)/) next
        sub(/^URIs: */, "", u); sub(/^Suites: */, "", su)
        n = split(u, U, " "); m = split(su, S, " ")
        for (a = 1; a <= n; a++) for (b = 1; b <= m; b++) if (S[b] ~ "^" s "(-|$)") print U[a], S[b] }' "$f"
  done
}

debian_mirror() {
  local m; m=$(debian_repos | awk -v s="$SUITE" '$2 == s { print $1; exit }')
  [ -n "$m" ] || die "no deb source for $SUITE in /etc/apt/sources.list(.d): debootstrap needs a Debian mirror"
  echo "$m"
}

# --- chroot work -----------------------------------------------------------------

in_root() { # command... inside $ROOT, with a clean environment
  chroot "$ROOT" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LC_ALL=C DEBIAN_FRONTEND=noninteractive "$@"
}

# apt-get in $ROOT with the host's mirror and DNS, /proc (maintainer scripts
# such as mariadb-server's bootstrap read it), and the package lists and
# downloads kept in the cache (bind mounts: they never reach the image).
# Lists are refreshed at most once an hour. Files are removed before they are
# written: a link in the root must not lead a write to the host.
apt_in_root() { # apt-get args...
  local apt=$IMAGES/apt
  mkdir -p "$apt/lists/partial" "$apt/archives/partial"
  rm -f "$ROOT/etc/apt/sources.list" "$ROOT/etc/resolv.conf"
  debian_repos | awk '{ print "deb", $1, $2, "main" }' >"$ROOT/etc/apt/sources.list"
  cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
  mkdir -p "$ROOT/var/lib/apt/lists" "$ROOT/var/cache/apt/archives"
  mount_at -t proc proc "$ROOT/proc"
  mount_at --bind "$apt/lists" "$ROOT/var/lib/apt/lists"
  mount_at --bind "$apt/archives" "$ROOT/var/cache/apt/archives"
  local status=0
  {
    if [ -z "$(find "$apt/lists/.updated" -mmin -60 2>/dev/null)" ]; then
      in_root apt-get update -q && touch "$apt/lists/.updated"
    fi && in_root apt-get -q -o Dpkg::Use-Pty=0 "$@"
  } >>"$LOG" 2>&1 || status=$?
  unmount_all
  rm -f "$ROOT/etc/apt/sources.list"
  rm -f "$ROOT/etc/resolv.conf"; : >"$ROOT/etc/resolv.conf"
  [ $status = 0 ] || { tail -n 30 "$LOG" >&2; die "apt-get $* failed in $ROOT (log: $LOG)"; }
}

add_user() { # name uid [home] [shell]: the user and its group, both with this id
  local common=(--uid "$2" --gid "$2" --home-dir "${3:-/nonexistent}" --no-create-home --shell "${4:-/usr/sbin/nologin}")
  if [ "$2" -lt 1000 ]; then
    in_root groupadd --system --gid "$2" "$1"
    in_root useradd --system "${common[@]}" "$1"
  else # e.g. 65532, above login.defs' range
    in_root groupadd -K GID_MAX=65535 --gid "$2" "$1"
    in_root useradd -K UID_MAX=65535 "${common[@]}" "$1"
  fi
}

# Fails when a dynamically linked program in $ROOT lacks a library there.
check_libraries() { # path-in-root
  local missing
  missing=$(in_root ldd "$1" 2>/dev/null | grep 'not found' || true)
  [ -z "$missing" ] || die "$1 needs libraries the image lacks: $missing"
}

put() { # file-in-recipe-folder destination [mode]
  install -D -m "${3:-0755}" "$RECIPE_DIR/$1" "$ROOT$2"
}

# What no image needs: docs, man pages, translations, logs, caches, device
# nodes (the runtime makes /dev), apt sources (the build's mirror stays here).
slim_rootfs() {
  local r=$ROOT
  find "$r/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete 2>/dev/null || true
  find "$r/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
  rm -rf "$r"/usr/share/man/* "$r"/usr/share/info/* "$r"/usr/share/lintian "$r"/usr/share/linda
  find "$r/usr/share/locale" -mindepth 1 -maxdepth 1 -type d -exec rm -rf {} + 2>/dev/null || true
  rm -rf "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/* "$r"/var/cache/debconf/*-old "$r"/var/lib/dpkg/*-old \
    "$r"/var/cache/ldconfig/aux-cache "$r"/var/log/* "$r"/tmp/* "$r"/var/tmp/* "$r"/root/.bash_history
  find "$r/dev" -mindepth 1 -delete
  rm -f "$r"/etc/apt/sources.list "$r"/etc/apt/sources.list.d/* "$r/etc/resolv.conf"
  : >"$r/etc/resolv.conf"
}

# --- the shared base ---------------------------------------------------------------

configure_base() {
  printf '#!/bin/sh\n# No service starts inside an image build.\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
  chmod 0755 "$ROOT/usr/sbin/policy-rc.d"
  cat >"$ROOT/etc/dpkg/dpkg.cfg.d/01-servicedb-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*/LC_MESSAGES/*.mo
path-exclude /usr/share/lintian/*
EOF
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
    >"$ROOT/etc/apt/apt.conf.d/01-servicedb-no-recommends"
}

base_key() {
  { echo "$SUITE $VARIANT"; declare -f build_base configure_base slim_rootfs; } | sha256sum | cut -c1-16
}

# $BASE: debootstrap once per suite, variant and base code; security updates applied.
ensure_base() {
  BASE=$IMAGES/base/$SUITE-$VARIANT-$(base_key)
  [ -f "$BASE/done" ] || (build_base)
}

build_base() {
  need_packages debootstrap
  local t0=$SECONDS tmp=$BASE.tmp
  say "debootstrap --variant=$VARIANT $SUITE (once, ~60 s)"
  rm -rf "$tmp"; mkdir -p "$tmp"
  LOG=$IMAGES/logs/base.log
  mkdir -p "$IMAGES/logs"; : >"$LOG"
  debootstrap --variant="$VARIANT" "$SUITE" "$tmp/rootfs" "$(debian_mirror)" >>"$LOG" 2>&1 \
    || { tail -n 30 "$LOG" >&2; die "debootstrap failed (log: $LOG)"; }
  ROOT=$tmp/rootfs
  configure_base
  apt_in_root -y upgrade
  slim_rootfs
  touch "$tmp/done"
  rm -rf "$BASE"; mv "$tmp" "$BASE"
  find "$IMAGES/base" -mindepth 1 -maxdepth 1 -name "$SUITE-$VARIANT-*" ! -name "${BASE##*/}" -exec rm -rf {} + # older bases
  say "base $SUITE-$VARIANT ready in $((SECONDS - t0)) s: $(du -sh "$BASE/rootfs" | cut -f1)"
}

# --- recipes -----------------------------------------------------------------------

# Reads e2e/images/$1/recipe.sh into this (sub)shell: the variables below
# and, optionally, the hooks before_packages, after_packages (FROM=debian) and
# make_rootfs (FROM=scratch), run with $ROOT set.
load_recipe() {
  RECIPE_DIR=$RECIPES/$1
  [ -f "$RECIPE_DIR/recipe.sh" ] || die "unknown image '$1'; images: ${ALL[*]}"
  IMAGE="" FROM=debian PACKAGES="" USER_ID=0:0 ENTRYPOINT="" CMD="" WORKDIR=/ STOP_SIGNAL=""
  PORTS="" ESTIMATE="" BINARY="" KEY_EXTRA=""
  ENV=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
  # shellcheck disable=SC1091
  . "$RECIPE_DIR/recipe.sh"
}

# The id (folder) of an image given by folder name or full image name.
resolve() {
  local id
  for id in "${ALL[@]}"; do
    [ "$1" = "$id" ] && { echo "$id"; return; }
    [ "$1" = "$(load_recipe "$id"; echo "$IMAGE")" ] && { echo "$id"; return; }
  done
  die "unknown image '$1'; images: ${ALL[*]}"
}

# Hash of everything that makes the image (call after load_recipe).
image_key() {
  {
    declare -f build_image build_rootfs apt_in_root slim_rootfs add_user put check_libraries in_root
    cat "$RECIPES/oci.py"
    (cd "$RECIPE_DIR" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
    [ "$FROM" != debian ] || base_key
    [ -z "$BINARY" ] || sha256sum <"$BINARY"
    echo "$KEY_EXTRA"
  } | sha256sum | cut -c1-16
}

tar_path() { echo "$IMAGES/tars/$1.$(image_key).tar"; }

# --- building ----------------------------------------------------------------------

build_rootfs() {
  if [ "$FROM" = debian ]; then
    ensure_base
    cp -a "$BASE/rootfs" "$ROOT"
    if declare -F before_packages >/dev/null; then before_packages; fi
    # shellcheck disable=SC2086 # a list of names
    [ -z "$PACKAGES" ] || apt_in_root install -y --no-install-recommends $PACKAGES
    if declare -F after_packages >/dev/null; then after_packages; fi
    slim_rootfs
    # The kubelet mounts its own; this one serves other runtimes.
    [ -s "$ROOT/etc/hosts" ] || printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$ROOT/etc/hosts"
  else
    mkdir -p "$ROOT"
    make_rootfs
  fi
}

# Prints "NAME TAR"; returns 3 when its binary is missing.
build_image() { # id
  local id=$1
  load_recipe "$id"
  if [ -n "$BINARY" ] && [ ! -f "$BINARY" ]; then
    say "skipping $IMAGE: its binary $BINARY does not exist (build it first, or set ${BINARY_VAR:-the binary path})"
    return 3
  fi
  local tar; tar=$(tar_path "$id")
  if [ -f "$tar" ]; then echo "$IMAGE $tar"; return; fi
  local t0=$SECONDS note=$ESTIMATE
  [ "$FROM" != debian ] || [ -f "$IMAGES/base/$SUITE-$VARIANT-$(base_key)/done" ] \
    || note="debootstrap base ~60 s, $note"
  say "building ${IMAGE#localhost/servicedb/}${note:+ ($note)}"
  WORK=$IMAGES/work/$id
  rm -rf "$WORK"; mkdir -p "$WORK" "$IMAGES/tars"
  ROOT=$WORK/rootfs LOG=$IMAGES/logs/$id.log
  mkdir -p "$IMAGES/logs"; : >"$LOG"
  build_rootfs
  local flags=(--name "$IMAGE" --user "$USER_ID" --workdir "$WORKDIR") e p
  for e in "${ENV[@]}"; do flags+=(--env "$e"); done
  for p in $PORTS; do flags+=(--port "$p"); done
  [ -z "$ENTRYPOINT" ] || flags+=(--entrypoint "$ENTRYPOINT")
  [ -z "$CMD" ] || flags+=(--cmd "$CMD")
  [ -z "$STOP_SIGNAL" ] || flags+=(--stop-signal "$STOP_SIGNAL")
  python3 "$RECIPES/oci.py" pack --rootfs "$ROOT" --out "$WORK/image.tar" "${flags[@]}"
  find "$IMAGES/tars" -maxdepth 1 -name "$id.*.tar" -delete # older versions
  mv "$WORK/image.tar" "$tar"
  rm -rf "$WORK"; WORK=""
  say "built $IMAGE in $((SECONDS - t0)) s ($(du -h "$tar" | cut -f1))"
  echo "$IMAGE $tar"
}

cmd_build() { # ids...
  local ids=("$@") named=1 failed=() id status
  [ ${#ids[@]} -gt 0 ] || { ids=("${ALL[@]}"); named=0; }
  [ "$(id -u)" = 0 ] || die "building needs root (debootstrap, chroot, mounts)"
  mkdir -p "$IMAGES"
  exec 9>"$IMAGES/build.lock"
  flock -n 9 || { say "waiting for another e2e/images.sh build to finish"; flock 9; }
  for id in "${ids[@]}"; do
    id=$(resolve "$id")
    # Not `(...) || status=$?`: errexit would be off inside.
    set +e; (set -e; trap on_exit EXIT; build_image "$id"); status=$?; set -e
    if [ $status = 3 ] && [ $named = 0 ]; then continue; fi
    [ $status = 0 ] || failed+=("$id")
  done
  [ ${#failed[@]} = 0 ] || die "not built: ${failed[*]}"
}

cmd_list() {
  local id
  for id in "${ALL[@]}"; do
    (
      load_recipe "$id"
      if [ -n "$BINARY" ] && [ ! -f "$BINARY" ]; then
        say "$IMAGE: not built, its binary $BINARY does not exist"
      elif [ -f "$(tar_path "$id")" ]; then
        echo "$IMAGE $(tar_path "$id")"
      else
        say "$IMAGE: not built (e2e/images.sh build $id)"
      fi
    )
  done
}

cmd_path() { # images...: one tar per line; exit 1 if one is not built
  [ $# -gt 0 ] || die "usage: $0 path IMAGE..."
  local name id tar status=0
  for name; do
    id=$(resolve "$name")
    (
      load_recipe "$id"
      if [ -n "$BINARY" ] && [ ! -f "$BINARY" ]; then say "$IMAGE: its binary $BINARY does not exist"; exit 1; fi
      tar=$(tar_path "$id")
      [ -f "$tar" ] || { say "$IMAGE is not built (e2e/images.sh build $id)"; exit 1; }
      echo "$tar"
    ) || status=1
  done
  return $status
}

case "${1:-}" in
  build) shift; cmd_build "$@" ;;
  list) cmd_list ;;
  path) shift; cmd_path "$@" ;;
  selftest)
    shift
    # shellcheck source=images/selftest.sh
    . "$RECIPES/selftest.sh"
    selftest "$@" ;;
  *) echo "usage: $0 build [IMAGE...] | list | path IMAGE... | selftest [IMAGE...]" >&2; exit 2 ;;
esac
