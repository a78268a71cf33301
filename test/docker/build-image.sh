#!/usr/bin/env bash
# Builds the image Kamal boots (the repository's Dockerfile) from the current
# tree, as a user would with `docker build`, plus what our machines need:
#   --network host    dockerd runs with --bridge=none (test/docker/setup.sh),
#                     so build containers have no network of their own
#   EXTRA_CA_CERTS    the TLS-intercepting proxy's CA from
#                     /usr/local/share/ca-certificates, trusted by the build only
# and the base image made from Debian's archive when no registry has it
# (test/docker/base-image.sh).
#
# Always builds the current source; Docker's layer cache makes that a few
# seconds when only src/ changed, and less when nothing did. Concurrent calls
# wait for each other. Build output goes to stderr; the last line on stdout
# is the image tag.
#
#   KAMAL_NAPPER_IMAGE   the tag (default kamal-napper:v0.9.2.0: release
#                        number 0 is never published, and Kamal reads
#                        0.9.2.0 as 0.9.2, its minimum)
set -euo pipefail

cd "$(dirname "$0")/../.."
IMAGE=${KAMAL_NAPPER_IMAGE:-kamal-napper:v0.9.2.0}
export DOCKER_HOST=unix:///var/run/docker.sock

exec 9>"${TMPDIR:-/tmp}/kamal-napper-build-image.lock"
flock 9

if ! docker image inspect debian:bookworm-slim >/dev/null 2>&1; then
  bash test/docker/base-image.sh >&2
fi

args=(--network host --force-rm --tag "$IMAGE"
  --build-arg "VERSION=${IMAGE##*:}"
  --build-arg "REVISION=$(git rev-parse HEAD 2>/dev/null || true)")
shopt -s nullglob
cas=(/usr/local/share/ca-certificates/*.crt /usr/local/share/ca-certificates/*/*.crt)
shopt -u nullglob
if [ ${#cas[@]} -gt 0 ]; then
  args+=(--build-arg "EXTRA_CA_CERTS=$(cat "${cas[@]}")")
fi

start=$SECONDS
docker build "${args[@]}" . >&2
echo "[build-image] built $IMAGE in $((SECONDS - start))s" >&2
echo "$IMAGE"
