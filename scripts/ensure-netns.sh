#!/usr/bin/env bash
# What the chaos suite needs beyond Node: iproute2 (ip netns) and iptables, installed from
# Debian's packages where absent when run as root; python3 runs its userspace switch. Prints one
# line; the suite itself skips, saying why, where any of these is still missing.
set -euo pipefail
missing=()
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v iptables >/dev/null 2>&1 || missing+=(iptables)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
if [ ${#missing[@]} -eq 0 ]; then
  echo "netns: ip, iptables and python3 present"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "netns: missing ${missing[*]} and not root; the chaos suite will say it skipped" >&2
  exit 1
fi
echo "netns: installing Debian's ${missing[*]}..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq "${missing[@]}" >/dev/null
echo "netns: installed ${missing[*]}"
