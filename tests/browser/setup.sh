#!/bin/sh
# Installs playwright-core from the npm registry into BUILD/browser (no browser download:
# the tests drive Debian's chromium). Does nothing when the pinned version is there.
set -e
build="$1"
here="$(cd "$(dirname "$0")" && pwd)"
dir="$build/browser"
want=$(sed -n 's/.*"playwright-core": *"\([^"]*\)".*/\1/p' "$here/package.json")
have=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$dir/node_modules/playwright-core/package.json" 2>/dev/null || true)
[ "$have" = "$want" ] && exit 0
mkdir -p "$dir"
cp "$here/package.json" "$dir/package.json"
cd "$dir"
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund --loglevel=error
