// ndc_bench.mjs: the modes of xp2p_bench with libdatachannel (npm
// node-datachannel 0.33.4, libdatachannel 0.24.5 inside), for a side-by-side
// comparison; the same workloads, checks and RESULT lines.
// Two node processes, signaling through a Unix-domain socket (JSON lines;
// the server listens), the same protocol roles as xp2p_bench:
//   node bench/ndc_bench.mjs server --signal PATH [--bind ADDR]
//   node bench/ndc_bench.mjs client --signal PATH --mode throughput|rate|pingpong|open
//        [--bytes N] [--msg-size S] [--count C] [--repeat R] [--first-size F] [--bind ADDR]
//   node bench/ndc_bench.mjs memory [--pairs P[,P2...]] [--idle S] [--bind ADDR]
// throughput / rate: every message starts with its sequence number (8 bytes,
//   big endian), the rest is taken from a pseudo-random pool; the receiver
//   checks the sequence and the SHA-256 of the stream; both ends report the
//   CPU time (process.cpuUsage: all threads) from the channel's opening on.
// pingpong: C round trips (after 10 not counted) of an S-byte message the
//   server echoes, each echo compared byte for byte; median and p99.
// open: R fresh connections, create to channel open; then the first F-byte
//   message echoed after opening.
// memory: connected pairs in this process at each level, VmRSS growth per
//   PeerConnection and idle CPU over S seconds.
// --bind ADDR: the address both PeerConnections bind to (default 127.0.0.1).
// NDC_MODULE may name node-datachannel's ESM entry file (scripts/bench.sh
// installs the package under build/bench/ndc).
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
const PP_WARMUP = 10;

function usage() {
  console.error(
    'usage: ndc_bench.mjs server --signal PATH [--bind ADDR]\n' +
      '       ndc_bench.mjs client --signal PATH --mode throughput|rate|pingpong|open ' +
      '[--bytes N] [--msg-size S] [--count C] [--repeat R] [--first-size F] [--bind ADDR]\n' +
      '       ndc_bench.mjs memory [--pairs P[,P2...]] [--idle S] [--bind ADDR]'
  );
  process.exit(2);
}

const argv = process.argv.slice(2);
const role = argv[0];
if (role !== 'server' && role !== 'client' && role !== 'memory') usage();
const opt = {
  mode: null, bytes: null, msgSize: null, count: null, repeat: 10, signal: null, pairs: [100],
  idle: 0, firstSize: 65536, bind: '127.0.0.1',
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
    case '--first-size': opt.firstSize = Number(v); break;
    case '--pairs': opt.pairs = v.split(',').map(Number); break;
    case '--idle': opt.idle = Number(v); break;
    case '--bind': opt.bind = v; break;
    default: usage();
  }
}
if (!opt.signal && role !== 'memory') usage();
if (role === 'client') {
  if (!['throughput', 'rate', 'pingpong', 'open'].includes(opt.mode)) usage();
  if (opt.mode === 'pingpong') {
    opt.msgSize ??= 100;
    opt.count ??= 1000;
  } else if (opt.mode === 'rate') {
    opt.msgSize ??= 100;
    opt.count ??= 200000;
    opt.bytes ??= opt.count * opt.msgSize;
  } else {
    opt.msgSize ??= 65536;
    opt.bytes ??= 200000000;
  }
}

const nowNs = () => process.hrtime.bigint(); // CLOCK_MONOTONIC, as in xp2p_bench
const cpuS = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const die = (msg) => {
  console.error(`ndc_bench: ${msg}`);
  process.exit(1);
};
const median = (v) => {
  const n = v.length;
  return n % 2 ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
};
const p99 = (v) => v[Math.max(1, Math.ceil((99 * v.length) / 100)) - 1];

function newPc(name) {
  return new PeerConnection(name, { iceServers: [], bindAddress: opt.bind });
}

// Message contents: a slice of a random pool at an offset that moves with
// the sequence number, which goes into the first 8 bytes.
const POOL = crypto.randomBytes(4 * 1024 * 1024 + 262144);
function message(size, seq) {
  const off = (seq * 7919) % (POOL.length - size + 1);
  const m = Buffer.from(POOL.subarray(off, off + size)); // a copy
  if (size >= 8) m.writeBigUInt64BE(BigInt(seq), 0);
  return m;
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
const asBuffer = (m) => (Buffer.isBuffer(m) ? m : Buffer.from(m));

function wirePc(pc, sock) {
  pc.onLocalDescription((sdp, type) => send(sock, { t: 'desc', sdp, type }));
  pc.onLocalCandidate((c, mid) => send(sock, { t: 'cand', c, mid }));
  pc.onStateChange((s) => {
    if (s === 'failed') die('PeerConnection failed');
  });
}

// ---- server: receives, checks, hashes, answers "end" with "result"; echoes
// in pingpong and open modes ------------------------------------------------
function server() {
  try { fs.unlinkSync(opt.signal); } catch {}
  let pc = null, mode = null, expect = 0;
  let hash, received = 0, msgs = 0, seqErrors = 0, lastNs = 0n, ok = false, cpuOpen = 0;
  const srv = net.createServer((sock) => {
    srv.close();
    const fresh = () => {
      if (pc) pc.close();
      pc = newPc('server');
      wirePc(pc, sock);
      hash = crypto.createHash('sha256');
      received = msgs = seqErrors = 0;
      pc.onDataChannel((dc) => {
        cpuOpen = cpuS();
        send(sock, { t: 'open' });
        const echo = mode === 'pingpong' || mode === 'open';
        dc.onMessage((m) => {
          if (typeof m !== 'string') {
            const b = asBuffer(m);
            if (echo) {
              dc.sendMessageBinary(b);
              return;
            }
            if (b.length >= 8 && Number(b.readBigUInt64BE(0)) !== msgs) {
              if (seqErrors++ < 5)
                console.error(`ndc_bench: message ${msgs} carries sequence number ${b.readBigUInt64BE(0)}`);
            }
            hash.update(b);
            received += b.length;
            msgs++;
            lastNs = nowNs();
            return;
          }
          const [, sender, start] = m.split(' ');
          const cpu = cpuS() - cpuOpen;
          const mine = hash.digest('hex');
          const match = mine === sender && received === expect && seqErrors === 0;
          const secs = Number(lastNs - BigInt(start)) / 1e9;
          console.log(`receiver sha256 ${mine}`);
          console.log(
            `receiver: ${received} bytes in ${msgs} messages, ${secs.toFixed(3)} s, ` +
              `${(received / secs / 1e6).toFixed(1)} MB/s, ${(msgs / secs).toFixed(0)} msg/s, ` +
              `sha256 ${match ? 'match' : 'MISMATCH'}, ${seqErrors} sequence errors, ` +
              `CPU ${cpu.toFixed(3)} s`
          );
          ok = match;
          dc.sendMessage(
            `result ${mine} ${match ? 1 : 0} ${received} ${msgs} ${secs.toFixed(6)} ` +
              `${seqErrors} ${cpu.toFixed(6)}`
          );
        });
      });
      send(sock, { t: 'ready' });
    };
    const finish = () => {
      if (pc) pc.close();
      pc = null;
      cleanup();
      process.exit(ok ? 0 : 1);
    };
    lines(sock, (m) => {
      switch (m.t) {
        case 'hello': mode = m.mode; expect = m.bytes; fresh(); break;
        case 'desc': pc.setRemoteDescription(m.sdp, m.type); break;
        case 'cand': pc.addRemoteCandidate(m.c, m.mid); break;
        case 'next': fresh(); break;
        case 'bye': ok = ok || mode === 'open' || mode === 'pingpong'; break;
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
  let firstMsg = null, firstNs = 0n, firstBack = false;
  let round = 0;
  const openMs = [], firstMs = [];
  const finish = (ok) => {
    sock.removeAllListeners('close');
    send(sock, { t: 'bye' });
    if (pc) pc.close();
    sock.end(() => process.exit(ok ? 0 : 1));
  };
  const roundDone = () => {
    if (!chOpen || !peerOpen || !firstBack) return;
    openMs.push(Number(openNs - createdNs) / 1e6);
    firstMs.push(Number(firstNs) / 1e6);
    pc.close();
    pc = null;
    if (++round < opt.repeat) {
      send(sock, { t: 'next' });
      return;
    }
    const v = [...openMs].sort((a, b) => a - b);
    const f = [...firstMs].sort((a, b) => a - b);
    const n = v.length;
    console.log(`open: ${n} rounds, create to channel open: median ${median(v).toFixed(2)} ms, ` +
      `min ${v[0].toFixed(2)}, max ${v[n - 1].toFixed(2)}`);
    console.log(`open: first ${opt.firstSize}-byte message echoed after the channel opened: ` +
      `median ${median(f).toFixed(2)} ms, min ${f[0].toFixed(2)}, max ${f[n - 1].toFixed(2)} ` +
      `(every echo matched)`);
    console.log(`open: per round, create to channel open / first echo (ms): ` +
      openMs.map((x, i) => `${x.toFixed(1)}/${firstMs[i].toFixed(1)}`).join(' '));
    console.log(`RESULT mode=open rounds=${n} median_ms=${median(v).toFixed(3)} ` +
      `min_ms=${v[0].toFixed(3)} max_ms=${v[n - 1].toFixed(3)} first_size=${opt.firstSize} ` +
      `first_median_ms=${median(f).toFixed(3)} first_min_ms=${f[0].toFixed(3)} ` +
      `first_max_ms=${f[n - 1].toFixed(3)} match=1`);
    finish(true);
  };

  const transfer = () => {
    const hash = crypto.createHash('sha256');
    let sent = 0, msgs = 0, waits = 0, lastProgress = Date.now();
    const startNs = nowNs();
    const cpuStart = cpuS();
    let senderHex = null;
    dc.setBufferedAmountLowThreshold(HIGH / 2);
    const pump = () => {
      while (sent < opt.bytes) {
        if (dc.bufferedAmount() + opt.msgSize > HIGH) {
          waits++;
          return; // onBufferedAmountLow resumes
        }
        const n = Math.min(opt.msgSize, opt.bytes - sent);
        const m = message(n, msgs);
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
      const cpuClient = cpuS() - cpuStart;
      const [, rhex, rmatch, bytesS, rmsgs, secsS, seqS, cpuS_] = m.split(' ');
      const secs = Number(secsS), bytes = Number(bytesS), seqErrors = Number(seqS);
      const cpuServer = Number(cpuS_);
      const match = rmatch === '1' && rhex === senderHex && bytes === opt.bytes && seqErrors === 0;
      const perGb = ((cpuClient + cpuServer) / bytes) * 1e9;
      console.log(`${opt.mode}: ${bytes} bytes in ${rmsgs} messages of ${opt.msgSize} bytes, ` +
        `${secs.toFixed(3)} s: ${(bytes / secs / 1e6).toFixed(1)} MB/s, ` +
        `${(rmsgs / secs).toFixed(0)} msg/s; sha256 ${match ? 'match' : 'MISMATCH'} ` +
        `(back-pressure: ${waits} waits)`);
      console.log(`${opt.mode}: CPU (user + system, all threads, from the channel's opening): ` +
        `client ${cpuClient.toFixed(3)} s, server ${cpuServer.toFixed(3)} s: ` +
        `${perGb.toFixed(3)} CPU seconds per GB; ${seqErrors} sequence errors`);
      console.log(`RESULT mode=${opt.mode} bytes=${bytes} msgs=${rmsgs} secs=${secs.toFixed(6)} ` +
        `mbps=${(bytes / secs / 1e6).toFixed(2)} msgps=${(rmsgs / secs).toFixed(0)} ` +
        `match=${match ? 1 : 0} seq_errors=${seqErrors} cpu_client_s=${cpuClient.toFixed(3)} ` +
        `cpu_server_s=${cpuServer.toFixed(3)} cpu_s_per_gb=${perGb.toFixed(3)}`);
      finish(match);
    });
    const stall = setInterval(() => {
      if (Date.now() - lastProgress > STALL_MS) die(`stalled: ${sent} of ${opt.bytes} bytes sent`);
    }, 1000);
    pump();
  };

  const pingpong = () => {
    const ms = [];
    let r = -PP_WARMUP, msg = null, sentNs = 0n, lastProgress = Date.now();
    const next = () => {
      msg = message(opt.msgSize, r + PP_WARMUP);
      sentNs = nowNs();
      dc.sendMessageBinary(msg);
    };
    dc.onMessage((m) => {
      const t = nowNs();
      if (typeof m === 'string') return;
      const b = asBuffer(m);
      if (!b.equals(msg)) die(`round ${r}: the echo differs from the message (${b.length} bytes)`);
      if (r >= 0) ms.push(Number(t - sentNs) / 1e6);
      lastProgress = Date.now();
      if (++r < opt.count) {
        next();
        return;
      }
      clearInterval(stall);
      const v = ms.sort((a, b) => a - b);
      const n = v.length;
      console.log(`pingpong: ${n} round trips of ${opt.msgSize} bytes (after ${PP_WARMUP} not ` +
        `counted): median ${median(v).toFixed(3)} ms, p99 ${p99(v).toFixed(3)}, ` +
        `min ${v[0].toFixed(3)}, max ${v[n - 1].toFixed(3)}; every echo matched`);
      console.log(`RESULT mode=pingpong size=${opt.msgSize} rounds=${n} ` +
        `median_ms=${median(v).toFixed(4)} p99_ms=${p99(v).toFixed(4)} ` +
        `min_ms=${v[0].toFixed(4)} max_ms=${v[n - 1].toFixed(4)} match=1`);
      finish(true);
    });
    const stall = setInterval(() => {
      if (Date.now() - lastProgress > STALL_MS) die(`stalled in round ${r}`);
    }, 1000);
    next();
  };

  const newRound = () => {
    chOpen = peerOpen = firstBack = false;
    createdNs = nowNs();
    pc = newPc('client');
    wirePc(pc, sock);
    dc = pc.createDataChannel('bench', { ordered: true });
    dc.onOpen(() => {
      openNs = nowNs();
      chOpen = true;
      if (opt.mode === 'open') {
        dc.onMessage((m) => {
          const t = nowNs();
          if (typeof m === 'string') return;
          if (!asBuffer(m).equals(firstMsg)) die(`round ${round}: the first echo differs`);
          firstNs = t - firstNs;
          firstBack = true;
          roundDone();
        });
        firstMsg = message(opt.firstSize, round);
        firstNs = nowNs();
        dc.sendMessageBinary(firstMsg);
      } else if (opt.mode === 'pingpong') {
        pingpong();
      } else {
        transfer();
      }
    });
  };

  const start = () => {
    send(sock, { t: 'hello', mode: opt.mode, bytes: opt.bytes ?? 0 });
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

// ---- memory: connected pairs in this process, idle CPU ----------------------
function vmrssKib() {
  const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) : 0;
}

// One pair, wired to each other directly, resolved once its channel is open
// on both sides.
const closed = new Set();
function makePair(i) {
  return new Promise((resolve, reject) => {
    const a = newPc(`a${i}`), b = newPc(`b${i}`);
    const timer = setTimeout(() => reject(new Error(`pair ${i} did not open`)), 60000);
    let opened = 0;
    const done = () => {
      if (++opened === 2) {
        clearTimeout(timer);
        resolve({ i, a, b, chans });
      }
    };
    const chans = [];
    // A candidate waits until the side it goes to has both descriptions
    // (libdatachannel refuses one before its ICE transport exists, which
    // the answerer creates with its answer, asynchronously under load).
    // A callback may still come after the pair was closed (the warm-up
    // pair): libdatachannel throws then, which is ignored.
    const guard = (f) => {
      try { f(); } catch (e) { if (!closed.has(i)) reject(e); }
    };
    const st = new Map([[a, { local: false, remote: false, held: [] }],
      [b, { local: false, remote: false, held: [] }]]);
    const flush = (pc) => {
      const s = st.get(pc);
      if (s.local && s.remote) for (const [c, mid] of s.held.splice(0)) pc.addRemoteCandidate(c, mid);
    };
    const link = (from, to) => {
      from.onLocalDescription((sdp, type) => guard(() => {
        st.get(from).local = true;
        flush(from);
        to.setRemoteDescription(sdp, type);
        st.get(to).remote = true;
        flush(to);
      }));
      from.onLocalCandidate((c, mid) => guard(() => {
        st.get(to).held.push([c, mid]);
        flush(to);
      }));
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
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const close = (pairs) => {
    for (const p of pairs) {
      closed.add(p.i);
      for (const c of p.chans) c.close();
      p.a.close();
      p.b.close();
    }
  };
  close([await makePair(-1)]); // one-time set-up is not charged
  await sleep(200);
  if (global.gc) global.gc();
  const before = vmrssKib();
  const pairs = [];
  for (const want of opt.pairs) {
    const t0 = nowNs();
    const added = want - pairs.length;
    // 25 pairs at a time: all at once overloads the signaling in one process.
    while (pairs.length < want) {
      const batch = [];
      for (let k = 0; k < 25 && pairs.length + batch.length < want; k++)
        batch.push(makePair(pairs.length + batch.length));
      pairs.push(...(await Promise.all(batch)));
    }
    const secs = Number(nowNs() - t0) / 1e9;
    await sleep(1000);
    const after = vmrssKib();
    const per = (after - before) / (2 * pairs.length);
    let pct = -1;
    if (opt.idle > 0) {
      const c0 = cpuS(), w0 = nowNs();
      await sleep(opt.idle * 1000);
      pct = ((cpuS() - c0) / (Number(nowNs() - w0) / 1e9)) * 100;
    }
    const down = pairs.filter((p) => p.a.state() !== 'connected' || p.b.state() !== 'connected');
    if (down.length) die(`${down.length} pairs no longer connected after the idle period`);
    console.log(`memory: ${2 * pairs.length} connected PeerConnections (${pairs.length} pairs, ` +
      `one open channel each; the last ${added} pairs set up in ${secs.toFixed(2)} s); ` +
      `VmRSS ${before} -> ${after} KiB: ${per.toFixed(1)} KiB per PeerConnection; ` +
      `idle for ${opt.idle} s: ${pct.toFixed(2)}% of one core`);
    console.log(`RESULT mode=memory pairs=${pairs.length} pcs=${2 * pairs.length} ` +
      `kib_per_pc=${per.toFixed(1)} idle_cpu_pct=${pct.toFixed(3)} idle_s=${opt.idle} ` +
      `rss_before_kib=${before} rss_after_kib=${after} setup_secs=${secs.toFixed(3)}`);
  }
  // Exit without tearing the connections down one by one (the figures are
  // taken; node-datachannel's teardown of that many can crash).
  process.exit(0);
}

if (role === 'server') server();
else if (role === 'memory') memory().catch((e) => die(e.message));
else client();
