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
# A live dockerd process (pgrep alone would also match a zombie left by a
# killed session, and we would wait for it in vain).
dockerd_alive() { ps -C dockerd -o stat= 2>/dev/null | grep -qv '^Z'; }

# dockerd refuses to start while its pid file names a process that exists, and
# a zombie exists: on machines whose init does not reap, a killed dockerd (or
# its containerd) stays one. Remove pid files whose process is gone or a zombie.
clear_stale_pidfile() {
  local pid
  [ -f "$1" ] || return 0
  pid=$(cat "$1" 2>/dev/null || true)
  if [ -z "$pid" ] || ! ps -p "$pid" -o stat= 2>/dev/null | grep -qv '^Z'; then
    log "removing stale $1 (pid ${pid:-?} is not running)"
    rm -f "$1"
  fi
}

start_dockerd() {
  clear_stale_pidfile /var/run/docker.pid
  clear_stale_pidfile /var/run/docker/containerd/containerd.pid
  # Our tests only use --network host, so this daemon needs neither the
  # default bridge nor iptables rules: leaving them off keeps us away from
  # the machine's firewall and from kernels without the bridge modules.
  log "starting dockerd (log: $DOCKERD_LOG)"
  mkdir -p "$(dirname "$DOCKERD_LOG")"
  nohup setsid dockerd --host "unix://$SOCKET" --bridge=none --iptables=false \
    >>"$DOCKERD_LOG" 2>&1 </dev/null &
}

dockerd_failed() {
  echo "[docker-setup] last lines of $DOCKERD_LOG:" >&2
  tail -n 30 "$DOCKERD_LOG" >&2 2>/dev/null || true
  fail "$1"
}

if daemon_answers; then
  log "a Docker daemon already answers on $SOCKET"
else
  started=0
  if dockerd_alive; then
    log "dockerd is running but not answering yet; waiting for it"
  else
    start_dockerd
    started=1
  fi
  # --- 3. wait, bounded ------------------------------------------------------
  deadline=$((SECONDS + WAIT_SECONDS))
  until daemon_answers; do
    if ! dockerd_alive; then
      # The one we waited for went away: start our own, once; ours dying is final.
      [ $started -eq 0 ] || dockerd_failed "dockerd exited before answering on $SOCKET"
      start_dockerd
      started=1
    fi
    [ $SECONDS -lt $deadline ] || dockerd_failed "the Docker daemon did not answer on $SOCKET within ${WAIT_SECONDS}s"
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
