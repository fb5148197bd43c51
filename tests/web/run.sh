#!/bin/sh
# tests/web/run.sh [NAME]: a browser test of the web console, tests/web/NAME.test.mjs
# (default console; ctest web/console, web/overview).
# Installs playwright-core from package-lock.json on first use, then runs the
# node:test suite, which starts the whole local stack itself.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if [ ! -d "$here/node_modules/playwright-core" ] || [ ! -d "$here/node_modules/mqtt" ]; then
  command -v npm >/dev/null || { echo "web: npm is missing (script/bootstrap installs it)" >&2; exit 1; }
  (cd "$here" && npm ci --no-audit --no-fund)
fi
cd "$root"
exec node --test "tests/web/${1:-console}.test.mjs"
