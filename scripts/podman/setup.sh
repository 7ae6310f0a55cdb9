#!/usr/bin/env bash
# Set-up for the end-to-end tests with real Podman and Buildah (test/e2e).
# Run as root on Debian 12; safe to run again (a second run takes ~1 s).
#
#   sudo bash scripts/podman/setup.sh
#
# 1. Debian 12 packages: podman 4.3.1, buildah 1.28, runc (not crun: crun
#    fails here with "cgroups in hybrid mode not supported"), uidmap,
#    slirp4netns, passt, debootstrap, nftables, busybox-static.
# 2. The unprivileged test user (E2E_USER, default ptsuser, uid E2E_UID,
#    default 1001) with /etc/subuid and /etc/subgid ranges of 65536 ids.
# 3. The Debian 13 root with Podman 5 and Buildah 1.39
#    (scripts/podman/build-trixie-root.sh), in $PASTA_TS_PODMAN_CACHE
#    (default /var/tmp/pasta-ts-podman).
# 4. The image: a rootfs tarball of busybox-static plus a web root
#    ($CACHE/e2e-busybox.tar). Each test run imports it (`podman import`)
#    into its own fresh storage; no registry is needed.
# Prints how long each step took.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive LC_ALL=C
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CACHE=${PASTA_TS_PODMAN_CACHE:-/var/tmp/pasta-ts-podman}
E2E_USER=${E2E_USER:-ptsuser}
E2E_UID=${E2E_UID:-1001}

[ "$(id -u)" = 0 ] || { echo "setup.sh: run as root" >&2; exit 1; }
t0=$(date +%s.%N)
secs() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# -- 1. packages ------------------------------------------------------------------
# runc is named so that apt satisfies podman's "crun | runc" with runc.
PKGS=(podman buildah runc uidmap slirp4netns passt debootstrap nftables busybox-static iproute2 util-linux)
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  t=$(date +%s.%N)
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  echo "setup: installed ${missing[*]} in $(secs "$t") s"
fi
if dpkg -s crun >/dev/null 2>&1; then
  echo "setup: note: crun is installed; the tests select runc in containers.conf" >&2
fi
# rootless pasta and slirp4netns open /dev/net/tun as the user
if [ -e /dev/net/tun ]; then chmod 0666 /dev/net/tun; else mkdir -p /dev/net && mknod -m 0666 /dev/net/tun c 10 200; fi

# -- 2. the test user ------------------------------------------------------------------
if ! getent passwd "$E2E_USER" >/dev/null; then
  if getent passwd "$E2E_UID" >/dev/null; then
    echo "setup.sh: uid $E2E_UID is taken by $(getent passwd "$E2E_UID" | cut -d: -f1); set E2E_UID" >&2
    exit 1
  fi
  useradd --uid "$E2E_UID" --user-group --create-home --shell /bin/sh "$E2E_USER"
  echo "setup: created user $E2E_USER (uid $E2E_UID)"
fi
# a range of 65536 subordinate ids, after every range already given out
for f in /etc/subuid /etc/subgid; do
  touch "$f"
  if ! grep -q "^$E2E_USER:" "$f"; then
    start=$(awk -F: 'BEGIN { m = 100000 } { e = $2 + $3; if (e > m) m = e } END { print m }' "$f")
    echo "$E2E_USER:$start:65536" >>"$f"
    echo "setup: $f: $E2E_USER:$start:65536"
  fi
done

# -- 3. Debian 13 root ------------------------------------------------------------------
bash "$HERE/build-trixie-root.sh"

# -- 4. image tarball -----------------------------------------------------------------
IMG=$CACHE/e2e-busybox.tar
BB=/bin/busybox
IMG_STAMP="$(dpkg-query -W -f '${Version}' busybox-static) v2"
if [ ! -f "$IMG" ] || [ "$(cat "$IMG.stamp" 2>/dev/null)" != "$IMG_STAMP" ]; then
  t=$(date +%s.%N)
  R=$(mktemp -d)
  mkdir -p "$R/bin" "$R/sbin" "$R/usr/bin" "$R/usr/sbin" "$R/etc" "$R/tmp" "$R/root" "$R/www" "$R/proc" "$R/sys" "$R/dev"
  chmod 1777 "$R/tmp"
  cp "$BB" "$R/bin/busybox"
  for a in $("$BB" --list); do [ -e "$R/bin/$a" ] || ln -s busybox "$R/bin/$a"; done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$R/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$R/etc/group"
  echo 'pasta-ts e2e web root' >"$R/www/index.html"
  tar -C "$R" --numeric-owner --owner=0 --group=0 -cf "$IMG.tmp" .
  rm -rf "$R"
  mv "$IMG.tmp" "$IMG"
  echo "$IMG_STAMP" >"$IMG.stamp"
  chmod 0644 "$IMG" "$IMG.stamp"
  echo "setup: image tarball $IMG ($(du -h "$IMG" | cut -f1)) in $(secs "$t") s"
fi

chmod 0755 "$CACHE"
# the test user must read the checkout (the helper runs from it)
chmod -R a+rX "$REPO"
echo "setup: done in $(secs "$t0") s (podman $(podman --version | cut -d' ' -f3), buildah $(buildah --version | cut -d' ' -f3))"
