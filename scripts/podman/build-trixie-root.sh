#!/usr/bin/env bash
# Builds (once) a Debian 13 (trixie) root holding Podman 5, Buildah 1.39,
# runc, uidmap, passt and nftables, for the end-to-end tests (test/e2e).
# Debian 12 ships Podman 4.3.1 only; Podman 5 runs from this root, entered
# with unshare + pivot_root (scripts/podman/enter-root.sh).
#
#   sudo bash scripts/podman/build-trixie-root.sh      # builds or reuses
#
# Root directory: $PASTA_TS_PODMAN_CACHE/trixie (default cache dir
# /var/tmp/pasta-ts-podman). A stamp file records the package list; the root is
# rebuilt when the list changes, or with REBUILD=1. Built in a temporary
# directory and renamed into place, so an interrupted build leaves nothing
# half-made behind. Prints how long each step took.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive LC_ALL=C

CACHE=${PASTA_TS_PODMAN_CACHE:-/var/tmp/pasta-ts-podman}
ROOT=$CACHE/trixie
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# runc, not crun: crun fails on these hosts ("cgroups in hybrid mode not
# supported"). nftables: netavark needs the nft binary. passt: the reference
# pasta the tests validate against.
PKGS="podman buildah runc uidmap passt nftables conmon ca-certificates"
STAMP="trixie minbase: $PKGS"

[ "$(id -u)" = 0 ] || { echo "build-trixie-root.sh: run as root" >&2; exit 1; }

if [ -z "${REBUILD:-}" ] && [ -f "$ROOT/.pasta-ts-stamp" ] && [ "$(cat "$ROOT/.pasta-ts-stamp")" = "$STAMP" ]; then
  echo "trixie root: reusing $ROOT ($(chroot "$ROOT" dpkg-query -W -f '${Package} ${Version}, ' podman buildah passt))"
  exit 0
fi

command -v debootstrap >/dev/null || { apt-get update -q; apt-get install -y -q --no-install-recommends debootstrap; }

mkdir -p "$CACHE"
chmod 0755 "$CACHE"
BUILD=$(mktemp -d "$CACHE/build.XXXXXX")
chmod 0755 "$BUILD"
cleanup() { rm -rf --one-file-system "$BUILD"; }
trap cleanup EXIT

t0=$(date +%s.%N)
secs() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

echo "trixie root: debootstrap (minbase) into $BUILD"
debootstrap --variant=minbase --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
  trixie "$BUILD" "$MIRROR" >"$BUILD.log" 2>&1 || { tail -30 "$BUILD.log" >&2; rm -f "$BUILD.log"; exit 1; }
rm -f "$BUILD.log"
t_deboot=$(secs "$t0")
echo "trixie root: debootstrap took ${t_deboot} s"

t1=$(date +%s.%N)
# apt in a private mount namespace, so /proc, /sys and /dev mounts made for it
# vanish with it whatever happens.
printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' >"$BUILD/etc/apt/apt.conf.d/90pasta-ts"
cp /etc/resolv.conf "$BUILD/etc/resolv.conf" 2>/dev/null || true
unshare -m --propagation private sh -ec '
  R=$1; shift
  mount -t proc proc "$R/proc"
  mount --rbind /sys "$R/sys"
  mount --rbind /dev "$R/dev"
  chroot "$R" apt-get update -q
  chroot "$R" apt-get install -y -q --no-install-recommends "$@"
  chroot "$R" apt-get clean
' sh "$BUILD" $PKGS >"$BUILD.apt.log" 2>&1 || { tail -30 "$BUILD.apt.log" >&2; rm -f "$BUILD.apt.log"; exit 1; }
rm -f "$BUILD.apt.log"
rm -rf "$BUILD/var/lib/apt/lists/"*
t_apt=$(secs "$t1")
echo "trixie root: apt-get install $PKGS took ${t_apt} s"

if chroot "$BUILD" dpkg -s crun >/dev/null 2>&1; then
  echo "trixie root: note: crun got installed too; containers.conf selects runc" >&2
fi
# mount points enter-root.sh binds into
mkdir -p "$BUILD/work/main" "$BUILD/oldroot" "$BUILD/e2e"
echo "$STAMP" >"$BUILD/.pasta-ts-stamp"
printf 'debootstrap_s=%s apt_s=%s\n' "$t_deboot" "$t_apt" >"$BUILD/.pasta-ts-build-times"

rm -rf --one-file-system "$ROOT"
mv "$BUILD" "$ROOT"
trap - EXIT
echo "trixie root: ready in $(secs "$t0") s: $(chroot "$ROOT" dpkg-query -W -f '${Package} ${Version}, ' podman buildah passt runc)$(du -sh "$ROOT" | cut -f1)"
