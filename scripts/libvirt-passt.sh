#!/usr/bin/env bash
# Proves that libvirt uses pasta-ts for
#   <interface type='user'><backend type='passt'/></interface>
# with Debian 12's libvirt (9.0) in session mode (qemu:///session) as an
# unprivileged user:
#
#   sudo scripts/libvirt-passt.sh            (as root: installs what is missing,
#                                             then switches to the test user)
#   scripts/libvirt-passt.sh                 (as any user: runs as that user,
#                                             if nothing is missing)
#
# Steps: packages (apt-get as root; named and exit 3 otherwise), the guest
# of scripts/build-guest.sh (Debian's kernel, a busybox initramfs whose /init
# prints "@@ LABEL ok|fail" lines on the serial console), the test user
# ($PTS_USER, default ptsuser: reused, else created), then as that user:
#   - a directory whose `passt` is first in the PATH of the session daemon:
#     a wrapper that logs its argv and execs a link named `passt` to this
#     checkout's front, native-shims/build/pasta-ts (as the README says). Debian's libvirt 9.0 runs passt as
#     virCommandNew("passt") (PASST is the bare name "passt", checked in
#     libvirt_driver_qemu.so below), so it is looked up in the daemon's PATH.
#     If a libvirt build has an absolute path compiled in instead, the daemon
#     runs in a user+mount namespace where that path is bind-mounted to the
#     wrapper (PTS_LIBVIRT_PASST_MODE=path|bind forces one).
#   - test servers on the host's loopback (the guest reaches them through the
#     gateway address, which passt and pasta-ts map to the host's loopback):
#     a banner, a data source and a data sink (test/fixtures/net.mjs);
#   - a private session libvirtd (its own XDG dirs under a fresh work dir,
#     stdio_handler = "file" so no virtlogd is spawned);
#   - a transient TCG domain (<domain type='qemu'>) booting the guest kernel
#     directly, serial console to a file, the passt interface with a TCP
#     <portForward>; virsh create, wait (bounded) for the guest's "@@ done"
#     line, print the "@@" lines, virsh destroy, stop everything.
# Workarounds, each announced when used (details where they are applied):
#   - Debian 12's libvirt rejects <backend type='passt'/> (a Debian patch; the
#     upstream passt code is left in): the private daemon loads a copy of
#     libvirt.so.0 without that one check (scripts/libvirt/allow-passt.py,
#     PTS_LIBVIRT_ALLOW_PASST=0 to see the refusal instead).
#   - libvirt 9.0 starts QEMU without waiting for passt's socket: the domain's
#     <emulator> is a wrapper that waits for it (scripts/libvirt/
#     qemu-wait-socket.sh).
# Exit 0 only if the guest's network checks (DHCP lease, ping of the
# gateway, TCP through the gateway to the host's loopback both ways, the
# port forward from the host into the guest) passed AND the wrapper saw libvirt
# start pasta-ts. Exit 1 on failure, 3 when packages are missing (non-root).
#
# Environment: PTS_USER (ptsuser), PTS_LIBVIRT_TIMEOUT (guest wait, s, 120),
# PTS_LIBVIRT_BYTES (TCP transfer size each way, 1048576), PASTA_TS_GUEST_DIR,
# PTS_LIBVIRT_KEEP=1 keeps the work directory.
set -euo pipefail
export LC_ALL=C
umask 022

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HELPER_DIR=$REPO/scripts/libvirt
GUEST_DIR=${PASTA_TS_GUEST_DIR:-/var/tmp/pasta-ts-guest}
TEST_USER=${PTS_USER:-ptsuser}
WAIT_S=${PTS_LIBVIRT_TIMEOUT:-120}
BYTES=${PTS_LIBVIRT_BYTES:-1048576}
T0=$(date +%s%N)

say() { printf 'libvirt-passt: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
elapsed() { echo $(( ($(date +%s%N) - T0) / 1000000 )); }

# ---------------------------------------------------------------- as root -----
if [ "${1:-}" != --as-user ]; then
  QEMU_DRIVER=/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so
  missing_packages() {
    local miss=()
    command -v libvirtd >/dev/null || [ -x /usr/sbin/libvirtd ] || miss+=(libvirt-daemon)
    [ -e "$QEMU_DRIVER" ] || miss+=(libvirt-daemon-driver-qemu)
    command -v virsh >/dev/null || miss+=(libvirt-clients)
    command -v qemu-system-x86_64 >/dev/null || miss+=(qemu-system-x86)
    command -v node >/dev/null || miss+=(nodejs)
    command -v unshare >/dev/null || miss+=(util-linux)
    command -v strings >/dev/null || miss+=(binutils)
    command -v python3 >/dev/null || miss+=(python3)
    printf '%s\n' "${miss[@]}"
  }
  . "$REPO/scripts/lib/ensure-packages.sh"
  ensure_packages "or run this script as root"
  say "libvirt $(dpkg-query -W -f '${Version}' libvirt-daemon 2>/dev/null || echo ?), qemu $(dpkg-query -W -f '${Version}' qemu-system-x86 2>/dev/null || echo ?), node $(node --version)"
  [ -r "$REPO/dist/bundle/main.js" ] && [ -x "$REPO/native-shims/build/pasta-ts" ] ||
    die "$REPO/dist/bundle/main.js or native-shims/build/pasta-ts is missing: build pasta-ts first (npm run build)"

  # How this libvirt finds passt: qemuPasstStart does virCommandNew(PASST).
  # A bare "passt" is looked up in the daemon's PATH; an absolute path is fixed.
  PASST_MODE=${PTS_LIBVIRT_PASST_MODE:-}
  PASST_FIXED=
  if [ -z "$PASST_MODE" ]; then
    PASST_FIXED=$(strings -a "$QEMU_DRIVER" | grep -xE '/[A-Za-z0-9_/.-]*/passt' | head -n 1 || true)
    if [ -n "$PASST_FIXED" ]; then PASST_MODE=bind; else PASST_MODE=path; fi
  fi
  [ "$PASST_MODE" != bind ] || [ -n "$PASST_FIXED" ] || PASST_FIXED=/usr/bin/passt
  if [ "$PASST_MODE" = path ]; then
    say "this libvirt runs passt by its bare name: PATH lookup in the session daemon"
  else
    say "this libvirt runs passt as $PASST_FIXED: bind-mounting the wrapper there in a private mount namespace"
  fi

  if [ "$(id -u)" -eq 0 ]; then
    bash "$REPO/scripts/build-guest.sh" "$GUEST_DIR" || die "scripts/build-guest.sh failed"
    if ! id "$TEST_USER" >/dev/null 2>&1; then
      say "creating user $TEST_USER"
      useradd --create-home --shell /bin/bash "$TEST_USER"
    fi
    say "switching to user $TEST_USER ($(id "$TEST_USER"))"
    exec runuser -u "$TEST_USER" -- env -i HOME="$(getent passwd "$TEST_USER" | cut -d: -f6)" \
      USER="$TEST_USER" LOGNAME="$TEST_USER" PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
      LC_ALL=C PASTA_TS_GUEST_DIR="$GUEST_DIR" PTS_LIBVIRT_TIMEOUT="$WAIT_S" PTS_LIBVIRT_BYTES="$BYTES" \
      PTS_LIBVIRT_KEEP="${PTS_LIBVIRT_KEEP:-}" PTS_LIBVIRT_ALLOW_PASST="${PTS_LIBVIRT_ALLOW_PASST:-1}" PTS_T0="$T0" \
      PTS_PASST_MODE="$PASST_MODE" PTS_PASST_FIXED="$PASST_FIXED" \
      bash "${BASH_SOURCE[0]}" --as-user
  fi
  # not root: run as this user, with a guest that must already be built
  bash "$REPO/scripts/build-guest.sh" "$GUEST_DIR" || exit $?
  PTS_T0=$T0 PTS_PASST_MODE=$PASST_MODE PTS_PASST_FIXED=$PASST_FIXED exec bash "${BASH_SOURCE[0]}" --as-user
fi

# ---------------------------------------------------------- as the test user --
T0=${PTS_T0:-$T0}
PASST_MODE=${PTS_PASST_MODE:-path}
PASST_FIXED=${PTS_PASST_FIXED:-}
export PATH=$PATH:/usr/sbin:/sbin
[ "$(id -u)" -ne 0 ] || die "the libvirt part must run as an unprivileged user"
for f in kernel initrd.cpio.gz guest.env; do [ -r "$GUEST_DIR/$f" ] || die "$GUEST_DIR/$f missing"; done
NODE=$(command -v node)
NET_MJS=$REPO/test/fixtures/net.mjs

# Short paths: the passt socket lives under $XDG_RUNTIME_DIR/libvirt/qemu/run/passt/.
W=$(mktemp -d /tmp/lvp.XXXXXX)
chmod 0700 "$W"
DOMAIN=pts-lv-$$
PIDS=()
LIBVIRTD_PID=
cleanup() {
  local rc=$?
  set +e
  if [ -n "$LIBVIRTD_PID" ] && kill -0 "$LIBVIRTD_PID" 2>/dev/null; then
    virsh_ destroy "$DOMAIN" >/dev/null 2>&1
    kill "$LIBVIRTD_PID" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$LIBVIRTD_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$LIBVIRTD_PID" 2>/dev/null
  fi
  # passt-ts (if libvirt's --one-off did not end it) and QEMU, found by their
  # pid files under the work directory only
  for pf in $(find "$W" -name '*.pid' 2>/dev/null); do
    p=$(cat "$pf" 2>/dev/null)
    [ -n "$p" ] && kill -0 "$p" 2>/dev/null && { say "stopping leftover pid $p ($pf)"; kill "$p"; }
  done
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  if [ -n "${PTS_LIBVIRT_KEEP:-}" ] || [ "$rc" -ne 0 ]; then say "work directory kept: $W"; else rm -rf "$W"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export XDG_RUNTIME_DIR=$W/run XDG_CONFIG_HOME=$W/config XDG_CACHE_HOME=$W/cache XDG_DATA_HOME=$W/data
mkdir -p "$XDG_RUNTIME_DIR" "$XDG_CONFIG_HOME/libvirt" "$XDG_CACHE_HOME" "$XDG_DATA_HOME" "$W/bin" "$W/link"
chmod 0700 "$XDG_RUNTIME_DIR"
virsh_() { virsh -q -c qemu:///session "$@"; }

# ---- the passt that libvirt finds ----------------------------------------------
ln -s "$REPO/native-shims/build/pasta-ts" "$W/link/passt"
ARGV_LOG=$W/passt-argv.log
cat >"$W/bin/passt" <<EOF
#!/bin/sh
# logs how libvirt started passt, then runs pasta-ts through a link named passt
{ printf 'passt argv:'; for a in "\$0" "\$@"; do printf " '%s'" "\$a"; done; printf '\n'
  printf 'passt uid=%s pid=%s ppid=%s\n' "\$(id -u)" "\$\$" "\$PPID"; } >>"$ARGV_LOG"
exec "$W/link/passt" "\$@"
EOF
chmod 0755 "$W/bin/passt"
# QEMU runs through scripts/libvirt/qemu-wait-socket.sh, which waits for the
# passt socket: Debian's libvirt 9.0 does not wait for passt to be ready (see
# that script), and pasta-ts needs longer than passt to bind its socket.
mkdir -p "$W/emu"
QEMU_REAL=$(command -v qemu-system-x86_64)
printf '#!/bin/sh\nexec /bin/sh %s %s %s "$@"\n' "$HELPER_DIR/qemu-wait-socket.sh" "$W/qemu-wrap.log" "$QEMU_REAL" \
  >"$W/emu/qemu-system-x86_64"
chmod 0755 "$W/emu/qemu-system-x86_64"
DAEMON_PATH=$W/bin:$(dirname "$NODE"):/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin
# with a fixed path the wrapper is found there only (bind mount below)
[ "$PASST_MODE" = path ] || DAEMON_PATH=${DAEMON_PATH#"$W/bin:"}

# ---- test servers on the host's loopback ----------------------------------------
free_port() {
  "$NODE" -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}
P_BANNER=$(free_port); P_SRC=$(free_port); P_SINK=$(free_port); P_FWD=$(free_port)
[ "$P_BANNER" != "$P_SRC" ] && [ "$P_SRC" != "$P_SINK" ] && [ "$P_BANNER" != "$P_SINK" ] || die "port picking failed"
SRV_T=$((WAIT_S + 120))
serve() { # NAME ARGS...: a net.mjs server, bounded by timeout, ready file awaited
  local name=$1; shift
  timeout "$SRV_T" "$NODE" "$NET_MJS" "$@" --ready "$W/$name.ready" >"$W/$name.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do [ -e "$W/$name.ready" ] && return 0; sleep 0.05; done
  cat "$W/$name.log" >&2; die "server $name did not start"
}
serve banner serve-banner --tcp "127.0.0.1:$P_BANNER" --text host-loopback-via-libvirt
serve src serve-source --tcp "127.0.0.1:$P_SRC" --bytes "$BYTES" --seed lv4
serve sink serve-sink --tcp "127.0.0.1:$P_SINK"
SHA=$("$NODE" "$NET_MJS" hash --bytes "$BYTES" --seed lv4)

# The guest gets the host's address by DHCP and the host's default gateway
# as its router; passt (and pasta-ts) map that gateway to the host's loopback.
GW=$(ip -4 route show default | sed -n 's/^default via \([0-9.]*\).*/\1/p' | head -n 1)
[ -n "$GW" ] || die "the host has no IPv4 default route: passt gives the guest no gateway to reach the host by"
say "host gateway $GW (guest reaches 127.0.0.1 through it); ports banner=$P_BANNER source=$P_SRC sink=$P_SINK forward=$P_FWD->80"

# ---- a private session libvirtd -------------------------------------------------
cat >"$XDG_CONFIG_HOME/libvirt/qemu.conf" <<'EOF'
# session daemon of scripts/libvirt-passt.sh: QEMU output straight to files,
# no virtlogd to leave behind
stdio_handler = "file"
EOF
cat >"$XDG_CONFIG_HOME/libvirt/libvirtd.conf" <<EOF
log_outputs = "1:file:$W/libvirtd-debug.log"
log_filters = "1:qemu.qemu_passt 1:util.command 3:*"
EOF
LIBVIRTD=$(command -v libvirtd)
# Debian 12's libvirt 9.0 ships upstream's passt support but rejects
# <backend type='passt'/> in the XML parser (debian/patches/debian/
# Disable-passt-support.patch: "not quite ready for prime time", bookworm
# only). Unless PTS_LIBVIRT_ALLOW_PASST=0, the private daemon loads a copy of
# libvirt.so.0 without that one check (scripts/libvirt/allow-passt.py);
# the system's libvirt is not touched.
LIBVIRT_SO=$(ldd "$LIBVIRTD" | sed -n 's/^[[:space:]]*libvirt\.so\.0 => \([^ ]*\).*/\1/p' | head -n 1)
LIB_ENV=()
if [ "${PTS_LIBVIRT_ALLOW_PASST:-1}" != 0 ] && [ -n "$LIBVIRT_SO" ]; then
  mkdir -p "$W/lib"
  if python3 "$HELPER_DIR/allow-passt.py" "$LIBVIRT_SO" "$W/lib/libvirt.so.0" >"$W/allow-passt.log" 2>&1; then
    say "workaround: $LIBVIRT_SO carries Debian's Disable-passt-support patch; the session daemon loads a copy without its check ($(cat "$W/allow-passt.log" | sed 's/^allow-passt: //'))"
    LIB_ENV=(LD_LIBRARY_PATH="$W/lib")
  else
    say "$LIBVIRT_SO has no Debian passt check to remove ($(tail -n 1 "$W/allow-passt.log")): using it as it is"
  fi
fi
start_daemon() {
  local env=(env -i HOME="$HOME" USER="$(id -un)" LOGNAME="$(id -un)" LC_ALL=C PATH="$DAEMON_PATH"
    XDG_RUNTIME_DIR="$XDG_RUNTIME_DIR" XDG_CONFIG_HOME="$XDG_CONFIG_HOME" XDG_CACHE_HOME="$XDG_CACHE_HOME"
    XDG_DATA_HOME="$XDG_DATA_HOME" "${LIB_ENV[@]}")
  if [ "$PASST_MODE" = path ]; then
    "${env[@]}" "$LIBVIRTD" >"$W/libvirtd.log" 2>&1 &
  else
    # Fixed path: a user namespace (root inside, for the mount), a private
    # mount namespace with the wrapper bind-mounted over $PASST_FIXED, then
    # a nested user namespace that maps this user back, so that libvirtd runs
    # as an ordinary session daemon.
    [ -e "$PASST_FIXED" ] || die "$PASST_FIXED does not exist to be bind-mounted over (install passt, or create it as root)"
    unshare -Urm sh -c 'mount --bind "$1" "$2" && shift 2 && exec unshare -U --map-user="$U" --map-group="$G" -- "$@"' \
      sh "$W/bin/passt" "$PASST_FIXED" "${env[@]}" "$LIBVIRTD" >"$W/libvirtd.log" 2>&1 &
  fi
  LIBVIRTD_PID=$!
}
export U G
U=$(id -u) G=$(id -g)
start_daemon
for _ in $(seq 200); do
  [ -S "$XDG_RUNTIME_DIR/libvirt/libvirt-sock" ] && break
  kill -0 "$LIBVIRTD_PID" 2>/dev/null || { cat "$W/libvirtd.log" >&2; die "libvirtd exited"; }
  sleep 0.05
done
[ -S "$XDG_RUNTIME_DIR/libvirt/libvirt-sock" ] || { cat "$W/libvirtd.log" >&2; die "libvirtd did not open its socket"; }
virsh_ uri >/dev/null || die "virsh cannot reach the session daemon"
say "session libvirtd pid $LIBVIRTD_PID up at $(elapsed) ms: $(virsh_ uri), $(virsh_ version | grep -i 'running hypervisor' | sed 's/^ *//')"

# ---- the domain ----------------------------------------------------------------
CONSOLE=$W/console.log
PASST_LOG=$W/passt.log
APPEND="console=ttyS0 loglevel=1 quiet panic=-1 pts.steps=dhcp,neigh,ping,gwlo,tcp,fwd pts.gw=$GW pts.ping=$GW"
APPEND+=" pts.gwport=$P_BANNER pts.srv4=$GW pts.bytes4=$BYTES pts.sha4=$SHA pts.srcport=$P_SRC pts.sinkport=$P_SINK"
APPEND+=" pts.fwdport=80 pts.fwdtmo=60 pts.tmo=60"
cat >"$W/domain.xml" <<EOF
<domain type='qemu'>
  <name>$DOMAIN</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$GUEST_DIR/kernel</kernel>
    <initrd>$GUEST_DIR/initrd.cpio.gz</initrd>
    <cmdline>$APPEND</cmdline>
  </os>
  <features>
    <acpi/>
  </features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>$W/emu/qemu-system-x86_64</emulator>
    <controller type='usb' model='none'/>
    <serial type='file'>
      <source path='$CONSOLE'/>
      <target port='0'/>
    </serial>
    <interface type='user'>
      <backend type='passt' logFile='$PASST_LOG'/>
      <mac address='52:54:00:4c:56:01'/>
      <model type='virtio'/>
      <rom enabled='no'/>
      <portForward proto='tcp'>
        <range start='$P_FWD' to='80'/>
      </portForward>
    </interface>
    <memballoon model='none'/>
  </devices>
</domain>
EOF

TB=$(date +%s%N)
if ! virsh_ create "$W/domain.xml" >"$W/create.out" 2>&1; then
  cat "$W/create.out" >&2
  [ -s "$ARGV_LOG" ] && sed 's/^/libvirt-passt: wrapper: /' "$ARGV_LOG" >&2
  [ -s "$PASST_LOG" ] && tail -n 30 "$PASST_LOG" | sed 's/^/libvirt-passt: passt-log: /' >&2
  if grep -q "element 'backend': 'passt'" "$W/create.out"; then
    say "this libvirt rejects <backend type='passt'/> in its XML parser: Debian 12 disables passt on purpose"
    say "(debian/patches/debian/Disable-passt-support.patch); without PTS_LIBVIRT_ALLOW_PASST=0 this script works around it"
  fi
  die "virsh create failed"
fi
say "domain $DOMAIN started at $(elapsed) ms ($(( ($(date +%s%N) - TB) / 1000000 )) ms for virsh create)"
if [ -s "$ARGV_LOG" ]; then
  sed 's/^/libvirt-passt: wrapper: /' "$ARGV_LOG" >&2
else
  say "the wrapper was not run: libvirt did not start our passt"
fi
HELPER_PID=
QEMU_PID=$(cat "$XDG_RUNTIME_DIR/libvirt/qemu/run/$DOMAIN.pid" 2>/dev/null || true)
HELPER_PID=$(pgrep -u "$(id -u)" -f -- "--socket $XDG_RUNTIME_DIR/libvirt/qemu/run/passt/" | head -n 1 || true)
say "qemu pid ${QEMU_PID:-?}, passt-ts pid ${HELPER_PID:-?}: $(ps -o args= -p "${HELPER_PID:-0}" 2>/dev/null | cut -c1-160)"

# ---- wait for the guest ----------------------------------------------------------
fwd_done=
deadline=$(( $(date +%s) + WAIT_S ))
gone=
while :; do
  if [ -z "$fwd_done" ] && grep -q '^@@ fwd-ready ' "$CONSOLE" 2>/dev/null; then
    fwd_done=1
    # the host connects to its forwarded port; the guest serves its download
    timeout 70 "$NODE" "$NET_MJS" client-recv --label fwd-host --tcp "127.0.0.1:$P_FWD" --bytes "$BYTES" --seed lv4 \
      >"$W/fwd-host.out" 2>&1 || true
  fi
  grep -q '^@@ done ' "$CONSOLE" 2>/dev/null && break
  if ! virsh_ domstate "$DOMAIN" >/dev/null 2>&1; then gone=1; break; fi
  if [ "$(date +%s)" -ge "$deadline" ]; then say "timeout: no '@@ done' from the guest after ${WAIT_S} s"; break; fi
  sleep 0.2
done
GUEST_MS=$(( ($(date +%s%N) - TB) / 1000000 ))
for _ in $(seq 50); do virsh_ domstate "$DOMAIN" >/dev/null 2>&1 || { gone=1; break; }; sleep 0.1; done
if [ -z "$gone" ]; then
  say "destroying $DOMAIN"
  virsh_ destroy "$DOMAIN" >/dev/null 2>&1 || true
else
  say "domain $DOMAIN powered off by itself"
fi

# passt-ts was started with --one-off: it must end once QEMU has gone
helper_exit=unknown
if [ -n "$HELPER_PID" ]; then
  helper_exit=still-running
  for _ in $(seq 100); do kill -0 "$HELPER_PID" 2>/dev/null || { helper_exit=exited; break; }; sleep 0.1; done
  [ "$helper_exit" = exited ] || { say "passt-ts pid $HELPER_PID still running 10 s after QEMU: stopping it"; kill "$HELPER_PID" 2>/dev/null || true; }
fi

# ---- report ------------------------------------------------------------------------
echo "==== guest console (@@ lines) ===="
tr -d '\r' <"$CONSOLE" | grep '^@@ ' || echo "(none)"
[ -s "$W/fwd-host.out" ] && cat "$W/fwd-host.out"
echo "==== passt argv (logged by the wrapper) ===="
cat "$ARGV_LOG" 2>/dev/null || echo "(the wrapper was never run)"
echo "==== emulator wrapper ===="
cat "$W/qemu-wrap.log" 2>/dev/null || echo "(no stream socket seen)"
echo "==== passt-ts log ($PASST_LOG, last lines) ===="
tail -n 15 "$PASST_LOG" 2>/dev/null || echo "(no log)"

ok=1
need() { # LABEL: the guest printed "@@ LABEL ok"
  if tr -d '\r' <"$CONSOLE" | grep -q "^@@ $1 ok"; then return 0; fi
  say "check failed: no '@@ $1 ok'"; ok=0
}
need dhcp; need neigh; need "ping-$GW"; need gwlo; need tcp-down4; need tcp-up4; need fwd; need done
grep -q '^@@ fwd-host ok' "$W/fwd-host.out" 2>/dev/null || { say "check failed: the host's download through the forward"; ok=0; }
# passt's --mac-addr is passt's own (the gateway's) address, but libvirt 9.0
# passes the guest's MAC in it: the gateway's MAC must still differ from the guest's
nl=$(tr -d '\r' <"$CONSOLE" | grep '^@@ neigh ok' || true)
if [ -n "$nl" ] && [ "$(echo "$nl" | sed -n 's/.* mac=\([^ ]*\).*/\1/p')" = "$(echo "$nl" | sed -n 's/.* self=\([^ ]*\).*/\1/p')" ]; then
  say "check failed: the guest sees its gateway with its own MAC address"; ok=0
fi
if tr -d '\r' <"$CONSOLE" | grep -q '^@@ [^ ]* fail'; then say "check failed: the guest reported a failure"; ok=0; fi
grep -q "^passt argv: '$W/bin/passt'\|^passt argv: .*passt' '--one-off'" "$ARGV_LOG" 2>/dev/null ||
  { say "check failed: libvirt did not run the passt wrapper"; ok=0; }
[ "$helper_exit" != still-running ] || { say "check failed: passt-ts did not exit with QEMU (--one-off)"; ok=0; }

say "guest run ${GUEST_MS} ms (virsh create to guest done); passt-ts after QEMU: $helper_exit; total $(elapsed) ms"
if [ "$ok" = 1 ]; then
  echo "RESULT: PASS libvirt $(virsh_ version 2>/dev/null | sed -n 's/.*libvirt \([0-9.]*\)$/\1/p' | head -n 1) session mode started pasta-ts for <backend type='passt'/>, and the guest got network"
  exit 0
fi
echo "RESULT: FAIL (work directory kept: $W)"
exit 1
