#!/usr/bin/env bash
# Installs what `npm run bench` (scripts/bench.mjs) needs on Debian 12: the
# peers it compares pasta-ts with (passt's pasta, slirp4netns), the traffic
# tools (iperf3, nuttcp, sockperf, wrk) and the namespace tools, and opens
# /dev/net/tun to unprivileged users as distributions ship it (0666).
# Run as root; safe to run again. The benchmark itself runs on demand, never
# in CI.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
PKGS=(iperf3 nuttcp sockperf wrk passt slirp4netns jq iproute2 util-linux procps)
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
if [ -e /dev/net/tun ]; then
  chmod 0666 /dev/net/tun
else
  mkdir -p /dev/net && mknod -m 0666 /dev/net/tun c 10 200
fi
# The benchmark drops to uid 65534 when run as root: it must read the checkout.
chmod -R a+rX "$(cd "$(dirname "$0")/.." && pwd)"
command -v node >/dev/null || echo "setup-bench: Node.js >= 20 is needed too (not installed here)" >&2
