#!/usr/bin/env python3
"""Writes a copy of Debian 12's libvirt.so.0 without the one check that
Debian's patch debian/patches/debian/Disable-passt-support.patch adds to
virDomainNetBackendParseXML():

    if (def->backend.type == VIR_DOMAIN_NET_BACKEND_PASST) {
        virReportError(VIR_ERR_XML_ERROR, _("Invalid value for attribute ..."),
                       "type", node->name, "passt");
        return -1;
    }

Everything else in libvirt (the upstream 9.0 passt code in the QEMU driver,
which Debian left untouched) is unchanged. Used only by
scripts/libvirt-passt.sh, for a private session daemon started with
LD_LIBRARY_PATH pointing at the copy; the system's libvirt is not modified.

    allow-passt.py SRC DST     exit 0: DST written; 2: pattern not found
                               (a libvirt without that patch needs no copy)

The check compiles (x86-64, Debian's gcc) to
    cmpl $0x1,OFF(%reg) ; je ERR      83 7b 78 01 0f 84 rel32
right after the virXMLPropEnum() call for the backend type, where ERR loads
the "Invalid value for attribute '%s' in element '%s': '%s'." format. The je
is found by that pattern, confirmed by what ERR loads, and replaced by a
6-byte NOP.
"""
import re
import struct
import sys

src, dst = sys.argv[1], sys.argv[2]
data = bytearray(open(src, 'rb').read())
fmt = b"Invalid value for attribute '%s' in element '%s': '%s'.\x00"
fmt_off = data.find(fmt)
if fmt_off < 0:
    print('allow-passt: the error format is not in', src, file=sys.stderr)
    sys.exit(2)


def vaddr_to_off(v):
    # program headers of the ELF64 file: map a virtual address to a file offset
    phoff, = struct.unpack_from('<Q', data, 0x20)
    phentsize, phnum = struct.unpack_from('<HH', data, 0x36)
    for i in range(phnum):
        p = phoff + i * phentsize
        ptype, _flags, off, va, _pa, filesz = struct.unpack_from('<IIQQQQ', data, p)
        if ptype == 1 and va <= v < va + filesz:
            return off + v - va
    return None


def off_to_vaddr(o):
    phoff, = struct.unpack_from('<Q', data, 0x20)
    phentsize, phnum = struct.unpack_from('<HH', data, 0x36)
    for i in range(phnum):
        p = phoff + i * phentsize
        ptype, _flags, off, va, _pa, filesz = struct.unpack_from('<IIQQQQ', data, p)
        if ptype == 1 and off <= o < off + filesz:
            return va + o - off
    return None


fmt_va = off_to_vaddr(fmt_off)
hits = []
# cmpl $0x1, disp8(%reg) ; je rel32
for m in re.finditer(rb'\x83[\x78-\x7f].\x01\x0f\x84(....)', bytes(data), re.S):
    je_off = m.start() + 4
    je_va = off_to_vaddr(je_off)
    rel, = struct.unpack('<i', m.group(1))
    tgt_off = vaddr_to_off(je_va + 6 + rel)
    if tgt_off is None:
        continue
    # within the first 48 bytes at ERR: lea rel32(%rip),%reg that points at fmt
    for k in range(tgt_off, tgt_off + 48):
        if data[k] in (0x48, 0x4c) and data[k + 1] == 0x8d and (data[k + 2] & 0xc7) == 0x05:
            disp, = struct.unpack_from('<i', data, k + 3)
            if off_to_vaddr(k) + 7 + disp == fmt_va:
                hits.append(je_off)
                break
if len(hits) != 1:
    print(f'allow-passt: expected one passt check, found {len(hits)}', file=sys.stderr)
    sys.exit(2)
data[hits[0]:hits[0] + 6] = b'\x66\x0f\x1f\x44\x00\x00'
open(dst, 'wb').write(data)
print(f'allow-passt: {dst}: NOP at file offset {hits[0]:#x} (vaddr {off_to_vaddr(hits[0]):#x})')
