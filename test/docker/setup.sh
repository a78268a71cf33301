#!/usr/bin/env bash
# Prepares a Docker Engine for the real-engine tests (test/docker/engine-real.test.ts).
# Runs as root on Debian 12, before the tests, in CI and on a developer machine.
# Idempotent: every step checks first and does nothing when already done.
#
#   1. install docker.io and busybox-static (apt-get update only when a package is unknown)
#   2. start dockerd in the background unless something answers on /var/run/docker.sock
#   3. wait (bounded) until `docker version` reaches the daemon
#   4. build the local image kamal-napper-test:latest from busybox-static with `docker import`
#
# No registry is reachable from our machines, so nothing here ever pulls an image.
set -euo pipefail

SOCKET=/var/run/docker.sock
IMAGE=kamal-napper-test:latest
DOCKERD_LOG=${KAMAL_NAPPER_DOCKERD_LOG:-/var/log/kamal-napper-dockerd.log}
WAIT_SECONDS=${KAMAL_NAPPER_DOCKER_WAIT_SECONDS:-60}

# The tests talk to this socket; never let a stray DOCKER_HOST send the CLI elsewhere.
export DOCKER_HOST=unix://$SOCKET
export DEBIAN_FRONTEND=noninteractive

log() { echo "[docker-setup] $*"; }
fail() { echo "[docker-setup] FAILED: $*" >&2; exit 1; }

daemon_answers() { timeout 5 docker version >/dev/null 2>&1; }

# --- 1. packages -------------------------------------------------------------
need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
# The image has no libc, so it needs the static busybox, not Debian's dynamic one.
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed' || need+=(busybox-static)
if [ ${#need[@]} -gt 0 ]; then
  # Refresh the package lists only when apt does not know a package (a fresh
  # machine), or when an install from the existing lists fails (stale mirrors).
  for pkg in "${need[@]}"; do
    if ! apt-cache show "$pkg" >/dev/null 2>&1; then
      log "apt-get update (apt does not know $pkg yet)"
      apt-get update -qq
      break
    fi
  done
  log "apt-get install ${need[*]}"
  if ! apt-get install -y -qq --no-install-recommends "${need[@]}"; then
    log "install failed; refreshing package lists and retrying"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}"
  fi
fi
command -v dockerd >/dev/null 2>&1 || fail "dockerd is not installed (apt-get install docker.io)"
command -v docker >/dev/null 2>&1 || fail "the docker CLI is not installed"

# --- 2. the daemon -----------------------------------------------------------
if daemon_answers; then
  log "a Docker daemon already answers on $SOCKET"
else
  if pgrep -x dockerd >/dev/null 2>&1; then
    log "dockerd is running but not answering yet; waiting for it"
  else
    # Our tests only use --network host, so this daemon needs neither the
    # default bridge nor iptables rules: leaving them off keeps us away from
    # the machine's firewall and from kernels without the bridge modules.
    log "starting dockerd (log: $DOCKERD_LOG)"
    mkdir -p "$(dirname "$DOCKERD_LOG")"
    nohup setsid dockerd --host "unix://$SOCKET" --bridge=none --iptables=false \
      >>"$DOCKERD_LOG" 2>&1 </dev/null &
  fi
  # --- 3. wait, bounded ------------------------------------------------------
  deadline=$((SECONDS + WAIT_SECONDS))
  until daemon_answers; do
    if [ $SECONDS -ge $deadline ]; then
      echo "[docker-setup] last lines of $DOCKERD_LOG:" >&2
      tail -n 30 "$DOCKERD_LOG" >&2 2>/dev/null || true
      fail "the Docker daemon did not answer on $SOCKET within ${WAIT_SECONDS}s"
    fi
    sleep 0.5
  done
  log "dockerd answers"
fi
docker version --format 'client {{.Client.Version}} (API {{.Client.APIVersion}}), server {{.Server.Version}} (API {{.Server.APIVersion}})' ||
  fail "docker version did not report both client and server"

# --- 4. the test image -------------------------------------------------------
if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  log "image $IMAGE already exists"
else
  log "building $IMAGE from /bin/busybox (docker import, no registry)"
  rootfs=$(mktemp -d)
  trap 'rm -rf "$rootfs"' EXIT
  mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/tmp" "$rootfs/www"
  cp /bin/busybox "$rootfs/bin/busybox"
  # One relative symlink per applet, so `sh`, `httpd`, `sleep`... resolve on PATH=/bin.
  for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$rootfs/bin/$applet"
  done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
  echo 'root:x:0:' >"$rootfs/etc/group"
  chmod 1777 "$rootfs/tmp"
  echo OK >"$rootfs/www/up"
  tar -C "$rootfs" -c . | docker import \
    --change 'ENV PATH=/bin' \
    --change 'WORKDIR /' \
    --change 'CMD ["sh"]' \
    - "$IMAGE" >/dev/null
  docker image inspect "$IMAGE" >/dev/null 2>&1 || fail "docker import did not produce $IMAGE"
  log "built $IMAGE"
fi
log "ready"
