# The image Kamal boots as its proxy container: kamal-napper under the name
# kamal-proxy, a drop-in for basecamp/kamal-proxy: the same CMD, user and uid,
# state directory, ports and title label (Kamal prunes the old proxy
# container by that label on `kamal proxy reboot`).
#
#   docker build -t ghcr.io/<owner>/kamal-napper:v0.9.2.1 .
#
# Behind a TLS-intercepting proxy, trust its CA for this build only:
#   --build-arg EXTRA_CA_CERTS="$(cat /usr/local/share/ca-certificates/*.crt)"
#
# Builds with BuildKit (amd64 and arm64, natively or under QEMU) and with the
# legacy builder alike, so it uses no BuildKit-only syntax, and the build
# stage works out its architecture itself (TARGETARCH is BuildKit's).
#
# The build stage gets Node and npm from the npm registry, each checked
# against a pinned sha512 (Node's from package-lock.json, npm's below), and
# runs `npm ci --omit=dev`, which installs the runtime package for this
# architecture again through the lock. The final stage is FROM scratch and
# holds only what runs: node (stripped, without its C headers), its shared
# libraries, /bin/sh and the two tools bin/kamal-proxy calls, the CA bundle
# for ACME, and the app.

FROM debian:bookworm-slim AS build
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl binutils \
 && rm -rf /var/lib/apt/lists/*

# npm only runs the install; the image does not contain it.
ARG NPM_VERSION=11.19.1
ARG NPM_INTEGRITY=sha512-ztsxKxt/kkIaAs+2i0GU6I+DRmUdrNasxTZKJe9TCdSjKxlhah/4r/hl5ygMD6XAg1qZ9c2TNomR4qgOydp10g==
ARG NPM_REGISTRY=https://registry.npmjs.org
ARG EXTRA_CA_CERTS=
WORKDIR /rootfs/opt/kamal-napper
COPY package.json package-lock.json ./
RUN set -eu; \
    case "$(dpkg --print-architecture)" in \
      amd64) arch=x64 ;; arm64) arch=arm64 ;; \
      *) echo "unsupported architecture: $(dpkg --print-architecture)" >&2; exit 1 ;; \
    esac; \
    # The extra CA lives in a temp bundle for curl and npm, never in /etc/ssl.
    if [ -n "$EXTRA_CA_CERTS" ]; then \
      cat /etc/ssl/certs/ca-certificates.crt > /tmp/build-ca.pem; \
      printf '%s\n' "$EXTRA_CA_CERTS" >> /tmp/build-ca.pem; \
      export CURL_CA_BUNDLE=/tmp/build-ca.pem NODE_EXTRA_CA_CERTS=/tmp/build-ca.pem npm_config_cafile=/tmp/build-ca.pem; \
    fi; \
    lock_field() { \
      awk -v key="\"node_modules/node-linux-$arch\": {" -v field="\"$1\":" \
        'index($0, key) { found = 1 } found && index($0, field) { sub(/^[^:]*: *"/, ""); sub(/",?$/, ""); print; exit }' \
        package-lock.json; \
    }; \
    node_version=$(lock_field version); node_integrity=$(lock_field integrity); \
    [ -n "$node_version" ] && [ -n "$node_integrity" ] || { echo "node-linux-$arch is not in package-lock.json" >&2; exit 1; }; \
    fetch() { \
      curl -fsSL --retry 3 -o "$1" "$2"; \
      want=$(printf '%s' "${3#sha512-}" | base64 -d | od -An -v -tx1 | tr -d ' \n'); \
      echo "$want  $1" | sha512sum -c - >/dev/null || { echo "sha512 mismatch: $2" >&2; exit 1; }; \
    }; \
    fetch /tmp/node.tgz "$NPM_REGISTRY/node-linux-$arch/-/node-linux-$arch-$node_version.tgz" "$node_integrity"; \
    fetch /tmp/npm.tgz "$NPM_REGISTRY/npm/-/npm-$NPM_VERSION.tgz" "$NPM_INTEGRITY"; \
    mkdir -p /tmp/node /tmp/npm; \
    tar -xzf /tmp/node.tgz -C /tmp/node --strip-components=1; \
    tar -xzf /tmp/npm.tgz -C /tmp/npm --strip-components=1; \
    # Scripts stay off: "prepare" warms the compile cache, which must be done
    # as the runtime user (the final stage does it).
    PATH="/tmp/node/bin:$PATH" node /tmp/npm/bin/npm-cli.js ci --omit=dev --ignore-scripts \
      --no-audit --no-fund --update-notifier=false --registry="$NPM_REGISTRY" --cache=/tmp/npm-cache; \
    runtime=node_modules/node-linux-$arch; \
    rm -rf "$runtime/include" "$runtime/share" /tmp/node /tmp/npm /tmp/npm-cache /tmp/*.tgz /tmp/build-ca.pem; \
    strip --strip-all "$runtime/bin/node"; \
    "$runtime/bin/node" -e 'process.exit(0)'

# The root file system of the final image, distroless-style.
RUN set -eu; \
    r=/rootfs; \
    mkdir -p "$r/etc/ssl/certs" "$r/usr/bin" "$r/usr/local/bin" "$r/root" "$r/tmp" \
      "$r/home/kamal-proxy/.config/kamal-proxy" node_modules/.cache/kamal-napper-compile; \
    node=$(echo node_modules/node-linux-*/bin/node); \
    # Each binary and what ldd says it loads, under the real directory
    # (no hard-coded paths, so arm64 gets its own loader and libraries).
    for f in /usr/bin/dash /usr/bin/dirname /usr/bin/readlink "$node"; do \
      for lib in $(ldd "$f" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do \
        dir=$(readlink -f "$(dirname "$lib")"); mkdir -p "$r$dir"; \
        cp -L "$lib" "$r$dir/$(basename "$lib")"; \
      done; \
    done; \
    cp /usr/bin/dash /usr/bin/dirname /usr/bin/readlink "$r/usr/bin/"; \
    ln -s dash "$r/usr/bin/sh"; \
    # Debian's merged /usr: /bin, /lib, /lib64 are symlinks into /usr (the
    # ELF interpreter is /lib64/... or /lib/...); only those we filled.
    for d in bin lib lib64; do \
      [ ! -L "/$d" ] || [ ! -d "$r/$(readlink "/$d")" ] || cp -P "/$d" "$r/$d"; \
    done; \
    ln -s ../../../opt/kamal-napper/bin/kamal-proxy "$r/usr/local/bin/kamal-proxy"; \
    ln -s ../../../opt/kamal-napper/bin/kamal-napper "$r/usr/local/bin/kamal-napper"; \
    cp /etc/ssl/certs/ca-certificates.crt "$r/etc/ssl/certs/"; \
    # kamal-proxy is 1001:1001 as in the official image (Ubuntu noble's
    # `ubuntu` user holds 1000), so existing kamal-proxy-config volumes,
    # whose files it owns, keep working.
    printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' \
      'kamal-proxy:x:1001:1001::/home/kamal-proxy:/bin/sh' \
      'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin' > "$r/etc/passwd"; \
    printf '%s\n' 'root:x:0:' 'kamal-proxy:x:1001:' 'nogroup:x:65534:' > "$r/etc/group"; \
    printf '%s\n' 'passwd: files' 'group: files' 'hosts: files dns' > "$r/etc/nsswitch.conf"; \
    chmod 700 "$r/root"; chmod 1777 "$r/tmp"; \
    chown -R 1001:1001 "$r/home/kamal-proxy" node_modules/.cache

FROM scratch
COPY --from=build /rootfs/ /
# Builders differ on whether COPY --from keeps owners; these two must be the
# runtime user's (state volume, compile cache).
COPY --from=build --chown=1001:1001 /rootfs/home/kamal-proxy /home/kamal-proxy/
COPY --from=build --chown=1001:1001 /rootfs/opt/kamal-napper/node_modules/.cache /opt/kamal-napper/node_modules/.cache/
ENV PATH=/usr/local/bin:/usr/bin:/bin
WORKDIR /opt/kamal-napper
# The app last, so a source change rebuilds only these layers.
COPY package.json ./
COPY bin bin/
COPY scripts scripts/
COPY src src/
USER kamal-proxy:kamal-proxy
# What package.json's "prepare" does, as the user that runs the proxy: Node
# keys its compile cache by user, and a cache warmed by root goes unused.
RUN NODE_OPTIONS=--import=./scripts/warm-compile-cache.ts bin/kamal-proxy --help > /dev/null
# As in the official image.
WORKDIR /
EXPOSE 80 443
CMD ["kamal-proxy", "run"]

# Declared last, so that a new version or revision rebuilds no layer.
ARG VERSION=dev
ARG REVISION=
ARG SOURCE=
LABEL org.opencontainers.image.title="kamal-proxy" \
      org.opencontainers.image.description="kamal-napper: a drop-in replacement for kamal-proxy that naps idle apps" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.source="$SOURCE" \
      org.opencontainers.image.version="$VERSION" \
      org.opencontainers.image.revision="$REVISION"
