#!/usr/bin/env python3
"""An aiortc peer that talks to examples-c/chat over chat's signaling.

Signaling: a Unix-domain stream socket at --signal (the offerer listens, the
answerer connects); each frame is a 4-byte big-endian length and UTF-8 text:
  "v=0 ..."              the offer, then the answer
  "a=candidate:..."      a trickled candidate (applied with addIceCandidate)
  "a=end-of-candidates"  the sender's gathering is over
  "bye N"                the N channels the sender opened are all closed
aiortc does not trickle: its description holds all its candidates (it
gathers them in setLocalDescription), so it sends its description and then
"a=end-of-candidates" at once. chat's trickled candidates are applied with
candidate_from_sdp + addIceCandidate.

Behaviour mirrors chat: whoever opens a channel sends on it, one message at
a time, and checks the replies; the other side prints each message and
replies "echo: <text>" (binary: "echo: <B> bytes, fnv1a 0x<checksum>").
The offerer opens --label ("chat"); the answerer opens one more channel with
--open-channel. Once all replies are in, the opener closes its channel; the
other side must see the "close" event. Exit 0 when everything was echoed
and every channel closed on both sides, 1 otherwise or after --timeout.
The last lines are the same summary lines as chat's.

With --srtp-shim, aiortc accepts a DTLS handshake in which no SRTP
protection profile (use_srtp, RFC 5764) was negotiated: stock aiortc fails
every such handshake ("DTLS handshake failed (no SRTP profile negotiated)"),
even for a session without media. libxp2p does not negotiate use_srtp, so
stock aiortc cannot connect to it; the shim lets the rest of the data channel
tests run meanwhile (tests/interop/run.sh uses it only with
AIORTC_SRTP_SHIM=1).

Host candidates: aioice leaves out loopback addresses, so get_host_addresses
is replaced to give only --host (default 127.0.0.1): traffic stays on
loopback. No STUN server (aiortc would use a public one by default).
"""
import argparse
import asyncio
import logging
import os
import struct
import sys
import time

import aioice.ice
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.sdp import candidate_from_sdp

T0 = time.monotonic()


def fnv1a(data: bytes) -> int:
    h = 2166136261
    for b in data:
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h


def pattern(n: int, seed: int) -> bytes:
    return bytes((i * 31 + 7 + seed) & 0xFF for i in range(n))


class Signal:
    """Length-prefixed text frames over a Unix stream socket."""

    def __init__(self, reader, writer):
        self.reader = reader
        self.writer = writer

    async def send(self, text: str) -> None:
        data = text.encode()
        self.writer.write(struct.pack(">I", len(data)) + data)
        await self.writer.drain()

    async def recv(self):
        try:
            head = await self.reader.readexactly(4)
            (n,) = struct.unpack(">I", head)
            return (await self.reader.readexactly(n)).decode()
        except (asyncio.IncompleteReadError, ConnectionError):
            return None

    def close(self) -> None:
        self.writer.close()


class Peer:
    def __init__(self, args):
        self.args = args
        self.offer = args.role == "offer"
        self.name = "aiortc-" + args.role
        self.errors = 0
        self.sent = self.echoed = self.received = self.replied = 0
        self.own = []  # channels we opened
        self.remote = []  # channels the peer opened
        self.remote_closed = 0
        self.own_closed = 0
        self.peer_bye = None
        self.changed = asyncio.Event()
        self.plan = []
        for i in range(args.count):
            self.plan.append(f"hello #{i + 1} from {os.getpid()}")
        if args.empty:
            self.plan += ["", b""]
        for i, size in enumerate(args.size):
            self.plan.append(pattern(size, os.getpid() + i))
        self.remote_max = None
        self.mid = "0"

    def say(self, text: str) -> None:
        if not self.args.quiet:
            ms = int((time.monotonic() - T0) * 1000)
            print(f"[{ms:5d} ms] {self.name} {text}", flush=True)

    def fail(self, text: str) -> None:
        ms = int((time.monotonic() - T0) * 1000)
        print(f"[{ms:5d} ms] {self.name} {text}", flush=True)
        self.errors += 1
        self.changed.set()

    def show(self, label: str, direction: str, msg) -> None:
        if isinstance(msg, bytes):
            self.say(f"{label}{direction} {len(msg)} bytes of binary, fnv1a 0x{fnv1a(msg):08x}")
        elif msg == "":
            self.say(f"{label}{direction} (empty text)")
        else:
            self.say(f"{label}{direction} {msg[:80]}{'...' if len(msg) > 80 else ''}")

    @staticmethod
    def reply_for(msg) -> str:
        if isinstance(msg, bytes):
            return f"echo: {len(msg)} bytes, fnv1a 0x{fnv1a(msg):08x}"
        return "echo: " + msg

    # ---- channels -------------------------------------------------------

    def open_own(self, pc) -> None:
        ch = pc.createDataChannel(self.args.label, ordered=True)
        self.own.append(ch)
        replies = asyncio.Queue()
        self.say(f"{ch.label}: channel created, {len(self.plan)} messages to send")

        @ch.on("message")
        def on_message(msg):
            replies.put_nowait(msg)

        @ch.on("close")
        def on_close():
            self.own_closed += 1
            self.say(f"{ch.label}: closed")
            self.changed.set()

        async def run():
            opened = asyncio.Event()
            if ch.readyState == "open":
                opened.set()
            else:
                ch.on("open", opened.set)
            await opened.wait()
            self.say(f"{ch.label}: open (stream {ch.id})")
            for msg in self.plan:
                ch.send(msg)
                self.sent += 1
                self.show(ch.label, ">", msg)
                expect = self.reply_for(msg)
                reply = await replies.get()
                self.show(ch.label, "<", reply)
                if reply != expect:
                    self.fail(f"{ch.label}: wrong reply, expected {expect!r}")
                    break
                self.echoed += 1
            else:
                self.say(f"{ch.label}: all {self.echoed} messages echoed, closing the channel")
            ch.close()

        asyncio.ensure_future(run())

    def on_datachannel(self, ch) -> None:
        self.remote.append(ch)
        self.say(f"{ch.label}: channel opened by the peer (stream {ch.id})")

        @ch.on("message")
        def on_message(msg):
            self.received += 1
            self.show(ch.label, "<", msg)
            reply = self.reply_for(msg)
            try:
                ch.send(reply)
            except Exception as e:  # noqa: BLE001 - report whatever aiortc raises
                self.fail(f"{ch.label}: reply failed: {e}")
                return
            self.replied += 1
            self.show(ch.label, ">", reply)

        @ch.on("close")
        def on_close():
            self.remote_closed += 1
            self.say(f"{ch.label}: closed by the peer")
            self.changed.set()

    # ---- the run --------------------------------------------------------

    async def connect_signal(self) -> Signal:
        path = self.args.signal
        if self.offer:
            got = asyncio.get_running_loop().create_future()

            def on_client(reader, writer):
                if not got.done():
                    got.set_result(Signal(reader, writer))

            if os.path.exists(path):
                os.unlink(path)
            server = await asyncio.start_unix_server(on_client, path=path)
            self.say(f"waiting for the answerer on {path}")
            sig = await got
            server.close()
            os.unlink(path)
        else:
            self.say(f"connecting to {path}")
            while True:
                try:
                    reader, writer = await asyncio.open_unix_connection(path)
                    break
                except OSError:
                    await asyncio.sleep(0.1)
            sig = Signal(reader, writer)
        self.say(f"signaling connected ({path})")
        return sig

    def note_remote(self, sdp: str, what: str) -> None:
        cands = sdp.count("a=candidate:")
        for line in sdp.splitlines():
            if line.startswith("a=max-message-size:"):
                self.remote_max = int(line.split(":", 1)[1])
            if line.startswith("a=mid:"):
                self.mid = line.split(":", 1)[1]
        self.say(f"{what} received ({len(sdp)} bytes, {cands} candidates in it; "
                 f"peer max-message-size {self.remote_max})")

    async def send_local(self, pc, sig: Signal) -> None:
        desc = pc.localDescription
        what = "offer" if self.offer else "answer"
        await sig.send(desc.sdp)
        local_max = [l for l in desc.sdp.splitlines() if l.startswith("a=max-message-size:")]
        self.say(f"{what} sent ({len(desc.sdp)} bytes, {desc.sdp.count('a=candidate:')} "
                 f"candidates in it; {local_max[0][2:] if local_max else 'no max-message-size'})")
        if self.args.print_sdp:
            sys.stdout.write(desc.sdp)
        await sig.send("a=end-of-candidates")

    async def run(self) -> bool:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc.on("datachannel", self.on_datachannel)

        @pc.on("connectionstatechange")
        def on_state():
            self.say(f"connection {pc.connectionState}")
            self.changed.set()

        sig = await self.connect_signal()
        if self.offer:
            self.open_own(pc)
            await pc.setLocalDescription(await pc.createOffer())
            await self.send_local(pc, sig)

        sent_bye = False
        reader = asyncio.ensure_future(sig.recv())
        waiter = asyncio.ensure_future(self.changed.wait())
        try:
            while True:
                done, _ = await asyncio.wait({reader, waiter}, return_when=asyncio.FIRST_COMPLETED)
                if reader in done:
                    msg = reader.result()
                    if msg is None:
                        if self.peer_bye is None:
                            self.fail("signaling closed by the peer")
                            return False
                        reader = asyncio.get_running_loop().create_future()  # never again
                    else:
                        await self.handle(pc, sig, msg)
                        reader = asyncio.ensure_future(sig.recv())
                if waiter in done:
                    self.changed.clear()
                    waiter = asyncio.ensure_future(self.changed.wait())
                if self.errors:
                    return False
                if pc.connectionState == "failed":
                    self.fail("the connection failed")
                    return False
                if (not sent_bye and pc.connectionState == "connected"
                        and self.own_closed == len(self.own)):
                    await sig.send(f"bye {len(self.own)}")
                    sent_bye = True
                if (sent_bye and self.peer_bye is not None
                        and self.remote_closed >= self.peer_bye
                        and self.remote_closed == len(self.remote)):
                    return True
        finally:
            reader.cancel()
            waiter.cancel()
            await pc.close()
            sig.close()

    async def handle(self, pc, sig: Signal, msg: str) -> None:
        if msg.startswith("v=0"):
            kind = "answer" if self.offer else "offer"
            self.note_remote(msg, kind)
            await pc.setRemoteDescription(RTCSessionDescription(sdp=msg, type=kind))
            if not self.offer:
                if self.args.open_channel:
                    self.open_own(pc)
                await pc.setLocalDescription(await pc.createAnswer())
                await self.send_local(pc, sig)
        elif msg.startswith("a=candidate:"):
            cand = candidate_from_sdp(msg[len("a=candidate:"):])
            cand.sdpMid = self.mid
            cand.sdpMLineIndex = 0
            await pc.addIceCandidate(cand)
            self.say(f"remote {msg}")
        elif msg == "a=end-of-candidates":
            await pc.addIceCandidate(None)
            self.say("remote gathering done")
        elif msg.startswith("bye "):
            self.peer_bye = int(msg[4:])
            self.say(f"peer: done ({self.peer_bye} channel(s) opened by it, closed)")
        else:
            self.say(f"ignoring signaling message {msg[:40]!r}")


async def advertised_max_message_size() -> int:
    """The a=max-message-size of an offer aiortc makes (0: none in it)."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.createDataChannel("probe")
    await pc.setLocalDescription(await pc.createOffer())
    await pc.close()
    for line in pc.localDescription.sdp.splitlines():
        if line.startswith("a=max-message-size:"):
            return int(line.split(":", 1)[1])
    return 0


def install_srtp_shim() -> None:
    from aiortc.rtcdtlstransport import RTCDtlsTransport

    setup = RTCDtlsTransport._setup_srtp

    def setup_srtp(self):
        if not self._ssl.get_selected_srtp_profile():
            logging.getLogger("aiortc_peer").info("no SRTP profile negotiated: data channels only")
            return
        setup(self)

    RTCDtlsTransport._setup_srtp = setup_srtp


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--role", choices=["offer", "answer"])
    ap.add_argument("--signal", help="Unix socket path (the offerer listens)")
    ap.add_argument("--count", type=int, default=5, help="text messages to send (default 5)")
    ap.add_argument("--size", type=int, action="append", default=[],
                    help="also a binary message of B bytes (may be repeated)")
    ap.add_argument("--empty", action="store_true", help="also an empty text and an empty binary message")
    ap.add_argument("--label", default=None, help='label of our channel (default "chat"; answerer "aiortc-back")')
    ap.add_argument("--open-channel", action="store_true", help="answerer: open a channel too")
    ap.add_argument("--timeout", type=float, default=30)
    ap.add_argument("--host", default="127.0.0.1", help="the only host candidate address")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--print-sdp", action="store_true", help="print our description")
    ap.add_argument("--srtp-shim", action="store_true",
                    help="accept a DTLS handshake without an SRTP profile (see above)")
    ap.add_argument("--print-max-message-size", action="store_true",
                    help="print the a=max-message-size aiortc advertises and exit")
    ap.add_argument("--debug", action="store_true", help="aiortc/aioice debug logs on stderr")
    args = ap.parse_args()
    if not args.print_max_message_size and (not args.role or not args.signal):
        ap.error("--role and --signal are required")
    if args.label is None:
        args.label = "chat" if args.role == "offer" else "aiortc-back"
    if args.debug:
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)

    host = args.host
    if args.srtp_shim:
        install_srtp_shim()
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: [host]

    if args.print_max_message_size:
        print(asyncio.run(advertised_max_message_size()))
        return 0

    peer = Peer(args)

    async def bounded():
        try:
            return await asyncio.wait_for(peer.run(), args.timeout)
        except asyncio.TimeoutError:
            peer.fail(f"timeout after {args.timeout:g} s")
            return False

    ok = asyncio.run(bounded())
    if peer.received:
        print(f"chat: received {peer.received}, replied {peer.replied}")
    print(f"chat: sent {peer.sent}, echoed {peer.echoed}")
    return 0 if ok and peer.errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
