#!/usr/bin/env bash
# Makes sure a Docker engine answers on this machine: installs Debian's docker.io where the
# engine is absent, and starts dockerd (vfs storage works in sandboxes) when none runs; as root
# it also installs busybox-static, from which the example app's image is built.
# Prints one line saying what it did; exits non-zero with the reason when it cannot.
set -euo pipefail

# The example app's image (examples/hello-web) is built FROM scratch with Debian's static busybox.
if [ "$(id -u)" = 0 ] && ! dpkg -s busybox-static >/dev/null 2>&1; then
  echo "busybox: installing Debian's busybox-static for the example app image" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq busybox-static >/dev/null
fi

if docker info >/dev/null 2>&1; then
  echo "docker: engine already running"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "docker: no engine running and not root, cannot install or start one" >&2
  exit 1
fi
if ! command -v dockerd >/dev/null 2>&1; then
  echo "docker: installing Debian's docker.io..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq docker.io >/dev/null
fi
log=/var/log/openflux-dockerd.log
# Every app gets its own bridge on every node (README "App networks"): Docker's default pools
# give about 30; a /24 each out of 10.200.0.0/14 gives 1024.
nohup dockerd --storage-driver=vfs --default-address-pool base=10.200.0.0/14,size=24 >"$log" 2>&1 &
for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    echo "docker: engine started (log: $log)"
    exit 0
  fi
  sleep 1
done
echo "docker: dockerd did not answer within 60 s; see $log" >&2
tail -20 "$log" >&2 || true
exit 1
