#!/usr/bin/env bash
# Install the database servers the backend tests start: Debian's redis-server
# (with redis-cli for the cluster test) and postgresql (initdb, pg_ctl). The
# tests run their throwaway PostgreSQL as the postgres OS user. Idempotent.
set -euo pipefail

packages=(redis-server postgresql)
missing=()
for pkg in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done
if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-servers: all packages present (${packages[*]})"
    exit 0
fi
if [[ $(id -u) -eq 0 ]]; then sudo=(); else sudo=(sudo); fi
echo "install-servers: installing ${missing[*]}"
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
