// ndc_bench.mjs: the throughput, rate and open modes of xp2p_bench with
// libdatachannel (npm node-datachannel), for a side-by-side comparison.
// Two node processes, signaling through a Unix-domain socket (JSON lines;
// the server listens), the same protocol roles as xp2p_bench:
//   node bench/ndc_bench.mjs server --signal PATH
//   node bench/ndc_bench.mjs client --signal PATH --mode throughput|rate|open
//        [--bytes N] [--msg-size S] [--count C] [--repeat R]
//   node bench/ndc_bench.mjs memory [--pairs P]
// memory: as xp2p_bench memory, P pairs (default 100) of PeerConnections in
// this process, connected with one open channel each (after one warm-up
// pair); reports the VmRSS growth per PeerConnection.
// NDC_MODULE may name node-datachannel's ESM entry file (scripts/bench.sh
// installs the package under build/bench/ndc). Both ends bind to 127.0.0.1.
// The client ends with the same RESULT line as xp2p_bench.
import net from 'node:net';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { pathToFileURL } from 'node:url';

const mod = await import(
  process.env.NDC_MODULE ? pathToFileURL(process.env.NDC_MODULE).href : 'node-datachannel'
);
const { PeerConnection, cleanup } = mod;

const HIGH = 16 * 1024 * 1024; // the buffered amount libxp2p refuses sends at
const STALL_MS = 30000;

function usage() {
  console.error(
    'usage: ndc_bench.mjs server --signal PATH\n' +
      '       ndc_bench.mjs client --signal PATH --mode throughput|rate|open ' +
      '[--bytes N] [--msg-size S] [--count C] [--repeat R]'
  );
  process.exit(2);
}

const argv = process.argv.slice(2);
const role = argv[0];
if (role !== 'server' && role !== 'client' && role !== 'memory') usage();
const opt = {
  mode: null, bytes: null, msgSize: null, count: 200000, repeat: 10, signal: null, pairs: 100,
};
for (let i = 1; i < argv.length; i += 2) {
  const v = argv[i + 1];
  if (v === undefined) usage();
  switch (argv[i]) {
    case '--signal': opt.signal = v; break;
    case '--mode': opt.mode = v; break;
    case '--bytes': opt.bytes = Number(v); break;
    case '--msg-size': opt.msgSize = Number(v); break;
    case '--count': opt.count = Number(v); break;
    case '--repeat': opt.repeat = Number(v); break;
    case '--pairs': opt.pairs = Number(v); break;
    default: usage();
  }
}
if (!opt.signal && role !== 'memory') usage();
if (role === 'client') {
  if (!['throughput', 'rate', 'open'].includes(opt.mode)) usage();
  if (opt.mode === 'rate') {
    opt.msgSize ??= 100;
    opt.bytes ??= opt.count * opt.msgSize;
  } else {
    opt.msgSize ??= 65536;
    opt.bytes ??= 200000000;
  }
}

const nowNs = () => process.hrtime.bigint(); // CLOCK_MONOTONIC, as in xp2p_bench
const die = (msg) => {
  console.error(`ndc_bench: ${msg}`);
  process.exit(1);
};

function newPc(name) {
  return new PeerConnection(name, { iceServers: [], bindAddress: '127.0.0.1' });
}

// JSON-lines framing over a stream socket.
function lines(sock, onMsg) {
  let buf = '';
  sock.setEncoding('utf8');
  sock.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (line) onMsg(JSON.parse(line));
    }
  });
}
const send = (sock, m) => sock.write(JSON.stringify(m) + '\n');

function wirePc(pc, sock) {
  pc.onLocalDescription((sdp, type) => send(sock, { t: 'desc', sdp, type }));
  pc.onLocalCandidate((c, mid) => send(sock, { t: 'cand', c, mid }));
  pc.onStateChange((s) => {
    if (s === 'failed') die('PeerConnection failed');
  });
}

// ---- server: receives, hashes, answers "end" with "result" ----------------
function server() {
  try { fs.unlinkSync(opt.signal); } catch {}
  let pc = null, ch = null, mode = null, expect = 0;
  let hash, received = 0, msgs = 0, lastNs = 0n, ok = false;
  const srv = net.createServer((sock) => {
    srv.close();
    const fresh = () => {
      if (pc) pc.close();
      pc = newPc('server');
      wirePc(pc, sock);
      hash = crypto.createHash('sha256');
      received = msgs = 0;
      pc.onDataChannel((dc) => {
        ch = dc;
        send(sock, { t: 'open' });
        dc.onMessage((m) => {
          if (typeof m !== 'string') {
            const b = Buffer.isBuffer(m) ? m : Buffer.from(m);
            hash.update(b);
            received += b.length;
            msgs++;
            lastNs = nowNs();
            return;
          }
          const [, sender, start] = m.split(' ');
          const mine = hash.digest('hex');
          const match = mine === sender && received === expect;
          const secs = Number(lastNs - BigInt(start)) / 1e9;
          console.log(`receiver sha256 ${mine}`);
          console.log(
            `receiver: ${received} bytes in ${msgs} messages, ${secs.toFixed(3)} s, ` +
              `${(received / secs / 1e6).toFixed(1)} MB/s, ${(msgs / secs).toFixed(0)} msg/s, ` +
              `sha256 ${match ? 'match' : 'MISMATCH'}`
          );
          ok = match;
          dc.sendMessage(`result ${mine} ${match ? 1 : 0} ${received} ${msgs} ${secs.toFixed(6)}`);
        });
      });
      send(sock, { t: 'ready' });
    };
    const finish = () => {
      if (pc) pc.close();
      pc = null;
      cleanup();
      process.exit(ok || mode === 'open' ? 0 : 1);
    };
    lines(sock, (m) => {
      switch (m.t) {
        case 'hello': mode = m.mode; expect = m.bytes; fresh(); break;
        case 'desc': pc.setRemoteDescription(m.sdp, m.type); break;
        case 'cand': pc.addRemoteCandidate(m.c, m.mid); break;
        case 'next': fresh(); break;
        case 'bye': ok = ok || mode === 'open'; break;
      }
    });
    sock.on('close', finish);
    sock.on('error', finish);
  });
  srv.listen(opt.signal);
}

// ---- client ----------------------------------------------------------------
function client() {
  let sock;
  const connect = (tries) => {
    sock = net.createConnection(opt.signal);
    sock.on('error', (e) => {
      if (tries > 0 && (e.code === 'ENOENT' || e.code === 'ECONNREFUSED'))
        setTimeout(() => connect(tries - 1), 50);
      else die(`signaling: ${e.message}`);
    });
    sock.on('connect', () => {
      sock.removeAllListeners('error');
      sock.on('error', (e) => die(`signaling: ${e.message}`));
      start();
    });
  };
  connect(600);

  let pc = null, dc = null, createdNs = 0n, openNs = 0n, chOpen = false, peerOpen = false;
  let round = 0;
  const openMs = [];
  const finish = (ok) => {
    sock.removeAllListeners('close');
    send(sock, { t: 'bye' });
    if (pc) pc.close();
    if (process.env.NDC_DEBUG) console.error(`open rounds (ms): ${openMs.map((x) => x.toFixed(1))}`);
    sock.end(() => process.exit(ok ? 0 : 1));
  };
  const roundDone = () => {
    if (!chOpen || !peerOpen) return;
    openMs.push(Number(openNs - createdNs) / 1e6);
    pc.close();
    pc = null;
    if (++round < opt.repeat) {
      send(sock, { t: 'next' });
      return;
    }
    const v = [...openMs].sort((a, b) => a - b);
    const n = v.length;
    const med = n % 2 ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    console.log(`open: ${n} rounds, create to channel open: median ${med.toFixed(2)} ms, ` +
      `min ${v[0].toFixed(2)}, max ${v[n - 1].toFixed(2)}`);
    console.log(`RESULT mode=open rounds=${n} median_ms=${med.toFixed(3)} ` +
      `min_ms=${v[0].toFixed(3)} max_ms=${v[n - 1].toFixed(3)}`);
    finish(true);
  };

  const transfer = () => {
    const hash = crypto.createHash('sha256');
    const buf = Buffer.alloc(opt.msgSize);
    let sent = 0, msgs = 0, waits = 0, lastProgress = Date.now();
    const startNs = nowNs();
    let senderHex = null;
    dc.setBufferedAmountLowThreshold(HIGH / 2);
    const pump = () => {
      while (sent < opt.bytes) {
        if (dc.bufferedAmount() + opt.msgSize > HIGH) {
          waits++;
          return; // onBufferedAmountLow resumes
        }
        const n = Math.min(opt.msgSize, opt.bytes - sent);
        const m = n === buf.length ? buf : Buffer.alloc(n);
        crypto.randomFillSync(m);
        hash.update(m);
        dc.sendMessageBinary(m); // false: queued rather than sent at once, not an error
        sent += n;
        msgs++;
        lastProgress = Date.now();
      }
      if (!senderHex) {
        senderHex = hash.digest('hex');
        console.log(`sender sha256 ${senderHex}`);
        dc.sendMessage(`end ${senderHex} ${startNs}`);
      }
    };
    dc.onBufferedAmountLow(pump);
    dc.onMessage((m) => {
      if (typeof m !== 'string' || !m.startsWith('result ')) return;
      clearInterval(stall);
      const [, rhex, rmatch, bytes, rmsgs, secsS] = m.split(' ');
      const secs = Number(secsS);
      const match = rmatch === '1' && rhex === senderHex;
      console.log(`${opt.mode}: ${bytes} bytes in ${rmsgs} messages of ${opt.msgSize} bytes, ` +
        `${secs.toFixed(3)} s: ${(bytes / secs / 1e6).toFixed(1)} MB/s, ` +
        `${(rmsgs / secs).toFixed(0)} msg/s; sha256 ${match ? 'match' : 'MISMATCH'} ` +
        `(back-pressure: ${waits} waits)`);
      console.log(`RESULT mode=${opt.mode} bytes=${bytes} msgs=${rmsgs} secs=${secs.toFixed(6)} ` +
        `mbps=${(bytes / secs / 1e6).toFixed(2)} msgps=${(rmsgs / secs).toFixed(0)} ` +
        `match=${match ? 1 : 0}`);
      finish(match);
    });
    const stall = setInterval(() => {
      if (Date.now() - lastProgress > STALL_MS) die(`stalled: ${sent} of ${opt.bytes} bytes sent`);
    }, 1000);
    pump();
  };

  const newRound = () => {
    chOpen = peerOpen = false;
    createdNs = nowNs();
    pc = newPc('client');
    wirePc(pc, sock);
    dc = pc.createDataChannel('bench', { ordered: true });
    dc.onOpen(() => {
      openNs = nowNs();
      chOpen = true;
      if (opt.mode === 'open') roundDone();
      else transfer();
    });
  };

  const start = () => {
    send(sock, { t: 'hello', mode: opt.mode, bytes: opt.bytes });
    lines(sock, (m) => {
      switch (m.t) {
        case 'ready': newRound(); break;
        case 'desc': pc.setRemoteDescription(m.sdp, m.type); break;
        case 'cand': if (pc) pc.addRemoteCandidate(m.c, m.mid); break;
        case 'open': peerOpen = true; if (opt.mode === 'open') roundDone(); break;
      }
    });
    sock.on('close', () => die('signaling closed by the server'));
  };
}

// ---- memory: P connected pairs in this process -----------------------------
function vmrssKib() {
  const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) : 0;
}

// One pair, wired to each other directly, resolved once its channel is open
// on both sides.
function makePair(i) {
  return new Promise((resolve, reject) => {
    const a = newPc(`a${i}`), b = newPc(`b${i}`);
    const timer = setTimeout(() => reject(new Error(`pair ${i} did not open`)), 20000);
    let opened = 0;
    const done = () => {
      if (++opened === 2) {
        clearTimeout(timer);
        resolve({ a, b, chans });
      }
    };
    const chans = [];
    // Candidates wait until the side they go to has its remote description.
    const link = (from, to) => {
      let described = false;
      const held = [];
      from.onLocalDescription((sdp, type) => {
        to.setRemoteDescription(sdp, type);
        described = true;
        for (const [c, mid] of held.splice(0)) to.addRemoteCandidate(c, mid);
      });
      from.onLocalCandidate((c, mid) => {
        if (described) to.addRemoteCandidate(c, mid);
        else held.push([c, mid]);
      });
    };
    link(a, b);
    link(b, a);
    b.onDataChannel((ch) => { chans.push(ch); done(); });
    const ch = a.createDataChannel('mem');
    chans.push(ch);
    ch.onOpen(done);
  });
}

async function memory() {
  const settle = () => new Promise((r) => setTimeout(r, 200));
  const close = (pairs) => {
    for (const p of pairs) {
      for (const c of p.chans) c.close();
      p.a.close();
      p.b.close();
    }
  };
  close([await makePair(-1)]); // one-time set-up is not charged
  await settle();
  if (global.gc) global.gc();
  const before = vmrssKib();
  const t0 = nowNs();
  const pairs = [];
  for (let i = 0; i < opt.pairs; i++) pairs.push(await makePair(i));
  const secs = Number(nowNs() - t0) / 1e9;
  await settle();
  const after = vmrssKib();
  const per = (after - before) / (2 * opt.pairs);
  console.log(`memory: ${2 * opt.pairs} connected PeerConnections in ${secs.toFixed(2)} s; ` +
    `VmRSS ${before} -> ${after} KiB: ${per.toFixed(1)} KiB per PeerConnection`);
  console.log(`RESULT mode=memory pcs=${2 * opt.pairs} kib_per_pc=${per.toFixed(1)} ` +
    `rss_before_kib=${before} rss_after_kib=${after} setup_secs=${secs.toFixed(3)}`);
  // Exit without tearing the 200 connections down one by one (the figure
  // is taken; node-datachannel's teardown of that many can crash).
  process.exit(0);
}

if (role === 'server') server();
else if (role === 'memory') memory().catch((e) => die(e.message));
else client();
