#!/usr/bin/env bash
# Installs what `npm run bench` (scripts/bench.mjs) needs on Debian 12: the
# peers it compares pasta-ts with (passt's pasta, slirp4netns), the traffic
# tools (iperf3, nuttcp, sockperf, wrk) and the namespace tools, and opens
# /dev/net/tun to unprivileged users. Run as root; safe to run again. The
# benchmark itself runs on demand, never in CI.
set -euo pipefail
bash "$(dirname "$0")/setup-host.sh" --bench
command -v node >/dev/null || echo "setup-bench: Node.js >= 20 is needed too (not installed here)" >&2
