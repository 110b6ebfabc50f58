#!/usr/bin/env bash
# Builds openflux/hello-web:1 from Debian's busybox-static (what `flux app build-example` does).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
busybox="${BUSYBOX:-/bin/busybox}"
[ -x "$busybox" ] || { echo "need $busybox: apt-get install -y busybox-static" >&2; exit 1; }
ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
cp "$here/Dockerfile" "$ctx/Dockerfile"
cp "$busybox" "$ctx/busybox"
docker build -q -t "${1:-openflux/hello-web:1}" "$ctx"
