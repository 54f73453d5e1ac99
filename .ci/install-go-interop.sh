#!/usr/bin/env bash
# Install what the Go interoperability tests (tests/interop/) need: Debian's
# Go toolchain and the gorilla/securecookie and gorilla/sessions sources,
# which the oracle is built against in GOPATH mode (nothing is downloaded
# from the Go module proxy). Idempotent: does nothing if all are installed.
set -euo pipefail

packages=(
    golang-go
    golang-github-gorilla-securecookie-dev
    golang-github-gorilla-sessions-dev
)

missing=()
for pkg in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    if [[ "$status" != "install ok installed" ]]; then
        missing+=("$pkg")
    fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-go-interop: all packages present (${packages[*]})"
    exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
    sudo=()
else
    sudo=(sudo)
fi

echo "install-go-interop: installing ${missing[*]}"
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
go version
