#!/bin/sh
# npm test: type-check; every test with one thread serving; then every suite
# that runs the proxy again with two (run --workers=2), which must behave the
# same. See README.md, "Development".
set -e
run() {
  node --test --test-concurrency=2 --test-timeout=180000 --import ./test/helpers/file-deadline.ts "$@"
}
tsc --noEmit
KAMAL_NAPPER_WORKERS=1 run "test/**/*.test.ts"
echo "--- again with two threads serving (KAMAL_NAPPER_WORKERS=2)"
KAMAL_NAPPER_WORKERS=2 run "test/e2e/*.test.ts" "test/docker/*.test.ts" "test/browser/*.test.ts"
