#!/usr/bin/env bash
# Creates the image the Dockerfile starts FROM, debian:bookworm-slim, on a
# machine that reaches Debian's archive but no registry (our CI): the same
# minbase Debian 12 the official image is made of, slimmed as it is
# (debuerreotype's slimify: no docs, man pages, locales or apt lists), then
# `docker import`ed under the official name. Runs as root on Debian 12.
# Idempotent: does nothing when the image exists (pulled or made here).
#
#   KAMAL_NAPPER_DEBIAN_MIRROR   the archive (default: this machine's apt source)
set -euo pipefail

IMAGE=debian:bookworm-slim
export DOCKER_HOST=unix:///var/run/docker.sock
export DEBIAN_FRONTEND=noninteractive

log() { echo "[base-image] $*"; }
fail() { echo "[base-image] FAILED: $*" >&2; exit 1; }

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  log "image $IMAGE already exists"
  exit 0
fi

mirror=${KAMAL_NAPPER_DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
  # The first URI of the bookworm suite in this machine's apt sources.
  mirror=$(awk '/^URIs:/ { uri = $2 } /^Suites:.*\<bookworm\>/ && uri { print uri; exit }' \
    /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
fi
mirror=${mirror:-http://deb.debian.org/debian}

command -v debootstrap >/dev/null 2>&1 || {
  log "apt-get install debootstrap"
  apt-get install -y -qq --no-install-recommends debootstrap >/dev/null ||
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends debootstrap >/dev/null; }
}

rootfs=$(mktemp -d /var/tmp/kn-bookworm.XXXXXX)
cleanup() {
  # debootstrap mounts proc, sys and binds /dev nodes into the target; if it
  # died midway they are still there, and rm must never reach the host's.
  local m
  for m in $(awk -v r="$rootfs/" 'index($2, r) == 1 { print $2 }' /proc/mounts | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
  rm -rf --one-file-system "$rootfs"
}
trap cleanup EXIT

log "debootstrap --variant=minbase bookworm from $mirror"
start=$SECONDS
if ! debootstrap --variant=minbase --merged-usr bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1; then
  tail -n 30 "$rootfs.log" >&2
  rm -f "$rootfs.log"
  fail "debootstrap failed"
fi
rm -f "$rootfs.log"
log "debootstrap took $((SECONDS - start))s"

# What the official image configures (debuerreotype-minimizing-config), so
# that a RUN apt-get in a build behaves the same on both.
cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
EOF
cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
echo 'Acquire::GzipIndexes "true";' >"$rootfs/etc/apt/apt.conf.d/docker-gzip-indexes"
echo 'Acquire::Languages "none";' >"$rootfs/etc/apt/apt.conf.d/docker-no-languages"
printf 'Apt::AutoRemove::SuggestsImportant "false";\n' >"$rootfs/etc/apt/apt.conf.d/docker-autoremove-suggests"
printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
chmod 755 "$rootfs/usr/sbin/policy-rc.d"
rm -f "$rootfs/etc/apt/sources.list"
cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/debian}/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF

# Slimify: what the exclusions above would have kept out, plus caches and logs.
find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$rootfs"/usr/share/{groff,info,linda,lintian,locale,man}/* \
  "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
  "$rootfs"/var/cache/debconf/*-old "$rootfs"/var/lib/dpkg/*-old "$rootfs"/var/log/*.log \
  "$rootfs"/var/log/apt/* "$rootfs"/tmp/* "$rootfs"/dev/*
: >"$rootfs/etc/machine-id" 2>/dev/null || true
# The container gets its own /etc/hostname, /etc/hosts and /etc/resolv.conf.
rm -f "$rootfs/etc/hostname" "$rootfs/etc/resolv.conf"
[ -z "$(awk -v r="$rootfs/" 'index($2, r) == 1' /proc/mounts)" ] || fail "debootstrap left mounts under $rootfs"

log "docker import as $IMAGE"
tar --numeric-owner -C "$rootfs" -c . | docker import --change 'CMD ["bash"]' - "$IMAGE" >/dev/null
docker image inspect "$IMAGE" >/dev/null 2>&1 || fail "docker import did not produce $IMAGE"
log "built $IMAGE ($(docker image inspect -f '{{.Size}}' "$IMAGE") bytes) in $((SECONDS - start))s"
