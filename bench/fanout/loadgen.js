'use strict';
// Fan-out load generator: N WebSocket clients of one system, on raw TCP sockets.
//
// The same program loads both servers, so its cost is identical for both; it is written
// against `net` with a minimal RFC 6455 frame reader (no `ws` client, no JSON parsing) to keep
// the per-delivery cost of the measuring side low: find the stamp in the frame (see --stamp
// below), note the receipt time, count.
//
// Timeline: connect every client (at most --concurrency handshakes in flight), wait --warmup
// seconds, measure for --seconds, print one JSON result line and exit (closing every socket).
// Progress lines on stdout, one JSON object each: {"event": "connected" | "window_start" |
// "window_end" | "result", ...}; the harness samples the server's CPU and RSS between them.

const crypto = require('crypto');
const net = require('net');

function parseArgs(argv) {
  const args = {
    port: 0,
    path: '/ws/monitoring/sim-rooftop',
    token: 'bench',
    clients: 1000,
    concurrency: 256,
    warmup: 2,
    seconds: 10,
    addresses: '',
    stamp: 'bench',
    targets: '',
    'connect-timeout': 60,
  };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    if (!(key in args)) throw new Error(`unknown option ${argv[i]}`);
    args[key] = argv[i + 1];
  }
  return args;
}

const args = parseArgs(process.argv.slice(2));
const N = Number(args.clients);
// Source addresses to spread clients over (127.0.0.x); by default the kernel picks, which
// reuses ports by 4-tuple and so is not limited to one address's ~28k ephemeral ports.
const addresses = args.addresses ? String(args.addresses).split(',') : [];
// Servers and paths to spread clients over, "port/path,port/path,..." (client i takes entry
// i mod n, bench/fleet); by default every client opens --path on --port.
const targets = args.targets
  ? String(args.targets).split(',').map((t) => {
      const slash = t.indexOf('/');
      return { port: Number(t.slice(0, slash)), path: t.slice(slash) };
    })
  : [{ port: Number(args.port), path: args.path }];
const SEQ = Buffer.from('"seq":');
const SENT = Buffer.from('"sent_us":');
const PONG_HEADER = Buffer.from([0x8a, 0x80, 0, 0, 0, 0]); // masked with a zero key
// Every socket reads into this one buffer (net.connect's onread): no stream, no 'data' event
// and no Buffer allocated per read, a few microseconds per delivery that would otherwise make
// the measuring side the slower one (docs/performance.md, "Load generator").
const READ = Buffer.allocUnsafe(65536);

// Latency histogram: 10 us buckets to 100 ms, then 1 ms buckets to 120 s.
const FINE = 10000;
const COARSE = 120000;
const histogram = new Float64Array(FINE + COARSE + 1);
let measuring = false;
const stats = {
  deliveries: 0, // first receipts of an update on a connection, inside the window
  repeats: 0, // an update a connection already had (periodic re-sends)
  skipped: 0, // updates a connection never saw (seq jumped), inside the window
  bytes: 0,
  frameBytesMin: Infinity,
  frameBytesMax: 0,
  latencySumUs: 0,
  latencyMaxUs: 0,
  unparsed: 0,
  closedDuringWindow: 0,
};
const closeCodes = {};
let connected = 0;
let failed = 0;
let open = 0;
const failures = {};

function monotonicMicros() {
  return Number(process.hrtime.bigint() / 1000n);
}

function emit(event, extra) {
  process.stdout.write(JSON.stringify({ event, t_us: monotonicMicros(), ...extra }) + '\n');
}

function readNumber(buf, from, end) {
  let value = 0;
  for (let i = from; i < end; i++) {
    const c = buf[i];
    if (c < 48 || c > 57) break;
    value = value * 10 + (c - 48);
  }
  return value;
}

// --stamp bench: the servers' ticker stamp, {"seq": n, "sent_us": CLOCK_MONOTONIC us}.
// --stamp last_updated: a document built from Home Assistant, stamped by HA itself: its
// "last_updated" (the newest state's time, wall clock, ISO with milliseconds), compared with
// this process's wall clock. Each distinct stamp is parsed once and cached: every client
// receives the same one.
const ISO = Buffer.from('"last_updated":"');
let isoCache = null;
let isoCacheUs = 0;

function wallMicros() {
  return (performance.timeOrigin + performance.now()) * 1000;
}

function isoStamp(buf, start, end) {
  const at = buf.indexOf(ISO, start);
  if (at < 0 || at >= end) return -1;
  const from = at + ISO.length;
  const to = buf.indexOf(34, from); // the closing quote
  if (to < 0 || to > end) return -1;
  if (isoCache === null || to - from !== isoCache.length || buf.compare(isoCache, 0, isoCache.length, from, to) !== 0) {
    isoCache = Buffer.from(buf.subarray(from, to));
    isoCacheUs = Date.parse(isoCache.toString('latin1')) * 1000;
  }
  return isoCacheUs;
}

function record(conn, buf, start, end) {
  let nowUs;
  let sentUs;
  let seq = 0;
  if (args.stamp === 'last_updated') {
    nowUs = wallMicros();
    sentUs = isoStamp(buf, start, end);
  } else {
    nowUs = monotonicMicros();
    const seqAt = buf.indexOf(SEQ, start);
    const sentAt = buf.indexOf(SENT, start);
    if (seqAt >= 0 && seqAt < end && sentAt >= 0 && sentAt < end) {
      seq = readNumber(buf, seqAt + SEQ.length, end);
      sentUs = readNumber(buf, sentAt + SENT.length, end);
    } else {
      sentUs = -1;
    }
  }
  if (sentUs < 0 || Number.isNaN(sentUs)) {
    stats.unparsed += 1;
    return;
  }
  // Stamps only grow: an older or equal one is a repeat (the every-5-s re-send).
  if (sentUs <= conn.lastSent) {
    if (measuring) stats.repeats += 1;
    return;
  }
  const gap = conn.lastSeq > 0 && seq > 0 ? seq - conn.lastSeq - 1 : 0;
  conn.lastSent = sentUs;
  conn.lastSeq = seq;
  if (!measuring) return;
  stats.skipped += gap;
  const latency = nowUs - sentUs;
  stats.deliveries += 1;
  const size = end - start;
  stats.bytes += size;
  if (size < stats.frameBytesMin) stats.frameBytesMin = size;
  if (size > stats.frameBytesMax) stats.frameBytesMax = size;
  stats.latencySumUs += latency;
  if (latency > stats.latencyMaxUs) stats.latencyMaxUs = latency;
  const bucket =
    latency < 100000
      ? Math.floor(Math.max(latency, 0) / 10)
      : Math.min(FINE + Math.floor((latency - 100000) / 1000), FINE + COARSE);
  histogram[bucket] += 1;
}

function percentileMs(p) {
  const total = stats.deliveries;
  if (!total) return null;
  const rank = Math.ceil((p / 100) * total);
  let seen = 0;
  for (let b = 0; b < histogram.length; b++) {
    seen += histogram[b];
    if (seen >= rank) {
      const us = b < FINE ? (b + 1) * 10 : 100000 + (b - FINE + 1) * 1000;
      return us / 1000;
    }
  }
  return null;
}

// Frames in buf[from, total). buf may be the shared read buffer (see READ below): whatever is
// kept past this call is copied out.
function onFrames(conn, chunk, from, total) {
  let buf = chunk;
  let off = from;
  if (conn.pending !== null) {
    buf = Buffer.concat([conn.pending, chunk.subarray(from, total)]);
    conn.pending = null;
    off = 0;
    total = buf.length;
  }
  while (total - off >= 2) {
    const b0 = buf[off];
    const b1 = buf[off + 1];
    let len = b1 & 0x7f;
    let header = 2;
    if (len === 126) {
      if (total - off < 4) break;
      len = buf.readUInt16BE(off + 2);
      header = 4;
    } else if (len === 127) {
      if (total - off < 10) break;
      len = Number(buf.readBigUInt64BE(off + 2));
      header = 10;
    }
    if (b1 & 0x80) header += 4; // a masked server frame is a protocol error; skip the key
    if (total - off < header + len) break;
    const start = off + header;
    const end = start + len;
    const opcode = b0 & 0x0f;
    if (opcode === 1 || opcode === 2 || opcode === 0) {
      record(conn, buf, start, end);
    } else if (opcode === 9) {
      const payload = buf.subarray(start, end);
      const pong = Buffer.from(PONG_HEADER);
      pong[1] = 0x80 | payload.length;
      conn.socket.write(Buffer.concat([pong, payload]));
    } else if (opcode === 8) {
      const code = len >= 2 ? buf.readUInt16BE(start) : 1005;
      closeCodes[code] = (closeCodes[code] || 0) + 1;
    }
    off = end;
  }
  if (off < total) conn.pending = Buffer.from(buf.subarray(off, total));
}

function handshake(conn, chunk, total) {
  const bytes = chunk.subarray(0, total);
  conn.head = conn.head === null ? Buffer.from(bytes) : Buffer.concat([conn.head, bytes]);
  const end = conn.head.indexOf('\r\n\r\n');
  if (end < 0) return;
  const status = conn.head.toString('latin1', 0, 12);
  const rest = conn.head.subarray(end + 4);
  conn.head = null;
  if (status !== 'HTTP/1.1 101') {
    fail(conn, `http ${status.slice(9, 12)}`);
    return;
  }
  conn.upgraded = true;
  connected += 1;
  open += 1;
  conn.done();
  if (rest.length) onFrames(conn, rest, 0, rest.length);
}

function fail(conn, reason) {
  if (conn.finished) return;
  failures[reason] = (failures[reason] || 0) + 1;
  failed += 1;
  conn.socket.destroy();
  conn.done();
}

function connect(index) {
  return new Promise((resolve) => {
    const key = crypto.randomBytes(16).toString('base64');
    const target = targets[index % targets.length];
    const options = { host: '127.0.0.1', port: target.port };
    if (addresses.length) options.localAddress = addresses[index % addresses.length];
    options.onread = {
      buffer: READ,
      callback: (n, buf) => (conn.upgraded ? onFrames(conn, buf, 0, n) : handshake(conn, buf, n)),
    };
    const socket = net.connect(options);
    const conn = {
      socket,
      head: null,
      pending: null,
      upgraded: false,
      lastSeq: 0,
      lastSent: 0,
      finished: false,
    };
    conn.done = () => {
      if (!conn.finished) {
        conn.finished = true;
        resolve();
      }
    };
    socket.setNoDelay(true);
    socket.on('connect', () => {
      socket.write(
        `GET ${target.path} HTTP/1.1\r\nHost: 127.0.0.1:${target.port}\r\nUpgrade: websocket\r\n` +
          `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
          `Authorization: Bearer ${args.token}\r\n\r\n`,
      );
    });
    socket.on('error', (err) => fail(conn, err.code || String(err)));
    socket.on('close', () => {
      if (conn.upgraded) {
        open -= 1;
        if (measuring) stats.closedDuringWindow += 1;
      } else {
        fail(conn, 'closed before upgrade');
      }
    });
  });
}

async function connectAll() {
  let next = 0;
  const worker = async () => {
    while (next < N) {
      const index = next++;
      await connect(index);
    }
  };
  const workers = [];
  for (let i = 0; i < Math.min(Number(args.concurrency), N); i++) workers.push(worker());
  await Promise.race([
    Promise.all(workers),
    new Promise((resolve) => setTimeout(resolve, Number(args['connect-timeout']) * 1000)),
  ]);
}

function sleep(seconds) {
  return new Promise((resolve) => setTimeout(resolve, seconds * 1000));
}

async function main() {
  const t0 = monotonicMicros();
  await connectAll();
  emit('connected', { connected, failed, open, seconds: (monotonicMicros() - t0) / 1e6, failures });
  await sleep(Number(args.warmup));
  const cpu0 = process.cpuUsage();
  const start = monotonicMicros();
  measuring = true;
  emit('window_start', { open });
  await sleep(Number(args.seconds));
  measuring = false;
  const seconds = (monotonicMicros() - start) / 1e6;
  const cpu = process.cpuUsage(cpu0);
  emit('window_end', { open });
  emit('result', {
    clients: N,
    connected,
    failed,
    failures,
    open,
    seconds,
    deliveries: stats.deliveries,
    deliveries_per_s: stats.deliveries / seconds,
    repeats: stats.repeats,
    skipped: stats.skipped,
    unparsed: stats.unparsed,
    closed_during_window: stats.closedDuringWindow,
    close_codes: closeCodes,
    frame_bytes: stats.deliveries ? [stats.frameBytesMin, stats.frameBytesMax] : null,
    latency_ms: {
      mean: stats.deliveries ? stats.latencySumUs / stats.deliveries / 1000 : null,
      p50: percentileMs(50),
      p90: percentileMs(90),
      p99: percentileMs(99),
      max: stats.latencyMaxUs / 1000,
    },
    loadgen_cpu_s: (cpu.user + cpu.system) / 1e6,
  });
  process.exit(0);
}

main().catch((err) => {
  process.stderr.write(`${err.stack || err}\n`);
  process.exit(1);
});
