#!/usr/bin/env bash
# The status pages in a real browser: a demo farm (2 local slaves, 20 builds)
# keeps its HTTP server up after the drain; headless Chromium renders
# /builders and one /builds/<id>, and the rendered DOM is checked. Screenshots
# are kept in OUT_DIR as test artifacts. Chromium missing is a failure.
# Usage: browser_test.sh BUILDD_MASTER OUT_DIR
set -euo pipefail

master=$1
out=$2
fail() { echo "FAIL: $*" >&2; exit 1; }

chromium=$(command -v chromium || true)
[ -n "$chromium" ] || fail "chromium is not installed (scripts/install-deps installs it)"

rm -rf "$out"
mkdir -p "$out"
work=$(mktemp -d)
profile=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -INT "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$work" "$profile"
}
trap cleanup EXIT

"$master" demo --builders 2 --builds 20 --work-dir "$work/demo" --timeout 90 \
  --serve-seconds 120 >"$out/demo.log" 2>&1 &
pid=$!

url=""
touch "$out/demo.log"
for _ in $(seq 1 1200); do
  url=$(sed -n 's|^Status pages stay up for .* at \(http://[^ ]*\)/builders$|\1|p' "$out/demo.log" || true)
  [ -n "$url" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$out/demo.log" >&2; fail "the demo exited early"; }
  sleep 0.1
done
[ -n "$url" ] || { cat "$out/demo.log" >&2; fail "the demo did not drain its queue in time"; }
grep -q "^Master running; status pages at $url/builders$" "$out/demo.log" ||
  fail "the demo did not print the status page URL while running"

browse() {
  timeout 60 "$chromium" --headless --no-sandbox --disable-gpu --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" "$@" 2>>"$out/chromium.log"
}
expect() {  # FILE TEXT...
  local file=$1
  shift
  for text in "$@"; do
    grep -qF -- "$text" "$file" || fail "$file lacks '$text'"
  done
}

browse --dump-dom "$url/builders" >"$out/builders.html"
expect "$out/builders.html" "<title>Builders · buildd-master</title>" \
  ">amd64-builder-1</a>" ">arm64-builder-1</a>" '<span class="idle">idle' \
  "<th>Family</th><th>Idle</th><th>Building</th><th>Disabled</th>" '<a href="/queue"'

browse --dump-dom "$url/builds?state=FULLYBUILT" >"$out/builds.html"
expect "$out/builds.html" "Builds (Fully built)"
id=$(grep -o 'href="/builds/[0-9]*"' "$out/builds.html" | head -n 1 | grep -o '[0-9]*' || true)
[ -n "$id" ] || fail "no fully built build is listed"

browse --dump-dom "$url/builds/$id" >"$out/build.html"
expect "$out/build.html" "<h1>Build $id: " '<span class="FULLYBUILT">Fully built</span>' \
  ">buildlog_ubuntu-noble-" "_FULLYBUILT.txt.gz</a>" '<a href="/builders/'

browse --screenshot="$out/builders.png" --window-size=1280,900 "$url/builders"
browse --screenshot="$out/build.png" --window-size=1280,900 "$url/builds/$id"
for png in builders build; do
  [ -s "$out/$png.png" ] || fail "no screenshot $png.png"
  [ "$(head -c 8 "$out/$png.png" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] ||
    fail "$png.png is not a PNG"
done
echo "browser test passed: $url (build $id); screenshots in $out"
