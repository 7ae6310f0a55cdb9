#!/usr/bin/env bash
# Builds the Linux guest of the QEMU end-to-end test
# (test/integration/qemu.test.ts): Debian's kernel and a busybox initramfs
# whose /init (scripts/guest/init) runs the network checks.
#
#   scripts/build-guest.sh [OUTDIR]
#
# OUTDIR (default $PASTA_TS_GUEST_DIR, else /var/tmp/pasta-ts-guest) gets:
#   kernel          an uncompressed vmlinux with the PVH ELF note when the
#                   kernel has one (QEMU loads it directly: ~3 s to /init under
#                   TCG), else the bzImage itself (through the BIOS: ~10 s)
#   initrd.cpio.gz  busybox-static, virtio-net and its dependencies as
#                   modules, /init, the udhcpc hook and pts-net (the guest's
#                   TCP/UDP client and server, scripts/guest/pts-net.c, built
#                   here statically: busybox nc has no UDP and is slow)
#   guest.env       KERNEL_KIND=pvh|bzimage, KERNEL_VERSION, STAMP
# A build whose inputs (kernel, busybox, modules, scripts/guest/*, this
# script) are unchanged is reused.
#
# Needs the Debian packages qemu-system-x86, linux-image-amd64,
# busybox-static, xz-utils, gcc, libc6-dev and binutils. As root, missing ones
# are installed with apt-get; otherwise the script names them and exits 3.
# Nothing it builds belongs in git.
set -euo pipefail
umask 022
export LC_ALL=C

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GUEST_SRC=$REPO/scripts/guest
OUT=${1:-${PASTA_TS_GUEST_DIR:-/var/tmp/pasta-ts-guest}}
T0=$(date +%s%N)

say() { printf 'build-guest: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# ---- packages -------------------------------------------------------------------
newest_kernel() {
  # newest /boot/vmlinuz-VERSION with its modules installed
  local v best=
  for k in /boot/vmlinuz-*; do
    [ -e "$k" ] || continue
    v=${k#/boot/vmlinuz-}
    [ -r "/lib/modules/$v/modules.dep" ] || continue
    best=$(printf '%s\n%s\n' "$best" "$v" | sed '/^$/d' | sort -V | tail -n 1)
  done
  printf '%s' "$best"
}

missing_packages() {
  local miss=()
  command -v qemu-system-x86_64 >/dev/null || miss+=(qemu-system-x86)
  [ -n "$(newest_kernel)" ] || miss+=(linux-image-amd64)
  { [ -x /bin/busybox ] && dpkg -s busybox-static >/dev/null 2>&1; } || miss+=(busybox-static)
  command -v xz >/dev/null || miss+=(xz-utils)
  command -v gcc >/dev/null || miss+=(gcc)
  [ -e /usr/lib/x86_64-linux-gnu/libc.a ] || [ -e /usr/lib/libc.a ] || miss+=(libc6-dev)
  command -v readelf >/dev/null || miss+=(binutils)
  printf '%s\n' "${miss[@]}"
}

. "$(dirname "$0")/lib/ensure-packages.sh"
ensure_packages "or: sudo bash scripts/setup-host.sh"

KVER=${PASTA_TS_GUEST_KERNEL:-$(newest_kernel)}
VMLINUZ=/boot/vmlinuz-$KVER
MODDIR=/lib/modules/$KVER
[ -r "$VMLINUZ" ] || die "$VMLINUZ is not readable"
[ -r "$MODDIR/modules.dep" ] || die "$MODDIR/modules.dep is missing"
BUSYBOX=/bin/busybox

# ---- reuse --------------------------------------------------------------------------
STAMP=$({
  echo "pasta-ts guest v1 $KVER"
  stat -c '%n %s %Y' "$VMLINUZ" "$BUSYBOX" "$MODDIR/modules.dep"
  sha256sum "${BASH_SOURCE[0]}" "$GUEST_SRC"/*
} | sha256sum | cut -c1-64)
if [ -r "$OUT/guest.env" ] && [ -r "$OUT/kernel" ] && [ -r "$OUT/initrd.cpio.gz" ] &&
  grep -qx "STAMP=$STAMP" "$OUT/guest.env"; then
  say "up to date: $OUT ($(grep KERNEL_KIND "$OUT/guest.env"), kernel $KVER)"
  exit 0
fi

mkdir -p "$(dirname "$OUT")"
WORK=$(mktemp -d "$(dirname "$OUT")/.pasta-ts-guest.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
chmod 0755 "$WORK"

# ---- kernel ---------------------------------------------------------------------------
# extract-vmlinux: find a compressed stream inside the bzImage and unpack it.
is_elf() { [ "$(head -c 4 "$1" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ] && readelf -S "$1" >/dev/null 2>&1; }
extract_vmlinux() {
  local in=$1 out=$2 magic cmd off
  while read -r magic cmd; do
    command -v "${cmd%% *}" >/dev/null || continue
    for off in $(grep -aboP "$magic" "$in" 2>/dev/null | cut -d: -f1 | head -n 8); do
      tail -c +$((off + 1)) "$in" | $cmd >"$out" 2>/dev/null || true
      if is_elf "$out"; then return 0; fi
    done
  done <<'EOF'
\xFD7zXZ\x00 xz -dc
\x1F\x8B\x08 gzip -dc
\x28\xB5\x2F\xFD zstd -dc
\x5D\x00\x00\x00 xz --format=lzma -dc
EOF
  rm -f "$out"
  return 1
}
# QEMU boots an ELF kernel only with XEN_ELFNOTE_PHYS32_ENTRY (type 18, 0x12)
has_pvh_note() { readelf -n "$1" 2>/dev/null | grep -qE '^ *Xen .*(0x00000012|PHYS32_ENTRY)'; }

KIND=bzimage
if extract_vmlinux "$VMLINUZ" "$WORK/vmlinux"; then
  if has_pvh_note "$WORK/vmlinux"; then
    KIND=pvh
    mv "$WORK/vmlinux" "$WORK/kernel"
  else
    say "the kernel has no PVH ELF note: booting the bzImage through the BIOS (slower)"
  fi
else
  say "could not unpack a vmlinux from $VMLINUZ: booting the bzImage through the BIOS (slower)"
fi
if [ "$KIND" = bzimage ]; then
  rm -f "$WORK/vmlinux"
  cp "$VMLINUZ" "$WORK/kernel"
fi

# ---- initramfs -------------------------------------------------------------------------
ROOT=$WORK/root
mkdir -p "$ROOT"/{bin,sbin,etc,proc,sys,dev,tmp,run,lib/modules}
cp "$BUSYBOX" "$ROOT/bin/busybox"
for a in $("$BUSYBOX" --list); do
  [ "$a" = busybox ] || ln -s busybox "$ROOT/bin/$a"
done
install -m 0755 "$GUEST_SRC/init" "$ROOT/init"
install -m 0755 "$GUEST_SRC/udhcpc.script" "$ROOT/etc/udhcpc.script"
gcc -static -O2 -s -Wall -o "$ROOT/bin/pts-net" "$GUEST_SRC/pts-net.c"

# Modules: the wanted ones that are not built in, each after its dependencies
# (modules.dep lists a module's whole dependency closure; modprobe loads it
# from the end).
WANT=(af_packet ipv6 virtio_pci virtio_net)
builtin() { grep -qE "(^|/)$1\.ko$" "$MODDIR/modules.builtin" 2>/dev/null; }
dep_line() { grep -E "(^|/)$1\.ko(\.(xz|zst|gz))?:" "$MODDIR/modules.dep" | head -n 1; }
ORDER=()
add_mod() { local m; for m in "${ORDER[@]}"; do [ "$m" = "$1" ] && return; done; ORDER+=("$1"); }
for w in "${WANT[@]}"; do
  wn=${w//-/_}
  if builtin "$w" || builtin "$wn"; then continue; fi
  line=$(dep_line "$w"); [ -n "$line" ] || line=$(dep_line "$wn")
  [ -n "$line" ] || die "module $w is neither built into $KVER nor in $MODDIR/modules.dep"
  self=${line%%:*}
  read -r -a deps <<<"${line#*:}"
  for ((i = ${#deps[@]} - 1; i >= 0; i--)); do add_mod "${deps[i]}"; done
  add_mod "$self"
done
: >"$ROOT/lib/modules/load.list"
for rel in "${ORDER[@]}"; do
  name=$(basename "$rel"); name=${name%%.ko*}
  case $rel in
    *.ko) cp "$MODDIR/$rel" "$ROOT/lib/modules/$name.ko" ;;
    *.ko.xz) xz -dc "$MODDIR/$rel" >"$ROOT/lib/modules/$name.ko" ;;
    *.ko.zst) zstd -qdc "$MODDIR/$rel" >"$ROOT/lib/modules/$name.ko" ;;
    *.ko.gz) gzip -dc "$MODDIR/$rel" >"$ROOT/lib/modules/$name.ko" ;;
    *) die "unknown module file $rel" ;;
  esac
  echo "$name" >>"$ROOT/lib/modules/load.list"
done

cp "$ROOT/lib/modules/load.list" "$WORK/load.list"
(cd "$ROOT" && find . | sort | "$BUSYBOX" cpio -o -H newc -R 0:0 2>/dev/null) | gzip -6 >"$WORK/initrd.cpio.gz"
rm -rf "$ROOT"

cat >"$WORK/guest.env" <<EOF
KERNEL_KIND=$KIND
KERNEL_VERSION=$KVER
MODULES=$(paste -sd, "$WORK/load.list")
STAMP=$STAMP
EOF
rm -f "$WORK/load.list"
chmod 0644 "$WORK/kernel" "$WORK/initrd.cpio.gz" "$WORK/guest.env"

rm -rf "$OUT"
mv "$WORK" "$OUT"
trap - EXIT
chmod 0755 "$OUT"
say "built $OUT in $(( ($(date +%s%N) - T0) / 1000000 )) ms: kernel $KVER ($KIND, $(( $(stat -c %s "$OUT/kernel") / 1048576 )) MiB), initramfs $(( $(stat -c %s "$OUT/initrd.cpio.gz") / 1024 )) KiB, modules $(grep ^MODULES= "$OUT/guest.env" | cut -d= -f2)"
