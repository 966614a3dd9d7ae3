#!/usr/bin/env python3
"""One Chromium interop case: headless Chromium (tests/chromium/page.html)
against examples-c/chat, bridged by this harness. Python standard library
only.

The harness serves the page and its signaling on 127.0.0.1 (an ephemeral
port) with http.server:
  GET  /          the page
  GET  /config    the case, as JSON (role, label, message plan, bulk size)
  POST /send      one signaling frame from the page, written to chat
  GET  /recv      the frames chat sent since (JSON list; waits up to 1 s)
  POST /log       a line of the page's transcript (printed)
  POST /result    the page's outcome (JSON), which ends the case
and speaks chat's signaling on chat's Unix socket (4-byte big-endian length,
then the text): it connects to an offering chat, or listens for an answering
one.

In the mDNS cases chat's candidates are withheld from the browser (the
a=candidate lines of its description and its trickled candidates): Chromium
cannot send a check before chat's check reaches it, and chat can send one
only to an address it resolved from Chromium's `<uuid>.local` name, so the
connection proves the resolver. The page's candidates must carry `.local`
names there and IP addresses in the plain cases (obfuscation off).

In the relay cases the harness starts coturn (UDP, long-term credentials)
listening on --turn-ip and relaying from --relay-ip, an address on the
namespace's lo that neither peer has as a host address. The page's
RTCPeerConnection gets the server in iceServers with iceTransportPolicy
'relay', chat gets --turn ... --relay-only: every candidate either side
signals must be `typ relay` (checked on the frames the harness passes), and
because coturn only relays from addresses a permission was created for,
which are relay addresses only, nothing but relay-to-relay can connect. The
page reports the selected candidate pair from getStats(): its local
candidate must be relay and its remote one chat's relayed address.

Exit status 0 when the page and chat both report success with the expected
counts; the last line is "PASS <case>" or "FAIL <case>: <why>".
"""
import argparse
import json
import os
import queue
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
MAX_MESSAGE = 262144  # what both sides advertise
SIZES = [1, 1200, 65536, MAX_MESSAGE]
COUNT = 3
PLAN = COUNT + 2 + len(SIZES)  # texts, empty text + empty binary, binaries
BULK = 50 * 1000 * 1000

# name: (the browser offers, Chromium hides its addresses behind mDNS names,
#        bytes streamed each way on a "bulk" channel, relay candidates only)
CASES = {
    "browser-offers": (True, True, 0, False),
    "xp2p-offers": (False, True, 0, False),
    "browser-offers-plain": (True, False, 0, False),
    "xp2p-offers-plain": (False, False, 0, False),
    "bulk": (False, True, BULK, False),
    "bulk-stall": (False, True, 2 * BULK, False),
    "relay-browser-offers": (True, False, 0, True),
    "relay-xp2p-offers": (False, False, 0, True),
    # The browser also offers audio and video (before the data channel):
    # chat's answer must reject them and Chromium accept that answer.
    "browser-offers-media": (True, False, 0, False),
}
# bulk-stall: 100 MB each way; chat stalls its loop this long a quarter into
# the page's stream, while the page writes up to STALL_AHEAD bytes ahead
# (below Chromium's 16 MiB send buffer). The page's buffered amount must then
# stay above its low threshold for at least half the stall (chat's stack
# stopped reading, the window closed: back-pressure; without it the 12 MiB
# drain in about 3 s on this link and chat keeps taking data), and chat's
# peak memory stay under STALL_RSS_KB.
STALL_MS = {"bulk-stall": 12000}
STALL_AHEAD = 12 * 1024 * 1024
STALL_RSS_KB = 64 * 1024
TURN_PORT = 3478
TURN_USER = "xp2p"
TURN_PASS = "chromium-relay"
TURN_REALM = "xp2p.test"

# Exactly the flags that keep Chromium off every network but the test's.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
NO_MDNS_FLAG = "--disable-features=WebRtcHideLocalIpsWithMdns"

T0 = time.monotonic()
CHILDREN = []  # (Popen, whether it leads its own process group)


def stop_children():
    for p, group in CHILDREN:
        if p.poll() is None:
            try:
                if group:
                    os.killpg(p.pid, signal.SIGKILL)
                else:
                    p.kill()
            except ProcessLookupError:
                pass
            p.wait()


def on_term(signo, frame):
    raise SystemExit(128 + signo)


def say(*a):
    print(f"[{(time.monotonic() - T0) * 1000:6.0f} ms] harness", *a, flush=True)


def send_frame(sock, lock, text):
    data = text.encode()
    with lock:
        sock.sendall(struct.pack(">I", len(data)) + data)


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def candidate_lines(text):
    """The a=candidate lines of a signaling frame (a description or one
    trickled candidate)."""
    return [l.strip() for l in text.splitlines() if l.startswith("a=candidate:")]


def is_relay(line):
    return re.search(r" typ relay( |$)", line) is not None


def stun_answers(host, port):
    """Whether a STUN Binding request to host:port gets an answer."""
    req = struct.pack(">HHI", 1, 0, 0x2112A442) + os.urandom(12)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.2)
        try:
            s.sendto(req, (host, port))
            data = s.recv(2048)
        except OSError:
            return False
    return len(data) >= 20 and data[4:8] == req[4:8] and data[8:20] == req[8:20]


def start_coturn(work, listen_ip, relay_ip):
    """coturn on listen_ip:TURN_PORT relaying from relay_ip; None when it
    does not answer within 10 s."""
    cmd = [
        "turnserver", "-n", "--no-cli", "--no-tls", "--no-dtls", "--no-tcp-relay",
        "--listening-ip", listen_ip, "--listening-port", str(TURN_PORT),
        "--relay-ip", relay_ip, "--min-port", "49200", "--max-port", "49299",
        "--lt-cred-mech", "--user", f"{TURN_USER}:{TURN_PASS}", "--realm", TURN_REALM,
        "--verbose", "--simple-log", "--no-stdout-log",
        f"--log-file={os.path.join(work, 'coturn.log')}",
        f"--pidfile={os.path.join(work, 'coturn.pid')}",
        f"--userdb={os.path.join(work, 'turndb')}",
    ]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    CHILDREN.append((p, False))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and p.poll() is None:
        if stun_answers(listen_ip, TURN_PORT):
            say(f"coturn answers on {listen_ip}:{TURN_PORT}, relaying from {relay_ip}")
            return p
        time.sleep(0.1)
    say("coturn did not answer", "(exited)" if p.poll() is not None else "")
    return None


def strip_candidates(sdp):
    return "".join(l for l in sdp.splitlines(True) if not l.startswith("a=candidate:"))


class Bridge:
    def __init__(self, cfg, withhold):
        self.cfg = cfg
        self.withhold = withhold
        self.to_page = queue.Queue()
        self.sock = None
        self.lock = threading.Lock()
        self.result = None
        self.done = threading.Event()
        self.page_frames = []
        self.chat_candidates = []
        self.withheld = 0

    def chat_reader(self):
        while True:
            head = recv_exact(self.sock, 4)
            if head is None:
                say("chat closed the signaling")
                return
            (n,) = struct.unpack(">I", head)
            body = recv_exact(self.sock, n)
            if body is None:
                return
            text = body.decode("utf-8", "replace")
            self.chat_candidates += candidate_lines(text)
            if self.withhold and text.startswith("a=candidate:"):
                self.withheld += 1
                continue
            if self.withhold and text.startswith("v=0"):
                stripped = strip_candidates(text)
                self.withheld += text.count("a=candidate:")
                text = stripped
            self.to_page.put(text)

    def from_page(self, text):
        self.page_frames.append(text)
        if self.sock is None:
            say("a frame from the page before chat is connected:", text[:40])
            return
        try:
            send_frame(self.sock, self.lock, text)
        except OSError as e:
            say("could not pass a frame to chat:", e)


def make_handler(bridge):
    page = open(os.path.join(HERE, "page.html"), "rb").read()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, fmt, *args):
            pass

        def reply(self, body, ctype="application/json"):
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def body(self):
            n = int(self.headers.get("Content-Length", "0"))
            return self.rfile.read(n).decode("utf-8", "replace")

        def do_GET(self):
            if self.path == "/":
                self.reply(page, "text/html; charset=utf-8")
            elif self.path == "/config":
                self.reply(json.dumps(bridge.cfg).encode())
            elif self.path == "/recv":
                frames = []
                try:
                    frames.append(bridge.to_page.get(timeout=1.0))
                    while True:
                        frames.append(bridge.to_page.get_nowait())
                except queue.Empty:
                    pass
                self.reply(json.dumps(frames).encode())
            else:
                self.send_error(404)

        def do_POST(self):
            text = self.body()
            if self.path == "/send":
                bridge.from_page(text)
            elif self.path == "/log":
                print(f"                page {text}", flush=True)
            elif self.path == "/result":
                try:
                    bridge.result = json.loads(text)
                except ValueError:
                    bridge.result = {"ok": False, "errors": ["unreadable result"]}
                bridge.done.set()
            else:
                self.send_error(404)
                return
            self.reply(b"{}")

    return Handler


def check_relay(bridge, chat_out, relay_ip):
    """The relay cases: what both sides signalled and what they selected."""
    why = []
    r = bridge.result
    page = [l for f in bridge.page_frames for l in candidate_lines(f)]
    for who, cands in (("the browser", page), ("chat", bridge.chat_candidates)):
        if not cands:
            why.append(f"{who} signalled no candidate")
        others = [c for c in cands if not is_relay(c)]
        if others:
            why.append(f"{who} signalled non-relay candidates: {others}")
        strangers = [c for c in cands if is_relay(c) and f" {relay_ip} " not in c]
        if strangers:
            why.append(f"{who} signalled relay candidates not on {relay_ip}: {strangers}")
    m = re.search(r"chat: relay only, candidates sent (\d+), dropped (\d+) local and (\d+) remote",
                  chat_out)
    if not m:
        why.append("chat did not report its relay-only counts")
    elif int(m.group(1)) != len(bridge.chat_candidates) or int(m.group(2)) == 0:
        why.append(f"chat's relay-only counts ({m.group(0)}) do not fit: "
                   f"{len(bridge.chat_candidates)} candidates passed, host candidates expected dropped")
    pair = r.get("selectedPair") or {}
    if pair.get("localType") != "relay":
        why.append(f"the browser's selected pair is not relay on the local side: {pair}")
    if pair.get("remoteType") != "relay" or pair.get("remoteAddress") != relay_ip:
        why.append(f"the browser's selected pair is not chat's relayed address: {pair}")
    return why


def check_media(r):
    """The media case: chat's answer rejected audio and video (port 0, in
    the offer's order) and bundled the data channel's mid alone; Chromium
    took it (the channels ran) and stopped its two media transceivers
    (rejected transceivers leave getTransceivers() once the answer is
    applied)."""
    why = []
    mlines = r.get("remoteMLines", [])
    kinds = [m.split()[0] for m in mlines]
    if kinds != ["m=audio", "m=video", "m=application"]:
        why.append(f"answer sections {mlines}, expected audio, video, application")
    elif not (mlines[0].split()[1] == "0" and mlines[1].split()[1] == "0" and mlines[2].split()[1] != "0"):
        why.append(f"answer ports: {mlines}")
    if r.get("remoteGroups") != ["a=group:BUNDLE 2"]:
        why.append(f"answer groups: {r.get('remoteGroups')}")
    live = [t for t in r.get("transceivers", []) if t.get("currentDirection") not in (None, "inactive", "stopped")]
    if r.get("transceiversBefore") != 2 or live:
        why.append(f"browser transceivers: {r.get('transceiversBefore')} before the answer, "
                   f"after it {r.get('transceivers')}")
    return why


def check(case, bridge, chat_rc, chat_out, bulk, mdns, relay, relay_ip):
    """The reasons the case failed (empty when it passed)."""
    why = []
    r = bridge.result
    if r is None:
        return ["the page reported no result"] + ([] if chat_rc == 0 else [f"chat exit {chat_rc}"])
    why += [f"page: {e}" for e in r.get("errors", [])]
    if chat_rc != 0:
        why.append(f"chat exited with {chat_rc}")
    n = PLAN + (1 if bulk else 0)
    for line in (f"chat: sent {n}, echoed {n}", f"chat: received {n}, replied {n}"):
        if line not in chat_out:
            why.append(f'chat did not print "{line}"')
    for k in ("sent", "echoed", "received", "replied"):
        if r.get(k) != n:
            why.append(f"page: {k} {r.get(k)}, expected {n}")
    chans = r.get("chans", [])
    if len(chans) != 2 * (2 if bulk else 1) or not all(c["closed"] for c in chans):
        why.append(f"page channels: {chans}")
    cands = [c for c in r.get("localCandidates", []) if " udp " in c.lower()]
    local = [c for c in cands if ".local " in c]
    if relay:
        why += check_relay(bridge, chat_out, relay_ip)
    elif not cands:
        why.append("the browser gathered no UDP candidate")
    elif mdns and not local:
        why.append("the browser's candidates carry no .local name (obfuscation off?)")
    elif not mdns and local:
        why.append("the browser's candidates carry .local names with obfuscation off")
    if mdns and bridge.withheld == 0:
        why.append("no candidate of chat was withheld")
    if case.endswith("-media"):
        why += check_media(r)
    if bulk:
        if r.get("bulkSent") != bulk or r.get("bulkReceived") != bulk:
            why.append(f"page bulk: sent {r.get('bulkSent')}, received {r.get('bulkReceived')}")
        if not re.search(rf"bulk: {bulk} bytes received, fnv1a 0x[0-9a-f]{{8}} matches", chat_out):
            why.append("chat did not confirm the bulk checksum")
    stall = STALL_MS.get(case)
    if stall:
        if not re.search(rf"bulk: stalled {stall} ms", chat_out):
            why.append("chat did not stall")
        m = re.search(r"bulk: VmHWM (\d+) kB", chat_out)
        if not m or int(m.group(1)) >= STALL_RSS_KB:
            why.append(f"chat's peak memory {m.group(1) if m else '?'} kB, not under {STALL_RSS_KB}")
        if (r.get("longestHoldMs") or 0) < stall // 2:
            why.append(f"the page's buffered amount stayed up {r.get('longestHoldMs')} ms at most "
                       f"during a {stall} ms stall: no back-pressure")
    return why


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("case", choices=sorted(CASES))
    ap.add_argument("--chat", required=True)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--interface", required=True, help="XP2P_INTERFACES for chat")
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--turn-ip", default="10.77.0.1", help="coturn listens here (relay cases)")
    ap.add_argument("--relay-ip", default="10.77.0.2", help="coturn relays from here")
    a = ap.parse_args()

    browser_offers, mdns, bulk, relay = CASES[a.case]
    media = a.case.endswith("-media")
    cfg = {
        "media": media,
        "role": "offer" if browser_offers else "answer",
        "label": "chat" if browser_offers else "chat-back",
        "openChannel": True,
        "count": COUNT,
        "empty": True,
        "sizes": SIZES,
        "bulk": bulk,
        "bulkAhead": STALL_AHEAD if a.case in STALL_MS else 0,
        "relay": relay,
        "iceServers": [
            {"urls": f"turn:{a.turn_ip}:{TURN_PORT}", "username": TURN_USER, "credential": TURN_PASS}
        ] if relay else [],
    }
    bridge = Bridge(cfg, withhold=mdns)
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(bridge))
    server.daemon_threads = True
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    say(f"case {a.case}: serving the page on 127.0.0.1:{port}")

    work = tempfile.mkdtemp(prefix=f"{a.case}-", dir=a.workdir)
    sock_path = os.path.join(work, "signal.sock")
    if relay and start_coturn(work, a.turn_ip, a.relay_ip) is None:
        print(f"FAIL {a.case}: coturn did not start (log in {work}/coturn.log)")
        return 1
    chat_cmd = [
        a.chat,
        "answer" if browser_offers else "offer",
        "--signal", sock_path,
        "--count", str(COUNT), "--empty",
        "--timeout", str(int(a.timeout)),
    ]
    for s in SIZES:
        chat_cmd += ["--size", str(s)]
    if browser_offers:
        chat_cmd.append("--open-channel")
    if bulk:
        chat_cmd += ["--bulk", str(bulk)]
    if a.case in STALL_MS:
        chat_cmd += ["--stall-ms", str(STALL_MS[a.case])]
    if relay:
        chat_cmd += ["--turn", f"{a.turn_ip}:{TURN_PORT}", "--turn-user", TURN_USER,
                     "--turn-pass", TURN_PASS, "--relay-only"]
    env = dict(os.environ, XP2P_INTERFACES=a.interface)
    chat_log = open(os.path.join(work, "chat.log"), "w+")

    listener = None
    if browser_offers:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(sock_path)
        listener.listen(1)
        listener.settimeout(10)
    chat = subprocess.Popen(chat_cmd, env=env, stdout=chat_log, stderr=subprocess.STDOUT)
    CHILDREN.append((chat, False))
    say("started", " ".join(chat_cmd))
    deadline = time.monotonic() + 10
    try:
        if listener:
            bridge.sock, _ = listener.accept()
        else:
            while True:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    s.connect(sock_path)
                    bridge.sock = s
                    break
                except OSError:
                    s.close()
                    if time.monotonic() > deadline or chat.poll() is not None:
                        raise
                    time.sleep(0.05)
    except OSError as e:
        chat.kill()
        chat.wait()
        print(f"FAIL {a.case}: no signaling connection with chat ({e})")
        return 1
    bridge.sock.settimeout(None)
    threading.Thread(target=bridge.chat_reader, daemon=True).start()

    profile = os.path.join(work, "profile")
    flags = CHROMIUM_FLAGS + [f"--user-data-dir={profile}"]
    if not mdns and not relay:
        flags.append(NO_MDNS_FLAG)
    browser_log = open(os.path.join(work, "chromium.log"), "w")
    benv = dict(os.environ, HOME=work)
    browser = subprocess.Popen(
        [a.chromium] + flags + [f"http://127.0.0.1:{port}/"],
        env=benv, stdout=browser_log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    CHILDREN.append((browser, True))
    say("started chromium", " ".join(flags))

    # Until the page reports; if chat ends first, the page has a few
    # seconds left to report too.
    end = time.monotonic() + a.timeout
    chat_ended = None
    while not bridge.done.wait(0.2) and time.monotonic() < end:
        if chat_ended is None and chat.poll() is not None:
            chat_ended = time.monotonic()
        if chat_ended is not None and time.monotonic() - chat_ended > 5:
            say("chat has ended and the page did not report")
            break
    try:
        chat_rc = chat.wait(timeout=max(5.0, a.timeout - (time.monotonic() - T0)))
    except subprocess.TimeoutExpired:
        chat.kill()
        chat_rc = chat.wait()
    try:
        os.killpg(browser.pid, 15)
        browser.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(browser.pid, 9)
        except ProcessLookupError:
            pass
        browser.wait()
    server.shutdown()

    chat_log.seek(0)
    chat_out = chat_log.read()
    for line in chat_out.splitlines():
        print("                " + line)
    why = check(a.case, bridge, chat_rc, chat_out, bulk, mdns, relay, a.relay_ip)
    elapsed = time.monotonic() - T0
    if why:
        browser_log.close()
        tail = open(os.path.join(work, "chromium.log")).read().splitlines()[-15:]
        for line in tail:
            print("                chromium: " + line)
        print(f"FAIL {a.case} ({elapsed:.1f} s): " + "; ".join(why))
        return 1
    r = bridge.result
    local = sum(1 for c in r["localCandidates"] if ".local " in c)
    if relay:
        pair = r["selectedPair"]
        print(
            f"PASS {a.case} ({elapsed:.1f} s): {PLAN} messages each way up to {MAX_MESSAGE} bytes, "
            f"channels opened and closed from both sides, relay candidates only "
            f"(browser {len(r['localCandidates'])}, chat {len(bridge.chat_candidates)}), "
            f"selected pair relay {pair['localAddress']}:{pair['localPort']} -> "
            f"relay {pair['remoteAddress']}:{pair['remotePort']}"
        )
        return 0
    print(
        f"PASS {a.case} ({elapsed:.1f} s): {PLAN} messages each way up to {MAX_MESSAGE} bytes, "
        f"channels opened and closed from both sides, browser candidates "
        f"{len(r['localCandidates'])} ({local} .local), chat candidates withheld {bridge.withheld}"
        + (f", {bulk} bytes each way with matching FNV-1a" if bulk else "")
        + (f"; chat stalled {STALL_MS[a.case]} ms: the page's buffered amount held up to "
           f"{r.get('maxBuffered')} bytes for {r.get('longestHoldMs')} ms, chat's "
           + re.search(r"bulk: (VmHWM \d+ kB)", chat_out).group(1)
           if a.case in STALL_MS else "")
    )
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, on_term)
    try:
        sys.exit(main())
    finally:
        stop_children()
