#!/usr/bin/env python3
"""A STUN server on loopback that pretends to be behind a NAT.

It answers every Binding request (RFC 5389) with an XOR-MAPPED-ADDRESS of
the sender's address but another port (the sender's port + --shift, wrapped
into 10000..65535), so a client gets a server-reflexive candidate that
differs from its host candidate. libxp2p reports such a candidate after its
description, through on_ice_candidate: tests/interop/run.sh uses this to
make chat trickle a candidate for real. Nothing listens on the mapped port,
so checks towards it fail and the host pair wins. Runs until killed (or
--lifetime seconds); prints "listening PORT" once bound.
"""
import argparse
import socket
import struct
import sys
import time

MAGIC = 0x2112A442


def response(req: bytes, addr) -> bytes | None:
    if len(req) < 20:
        return None
    mtype, _length, cookie = struct.unpack(">HHI", req[:8])
    if mtype != 0x0001 or cookie != MAGIC:
        return None
    txid = req[8:20]
    ip, port = addr
    mapped_port = 10000 + (port + ARGS.shift - 10000) % 55536
    xport = mapped_port ^ (MAGIC >> 16)
    xaddr = struct.unpack(">I", socket.inet_aton(ip))[0] ^ MAGIC
    attr = struct.pack(">HHBBHI", 0x0020, 8, 0, 1, xport, xaddr)
    return struct.pack(">HHI", 0x0101, len(attr), MAGIC) + txid + attr


def main() -> int:
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--shift", type=int, default=7)
    ap.add_argument("--lifetime", type=float, default=120)
    ARGS = ap.parse_args()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", ARGS.port))
    print("listening", s.getsockname()[1], flush=True)
    end = time.monotonic() + ARGS.lifetime
    while time.monotonic() < end:
        s.settimeout(max(0.1, end - time.monotonic()))
        try:
            data, addr = s.recvfrom(2048)
        except socket.timeout:
            continue
        out = response(data, addr)
        if out:
            s.sendto(out, addr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
