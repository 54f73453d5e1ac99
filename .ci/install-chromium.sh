#!/usr/bin/env bash
# Install Debian's Chromium for the real-browser tests (tests/e2e). Playwright
# drives this system browser (executable_path=/usr/bin/chromium); nothing ever
# runs `playwright install` or downloads a browser build. Idempotent: does
# nothing when chromium is already installed.
set -euo pipefail

packages=(chromium)
missing=()
for pkg in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done
if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-chromium: all packages present (${packages[*]})"
    exit 0
fi
if [[ $(id -u) -eq 0 ]]; then sudo=(); else sudo=(sudo); fi
echo "install-chromium: installing ${missing[*]}"
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
/usr/bin/chromium --version
