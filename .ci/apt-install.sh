#!/usr/bin/env bash
# Install the named Debian packages if any is missing (idempotent); CI and
# developers use it for everything the tests need outside Python:
#   Go interop (tests/interop): golang-go golang-github-gorilla-securecookie-dev
#                               golang-github-gorilla-sessions-dev
#   backend tests (tests/backends, tests/aio): redis-server postgresql
#   browser tests (tests/e2e): chromium
# The tests start their own throwaway servers and browsers; with CI=true a
# missing binary fails them instead of skipping.
set -euo pipefail

missing=()
for pkg in "$@"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done
if [[ ${#missing[@]} -eq 0 ]]; then
    echo "apt-install: all present ($*)"
    exit 0
fi
if [[ $(id -u) -eq 0 ]]; then sudo=(); else sudo=(sudo); fi
echo "apt-install: installing ${missing[*]}"
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
