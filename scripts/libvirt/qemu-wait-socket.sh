#!/bin/sh
# Emulator wrapper of scripts/libvirt-passt.sh:
#   qemu-wait-socket.sh LOGFILE REAL_QEMU QEMU_ARGS...
# If QEMU_ARGS have a stream netdev (libvirt's JSON -netdev for
# <backend type='passt'/>), wait at most 20 s for its UNIX socket to exist,
# log how long that took, then exec REAL_QEMU QEMU_ARGS.
#
# Why: Debian's libvirt 9.0 starts passt with virCommandDaemonize() and does
# not wait for it; QEMU is started ~20 ms later, and QEMU 7.2's stream netdev
# connects once, without retrying. passt (C) binds its socket within a few
# ms and wins that race; pasta-ts (Node) needs ~50 ms through its front
# (which exits only once the socket exists, what libvirt >= 9.1 waits for).
log=$1 qemu=$2
shift 2
sock=
for a in "$@"; do
  case $a in
    *'"type":"stream"'*'"path":"'*)
      sock=${a#*'"path":"'}
      sock=${sock%%'"'*}
      ;;
  esac
done
if [ -n "$sock" ]; then
  t0=$(date +%s%N) i=0
  while [ ! -S "$sock" ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i + 1)); done
  st=present
  [ -S "$sock" ] || st=missing
  echo "qemu-wrap: passt socket $sock $st after $(( ($(date +%s%N) - t0) / 1000000 )) ms of waiting" >>"$log"
fi
exec "$qemu" "$@"
