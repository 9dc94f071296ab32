'use strict';
// Socket.IO fan-out load generator: N Socket.IO clients in one room, all in this one process.
//
// Two client implementations:
//
// * raw (default): the Engine.IO v4 / Socket.IO v5 protocol spoken directly on raw TCP sockets
//   with a minimal RFC 6455 frame reader (the approach of bench/fanout/loadgen.js, whose frame
//   reader and histogram this reuses). Each client opens /socket.io/?EIO=4&transport=websocket
//   (websocket from the start, no long-polling), answers Engine.IO's OPEN with a Socket.IO
//   CONNECT carrying {"token": ...} (what io(url, {auth: {token}}) sends), then emits
//   `subscribe:device` with an ack and counts as connected when the ack says ok. Deliveries are
//   `42["device:data",...]` frames; the stamp is found in the frame without parsing its JSON.
//   Engine.IO pings ("2") are answered ("3") so nobody is dropped for silence.
// * sio: the real socket.io-client (bench/reference/socketio/node_modules), one Manager per
//   client (forceNew), same handshake and subscription, over --transports (comma-separated;
//   "polling,websocket" is the client's own default: long-polling first, then the upgrade
//   seed 003's dashboards go through, docs/protocols/app-seeds.md#seed-003; "websocket"
//   connects straight). It parses every
//   packet's JSON and goes through its event emitters: a few microseconds per delivery that
//   the raw clients do not spend, so at thousands of clients it measures itself as much as the
//   server. Used to show that both servers serve the real client unchanged, and what it costs.
//
// The same program loads both servers, so its cost is identical for both.
//
// Timeline: connect every client (at most --concurrency handshakes in flight), wait --warmup
// seconds, measure for --seconds, print one JSON result line and exit (closing every socket).
// Progress lines on stdout, one JSON object each: {"event": "connected" | "window_start" |
// "window_end" | "result", ...}; the harness samples the server's CPU and RSS between them.

const crypto = require('crypto');
const net = require('net');
const path = require('path');

function parseArgs(argv) {
  const args = {
    port: 0,
    system: 'sim-rooftop',
    token: 'bench',
    clients: 1000,
    concurrency: 256,
    warmup: 2,
    seconds: 10,
    impl: 'raw',
    transports: 'websocket',
    'connect-timeout': 90,
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
const SEQ = Buffer.from('"seq":');
const SENT = Buffer.from('"sent_us":');
const DATA_EVENT = Buffer.from('42["device:data",');
const PONG_HEADER = Buffer.from([0x8a, 0x80, 0, 0, 0, 0]); // masked with a zero key
// Every raw socket reads into this one buffer (net.connect's onread): no stream, no 'data'
// event and no Buffer allocated per read, a few microseconds per delivery that would otherwise
// make the measuring side the slower one (docs/performance.md, "Load generator").
const READ = Buffer.allocUnsafe(65536);

// Latency histogram: 10 us buckets to 100 ms, then 1 ms buckets to 120 s.
const FINE = 10000;
const COARSE = 120000;
const histogram = new Float64Array(FINE + COARSE + 1);
let measuring = false;
const stats = {
  deliveries: 0, // first receipts of an update on a connection, inside the window
  repeats: 0, // an update a connection already had
  skipped: 0, // updates a connection never saw (seq jumped), inside the window
  otherEvents: 0, // device:status, error, ...
  pings: 0,
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

function recordStamp(conn, seq, sentUs, size) {
  const nowUs = monotonicMicros();
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

// -- raw clients ---------------------------------------------------------------------------

function sendText(conn, text) {
  // A client frame must be masked; a zero key leaves the payload as it is.
  const payload = Buffer.from(text);
  let header;
  if (payload.length < 126) {
    header = Buffer.from([0x81, 0x80 | payload.length, 0, 0, 0, 0]);
  } else {
    header = Buffer.alloc(8);
    header[0] = 0x81;
    header[1] = 0x80 | 126;
    header.writeUInt16BE(payload.length, 2);
  }
  conn.socket.write(Buffer.concat([header, payload]));
}

function startsWith(buf, start, end, prefix) {
  if (end - start < prefix.length) return false;
  return buf.compare(prefix, 0, prefix.length, start, start + prefix.length) === 0;
}

function onPacket(conn, buf, start, end) {
  // Engine.IO packet type is the first character; "4" carries a Socket.IO packet.
  const type = buf[start];
  if (type === 0x34 /* 4: message */) {
    if (startsWith(buf, start, end, DATA_EVENT)) {
      const seqAt = buf.indexOf(SEQ, start);
      const sentAt = buf.indexOf(SENT, start);
      if (seqAt >= 0 && seqAt < end && sentAt >= 0 && sentAt < end) {
        const seq = readNumber(buf, seqAt + SEQ.length, end);
        const sentUs = readNumber(buf, sentAt + SENT.length, end);
        recordStamp(conn, seq, sentUs, end - start);
      } else if (measuring) {
        stats.unparsed += 1;
      }
      return;
    }
    const kind = buf[start + 1];
    if (kind === 0x30 /* 40: connected to the namespace */) {
      sendText(conn, `420["subscribe:device",${JSON.stringify(args.system)}]`);
    } else if (kind === 0x33 /* 43: ack */) {
      const text = buf.toString('utf8', start, Math.min(end, start + 512));
      if (text.includes('"ok":true')) {
        conn.subscribed = true;
        connected += 1;
        open += 1;
        conn.done();
      } else {
        fail(conn, `subscribe refused: ${text.slice(0, 80)}`);
      }
    } else if (kind === 0x34 /* 44: connect error */) {
      fail(conn, `connect_error ${buf.toString('utf8', start + 2, Math.min(end, start + 80))}`);
    } else if (kind === 0x31 /* 41: disconnected by the server */) {
      closeCodes.socketio_disconnect = (closeCodes.socketio_disconnect || 0) + 1;
    } else if (measuring) {
      stats.otherEvents += 1;
    }
  } else if (type === 0x32 /* 2: ping */) {
    stats.pings += 1;
    sendText(conn, '3');
  } else if (type === 0x30 /* 0: open */) {
    sendText(conn, `40${JSON.stringify({ token: args.token })}`);
  } else if (type === 0x31 /* 1: close */) {
    closeCodes.engineio_close = (closeCodes.engineio_close || 0) + 1;
  }
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
    if (b1 & 0x80) header += 4;
    if (total - off < header + len) break;
    const start = off + header;
    const end = start + len;
    const opcode = b0 & 0x0f;
    if (opcode === 1 || opcode === 0) {
      if (len > 0) onPacket(conn, buf, start, end);
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
  if (rest.length) onFrames(conn, rest, 0, rest.length);
}

function fail(conn, reason) {
  if (conn.finished) return;
  failures[reason] = (failures[reason] || 0) + 1;
  failed += 1;
  conn.close();
  conn.done();
}

function connectRaw() {
  return new Promise((resolve) => {
    const key = crypto.randomBytes(16).toString('base64');
    const socket = net.connect({
      host: '127.0.0.1',
      port: Number(args.port),
      onread: { buffer: READ, callback: (n, buf) => (conn.upgraded ? onFrames(conn, buf, 0, n) : handshake(conn, buf, n)) },
    });
    const conn = {
      socket,
      head: null,
      pending: null,
      upgraded: false,
      subscribed: false,
      lastSeq: 0,
      lastSent: 0,
      finished: false,
      close: () => socket.destroy(),
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
        `GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:${args.port}\r\n` +
          `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\n` +
          `Sec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    socket.on('error', (err) => fail(conn, err.code || String(err)));
    socket.on('close', () => {
      if (conn.subscribed) {
        open -= 1;
        if (measuring) stats.closedDuringWindow += 1;
      } else {
        fail(conn, 'closed before subscribed');
      }
    });
  });
}

// -- socket.io-client clients -------------------------------------------------------------

let ioClient = null;

function connectSio() {
  if (ioClient === null) {
    const where = path.join(__dirname, '..', 'reference', 'socketio', 'node_modules', 'socket.io-client');
    ioClient = require(where).io;
  }
  return new Promise((resolve) => {
    const socket = ioClient(`http://127.0.0.1:${args.port}`, {
      transports: args.transports.split(','),
      auth: { token: args.token },
      reconnection: false,
      forceNew: true,
      timeout: Number(args['connect-timeout']) * 1000,
    });
    const conn = {
      subscribed: false,
      lastSeq: 0,
      lastSent: 0,
      finished: false,
      close: () => socket.close(),
    };
    conn.done = () => {
      if (!conn.finished) {
        conn.finished = true;
        resolve();
      }
    };
    socket.on('connect', () => {
      socket.emit('subscribe:device', args.system, (reply) => {
        if (reply && reply.ok) {
          conn.subscribed = true;
          connected += 1;
          open += 1;
          conn.done();
        } else {
          fail(conn, 'subscribe refused');
        }
      });
    });
    socket.on('connect_error', (err) => fail(conn, `connect_error ${err.message}`));
    socket.on('device:data', ({ data }) => {
      const stamp = data && data.bench;
      if (!stamp) {
        if (measuring) stats.unparsed += 1;
        return;
      }
      recordStamp(conn, stamp.seq, stamp.sent_us, 0);
    });
    socket.on('disconnect', (reason) => {
      closeCodes[reason] = (closeCodes[reason] || 0) + 1;
      if (conn.subscribed) {
        open -= 1;
        if (measuring) stats.closedDuringWindow += 1;
      }
    });
  });
}

async function connectAll() {
  const connect = args.impl === 'sio' ? connectSio : connectRaw;
  let next = 0;
  const worker = async () => {
    while (next < N) {
      next += 1;
      await connect();
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
    impl: args.impl,
    transports: args.impl === 'sio' ? args.transports : 'websocket',
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
    other_events: stats.otherEvents,
    pings: stats.pings,
    unparsed: stats.unparsed,
    closed_during_window: stats.closedDuringWindow,
    close_codes: closeCodes,
    frame_bytes: stats.deliveries && stats.frameBytesMax ? [stats.frameBytesMin, stats.frameBytesMax] : null,
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
