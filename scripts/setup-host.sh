#!/usr/bin/env bash
# Installs the system packages pasta-ts and its tests use on Debian 12, and
# opens /dev/net/tun to unprivileged users as distributions ship it (0666).
# Run as root; safe to run again. With --bench, also what `npm run bench`
# needs (scripts/setup-bench.sh calls it so).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
PKGS=(iproute2 util-linux socat iperf3 busybox-static iputils-ping netcat-openbsd procps make gcc libc6-dev
  tcpdump isc-dhcp-client
  # the QEMU guest test (scripts/build-guest.sh)
  qemu-system-x86 linux-image-amd64 xz-utils binutils
  # the end-to-end tests (test/e2e, scripts/podman/setup.sh): Podman 4.3.1 and
  # Buildah 1.28 with runc (named so apt does not pick crun), debootstrap for
  # the Debian 13 root with Podman 5
  podman buildah runc uidmap slirp4netns passt debootstrap nftables)
if [ "${1:-}" = --bench ]; then
  PKGS=(iperf3 nuttcp sockperf wrk passt slirp4netns jq iproute2 util-linux procps)
fi
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
# ICMP echo sockets for unprivileged users, as distributions enable them.
sysctl -q -w net.ipv4.ping_group_range="0 2147483647" || true
# The tests and the benchmark drop to an unprivileged user who must read the checkout.
chmod -R a+rX "$(cd "$(dirname "$0")/.." && pwd)"
