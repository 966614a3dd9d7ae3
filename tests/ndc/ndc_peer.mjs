// ndc_peer.mjs: a libdatachannel peer (npm node-datachannel) that talks to
// examples-c/chat over chat's signaling.
//
// Signaling: a Unix-domain stream socket at --signal (the offerer listens,
// the answerer connects); each frame is a 4-byte big-endian length and
// UTF-8 text (examples-c/signal.h):
//   "v=0 ..."              the offer, then the answer
//   "a=candidate:..."      a trickled candidate
//   "a=end-of-candidates"  the sender's gathering is over
//   "bye N"                the N channels the sender opened are all closed
// libdatachannel trickles: its description comes first (onLocalDescription),
// then each candidate it gathers (onLocalCandidate), then
// "a=end-of-candidates" once its gathering state is "complete". chat's
// candidates are applied with addRemoteCandidate (mid from its description);
// its end-of-candidates needs no call (libdatachannel has none), but this
// peer says "bye" only after it, so chat's trickled candidates are always
// applied before the run ends. After the summary the PeerConnection stays up
// until chat has closed the signaling (it exits once it has seen our
// channels close), at most 5 s.
//
// Behaviour mirrors chat: whoever opens a channel sends on it, one message
// at a time, and checks the replies; the other side replies
// "echo: <text>" (binary: "echo: <B> bytes, fnv1a 0x<checksum>"). The
// offerer opens --label ("chat"); the answerer opens one more channel with
// --open-channel ("ndc-back"). With --bulk N the side that opens channels
// also opens "bulk" and streams N bytes as binary messages of the largest
// size the peer accepts (at most 262144), then "end N 0x<fnv1a>"; the
// receiver of a "bulk" channel checksums what arrives and replies
// "ok N 0x<fnv1a>" (or "bad ..."). Once all replies are in, the opener
// closes its channel; the other side must see the close. Exit 0 when
// everything was echoed and every channel closed on both sides, 1 otherwise
// or after --timeout seconds. The last lines are chat's summary lines.
//
// Both ends stay on loopback: bindAddress 127.0.0.1, no ICE servers.
// --module names node-datachannel's ESM entry file (tests/ndc/run.sh passes
// the one tests/ndc/deps.sh installed).
import net from 'node:net';
import fs from 'node:fs';
import { pathToFileURL } from 'node:url';

const T0 = performance.now();
const FNV0 = 2166136261;
const MAX_CHUNK = 262144;

function usage() {
  console.error(
    'usage: ndc_peer.mjs --module FILE (--print-max-message-size | --role offer|answer --signal PATH\n' +
      '       [--count N] [--empty] [--size B]... [--label L] [--open-channel] [--bulk N]\n' +
      '       [--timeout S] [--quiet])'
  );
  process.exit(2);
}

const opt = {
  role: null, signal: null, module: null, count: 5, empty: false, sizes: [], label: null,
  openChannel: false, bulk: 0, timeout: 30, quiet: false, printMax: false,
};
{
  const a = process.argv.slice(2);
  for (let i = 0; i < a.length; i++) {
    const val = () => (i + 1 < a.length ? a[++i] : usage());
    const num = () => {
      const v = Number(val());
      if (!Number.isInteger(v) || v < 0) usage();
      return v;
    };
    switch (a[i]) {
      case '--role': opt.role = val(); break;
      case '--signal': opt.signal = val(); break;
      case '--module': opt.module = val(); break;
      case '--count': opt.count = num(); break;
      case '--empty': opt.empty = true; break;
      case '--size': opt.sizes.push(num()); break;
      case '--label': opt.label = val(); break;
      case '--open-channel': opt.openChannel = true; break;
      case '--bulk': opt.bulk = num(); break;
      case '--timeout': opt.timeout = num(); break;
      case '--quiet': opt.quiet = true; break;
      case '--print-max-message-size': opt.printMax = true; break;
      default: usage();
    }
  }
  if (!opt.module) usage();
  if (!opt.printMax && (!['offer', 'answer'].includes(opt.role) || !opt.signal)) usage();
  opt.label ??= opt.role === 'offer' ? 'chat' : 'ndc-back';
}

const ndc = await import(pathToFileURL(opt.module).href);
const { PeerConnection } = ndc;
const config = { iceServers: [], bindAddress: '127.0.0.1' };

// The a=max-message-size of an offer libdatachannel makes (0: none).
if (opt.printMax) {
  const pc = new PeerConnection('probe', config);
  const sdp = await new Promise((resolve) => {
    pc.onLocalDescription((s) => resolve(s));
    pc.createDataChannel('probe');
  });
  pc.close();
  const m = /a=max-message-size:(\d+)/.exec(sdp);
  console.log(m ? m[1] : 0);
  ndc.cleanup();
  process.exit(0);
}

const offer = opt.role === 'offer';
const name = 'ndc-' + opt.role;
let errors = 0;

function stamp() {
  return `[${String(Math.round(performance.now() - T0)).padStart(5)} ms] ${name}`;
}
function say(text) {
  if (!opt.quiet) console.log(`${stamp()} ${text}`);
}
function fail(text) {
  console.log(`${stamp()} FAIL ${text}`);
  errors++;
  settle();
}

function fnv(h, bytes) {
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 16777619) >>> 0;
  return h;
}
const hex8 = (h) => '0x' + (h >>> 0).toString(16).padStart(8, '0');
function pattern(n, seed) {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + 7 + seed) & 255;
  return b;
}
const isText = (m) => typeof m === 'string';
const asBytes = (m) => (Buffer.isBuffer(m) ? m : Buffer.from(m));
function describe(m) {
  if (!isText(m)) {
    const b = asBytes(m);
    return `${b.length} bytes of binary, fnv1a ${hex8(fnv(FNV0, b))}`;
  }
  if (m === '') return '(empty text)';
  return m.length > 80 ? m.slice(0, 80) + '...' : m;
}
const replyFor = (m) =>
  isText(m) ? 'echo: ' + m : `echo: ${asBytes(m).length} bytes, fnv1a ${hex8(fnv(FNV0, asBytes(m)))}`;

// The messages a channel we open sends.
const plan = [];
for (let i = 1; i <= opt.count; i++) plan.push(`hello #${i} from ${process.pid}`);
if (opt.empty) plan.push('', Buffer.alloc(0));
opt.sizes.forEach((n, i) => plan.push(pattern(n, process.pid + i)));

const st = {
  sent: 0, echoed: 0, received: 0, replied: 0, connected: false,
  own: [], remote: [], peerBye: null, sentBye: false, peerMax: 65536, mid: '0',
  remoteCands: 0, localCands: 0, remoteEnd: false,
};

let sig = null;
function sendFrame(text) {
  const body = Buffer.from(text, 'utf8');
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length);
  sig.write(Buffer.concat([head, body]));
}

// ---- channels -------------------------------------------------------------

function ownChannel(dc) {
  const c = { dc, label: dc.getLabel(), closed: false, closing: false };
  st.own.push(c);
  let next = 0, expect = null;
  say(`${c.label}: channel created, ${plan.length} messages to send`);
  const sendNext = () => {
    if (next === plan.length) {
      say(`${c.label}: all ${plan.length} messages echoed, closing the channel`);
      c.closing = true;
      dc.close();
      return;
    }
    const m = plan[next++];
    expect = replyFor(m);
    try {
      if (isText(m)) dc.sendMessage(m);
      else dc.sendMessageBinary(m);
    } catch (e) {
      fail(`${c.label}: sending message ${next} (${describe(m)}) failed: ${e.message ?? e}`);
      return;
    }
    st.sent++;
    say(`${c.label}> ${describe(m)}`);
  };
  dc.onOpen(() => {
    say(`${c.label}: open (stream ${dc.getId()})`);
    sendNext();
  });
  dc.onMessage((m) => {
    say(`${c.label}< ${describe(m)}`);
    if (!isText(m) || m !== expect) {
      fail(`${c.label}: wrong reply, expected "${expect}"`);
      return;
    }
    st.echoed++;
    sendNext();
  });
  dc.onClosed(() => {
    c.closed = true;
    if (!c.closing) fail(`${c.label}: closed by the peer before all replies were in`);
    else say(`${c.label}: closed`);
    settle();
  });
  dc.onError((e) => fail(`${c.label}: error ${e}`));
}

function bulkSender(dc) {
  const c = { dc, label: 'bulk', closed: false, closing: false };
  st.own.push(c);
  say(`bulk: channel created, ${opt.bulk} bytes to send`);
  let sent = 0, k = 0, h = FNV0, expect = null, chunk = MAX_CHUNK;
  const pump = () => {
    try {
      while (sent < opt.bulk && dc.bufferedAmount() <= 8 * chunk) {
        const n = Math.min(chunk, opt.bulk - sent);
        const d = pattern(n, k++);
        h = fnv(h, d);
        dc.sendMessageBinary(d); // false means queued, not refused
        sent += n;
      }
      if (sent >= opt.bulk && expect === null) {
        const end = `end ${sent} ${hex8(h)}`;
        dc.sendMessage(end);
        expect = `ok ${sent} ${hex8(h)}`;
        st.sent++;
        say(`bulk: ${sent} bytes sent in ${k} messages, ${end}`);
      }
    } catch (e) {
      fail(`bulk: sending at offset ${sent} failed: ${e.message ?? e}`);
    }
  };
  dc.onOpen(() => {
    chunk = Math.min(MAX_CHUNK, st.peerMax || MAX_CHUNK);
    dc.setBufferedAmountLowThreshold(4 * chunk);
    say(`bulk: open (stream ${dc.getId()}), messages of ${chunk} bytes`);
    pump();
  });
  dc.onBufferedAmountLow(pump);
  dc.onMessage((m) => {
    if (m !== expect) {
      fail(`bulk: reply "${describe(m)}", expected "${expect}"`);
      return;
    }
    st.echoed++;
    say(`bulk: the peer confirms ${m}, closing the channel`);
    c.closing = true;
    dc.close();
  });
  dc.onClosed(() => {
    c.closed = true;
    if (!c.closing) fail('bulk: closed before the checksum was confirmed');
    else say('bulk: closed');
    settle();
  });
  dc.onError((e) => fail(`bulk: error ${e}`));
}

function remoteChannel(dc) {
  const c = { dc, label: dc.getLabel(), closed: false, bytes: 0, h: FNV0 };
  st.remote.push(c);
  say(`${c.label}: channel opened by the peer (stream ${dc.getId()})`);
  const reply = (text) => {
    try {
      dc.sendMessage(text);
      st.replied++;
      return true;
    } catch (e) {
      fail(`${c.label}: reply failed: ${e.message ?? e}`);
      return false;
    }
  };
  dc.onMessage((m) => {
    if (c.label === 'bulk') {
      if (!isText(m)) {
        const b = asBytes(m);
        c.bytes += b.length;
        c.h = fnv(c.h, b);
        return;
      }
      st.received++;
      const mine = `end ${c.bytes} ${hex8(c.h)}`;
      if (m !== mine) {
        fail(`bulk: the sender says "${m}", received "${mine}"`);
        reply(`bad ${c.bytes} ${hex8(c.h)}`);
      } else {
        say(`bulk: ${c.bytes} bytes received, fnv1a ${hex8(c.h)} matches`);
        reply(`ok ${c.bytes} ${hex8(c.h)}`);
      }
      return;
    }
    st.received++;
    say(`${c.label}< ${describe(m)}`);
    const r = replyFor(m);
    if (reply(r)) say(`${c.label}> ${describe(r)}`);
  });
  dc.onClosed(() => {
    c.closed = true;
    say(`${c.label}: closed by the peer`);
    settle();
  });
  dc.onError((e) => fail(`${c.label}: error ${e}`));
}

function openOwn(pc) {
  ownChannel(pc.createDataChannel(opt.label));
  if (opt.bulk) bulkSender(pc.createDataChannel('bulk'));
}

// ---- the run --------------------------------------------------------------

let pc = null;
let finished = false;
function finish(ok) {
  if (finished) return;
  finished = true;
  if (st.received) console.log(`chat: received ${st.received}, replied ${st.replied}`);
  console.log(`chat: sent ${st.sent}, echoed ${st.echoed}`);
  const code = ok && errors === 0 ? 0 : 1;
  // The PeerConnection stays up until the peer has ended the signaling
  // (chat exits once it has seen our channels close, so what it saw was
  // the stream reset, not the end of the connection), at most 5 s; then
  // pc.close and cleanup end libdatachannel's threads.
  let left = false;
  const done = () => {
    if (left) return;
    left = true;
    try {
      if (pc) pc.close();
      ndc.cleanup();
    } finally {
      process.exit(code);
    }
  };
  if (sig && !sig.destroyed && ok) {
    sig.on('close', done);
    sig.end();
    setTimeout(done, 5000);
  } else {
    done();
  }
}

// Called whenever something changed: bye when our channels are closed
// and the peer's gathering is over (its last candidate applied), the end
// when the peer's channels are closed too.
function settle() {
  if (finished) return;
  if (errors) {
    finish(false);
    return;
  }
  if (!st.sentBye && st.connected && st.remoteEnd && st.own.every((c) => c.closed)) {
    st.sentBye = true;
    sendFrame(`bye ${st.own.length}`);
    say(`bye ${st.own.length} sent`);
  }
  if (st.sentBye && st.peerBye !== null && st.remote.length >= st.peerBye &&
      st.remote.every((c) => c.closed)) {
    finish(true);
  }
}

function handleFrame(f) {
  if (f.startsWith('v=0')) {
    const kind = offer ? 'answer' : 'offer';
    const max = /a=max-message-size:(\d+)/.exec(f);
    st.peerMax = max ? Number(max[1]) : 65536;
    const mid = /a=mid:(\S+)/.exec(f);
    if (mid) st.mid = mid[1];
    const cands = (f.match(/^a=candidate:/gm) || []).length;
    say(`${kind} received (${f.length} bytes, ${cands} candidates in it; ` +
        `peer max-message-size ${max ? max[1] : 'none'})`);
    pc.setRemoteDescription(f, kind);
    if (!offer && opt.openChannel) openOwn(pc);
  } else if (f.startsWith('a=candidate:')) {
    pc.addRemoteCandidate(f.slice(2), st.mid);
    st.remoteCands++;
    say(`remote ${f}`);
  } else if (f === 'a=end-of-candidates') {
    st.remoteEnd = true;
    settle();
    say(`remote gathering done (${st.remoteCands} candidates trickled)`);
  } else if (f.startsWith('bye ')) {
    st.peerBye = Number(f.slice(4));
    say(`peer: done (${st.peerBye} channel(s) opened by it, closed)`);
    settle();
  } else {
    say(`ignoring signaling message "${f.slice(0, 40)}"`);
  }
}

function startPc() {
  pc = new PeerConnection(name, config);
  pc.onLocalDescription((sdp, type) => {
    sendFrame(sdp);
    const max = /a=max-message-size:(\d+)/.exec(sdp);
    say(`${type} sent (${sdp.length} bytes, ${(sdp.match(/^a=candidate:/gm) || []).length} ` +
        `candidates in it; ${max ? 'max-message-size:' + max[1] : 'no max-message-size'})`);
  });
  pc.onLocalCandidate((cand) => {
    const line = cand.startsWith('a=') ? cand : 'a=' + cand;
    sendFrame(line);
    st.localCands++;
    say(`trickled ${line}`);
  });
  pc.onGatheringStateChange((s) => {
    if (s === 'complete') {
      sendFrame('a=end-of-candidates');
      say(`local gathering done (${st.localCands} candidates trickled)`);
    }
  });
  pc.onStateChange((s) => {
    say(`connection ${s}`);
    if (s === 'connected') st.connected = true;
    if (s === 'failed') fail('the connection failed');
    settle();
  });
  pc.onDataChannel((dc) => remoteChannel(dc));
  // The offerer's channel makes libdatachannel create the offer.
  if (offer) openOwn(pc);
}

function onSignal(sock) {
  sig = sock;
  say(`signaling connected (${opt.signal})`);
  let buf = Buffer.alloc(0);
  sock.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 4) {
      const n = buf.readUInt32BE(0);
      if (buf.length < 4 + n) break;
      const f = buf.subarray(4, 4 + n).toString('utf8');
      buf = buf.subarray(4 + n);
      try {
        handleFrame(f);
      } catch (e) {
        fail(`signaling frame "${f.slice(0, 40)}": ${e.message ?? e}`);
      }
    }
  });
  sock.on('close', () => {
    if (st.peerBye === null) fail('signaling closed by the peer');
  });
  sock.on('error', (e) => {
    if (st.peerBye === null) fail(`signaling: ${e.message}`);
  });
  startPc();
}

setTimeout(() => {
  fail(`timeout after ${opt.timeout} s (connection ${pc ? pc.state() : 'not started'})`);
  finish(false);
  setTimeout(() => process.exit(1), 2000).unref();
}, opt.timeout * 1000).unref();
// Keep the process alive until finish() (the timer above is unref'd).
const keepAlive = setInterval(() => {}, 1000);

if (offer) {
  try { fs.unlinkSync(opt.signal); } catch {}
  const srv = net.createServer((sock) => {
    srv.close();
    try { fs.unlinkSync(opt.signal); } catch {}
    onSignal(sock);
  });
  srv.listen(opt.signal, () => say(`waiting for the answerer on ${opt.signal}`));
} else {
  say(`connecting to ${opt.signal}`);
  const attempt = () => {
    const s = net.createConnection(opt.signal);
    s.once('error', (e) => {
      if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED') setTimeout(attempt, 100);
      else fail(`signaling: ${e.message}`);
    });
    s.once('connect', () => {
      s.removeAllListeners('error');
      onSignal(s);
    });
  };
  attempt();
}
void keepAlive;
